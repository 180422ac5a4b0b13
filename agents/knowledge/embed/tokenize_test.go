package embed

import (
	"hash/fnv"
	"slices"
	"testing"
)

func tokens(text string) []string {
	var out []string
	t := tokenizer{text: text}
	for tok := t.next(); tok != nil; tok = t.next() {
		if !isStopWord(tok) {
			out = append(out, string(stem(tok)))
		}
	}
	return out
}

func TestTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"  ...  ", nil},
		{"The cat and the hat", []string{"cat", "hat"}},
		{"Rotating API-keys: don't!", []string{"rotat", "api", "key", "don", "t"}},
		{"Queries, policies; classes/matches/boxes", []string{"query", "policy", "class", "match", "box"}},
		{"tests status analysis class news", []string{"test", "status", "analysis", "class", "new"}},
		{"testing running string thing", []string{"test", "run", "string", "thing"}},
		{"indexed embedded stopped called passed speed used embed", []string{"index", "embed", "stop", "call", "pass", "speed", "used", "embed"}},
		{"HTTP2 over TLS1.3 in 2024", []string{"http2", "over", "tls1", "3", "2024"}},
		{"ÉCOLE Straße Ωμέγα", []string{"école", "straße", "ωμέγα"}},
		{"नमस्ते दुनिया", []string{"नमस्ते", "दुनिया"}}, // vowel signs are marks: words stay whole
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"no not us", []string{"no", "not", "us"}},
		{"a\x00b\xffc", []string{"b", "c"}},
	} {
		if got := tokens(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestHasWord(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"": false, "  \n\t": false, "!?-…": false, "the": true, "7": true, "é": true, "日": true,
	} {
		if got := hasWord(text); got != want {
			t.Errorf("hasWord(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestFeatureHash checks the incremental hashing against hash/fnv: a unigram is FNV-1a 64 of the
// token, a bigram of the first token, a 0 byte and the second.
func TestFeatureHash(t *testing.T) {
	t.Parallel()
	sum := func(s string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s))
		return h.Sum64()
	}
	if got, want := fnvAdd(fnvOffset, []byte("rotat")), sum("rotat"); got != want {
		t.Errorf("unigram hash %#x, want %#x", got, want)
	}
	prev := fnvAdd(fnvOffset, []byte("database"))
	if got, want := fnvAdd(prev*fnvPrime, []byte("credential")), sum("database\x00credential"); got != want {
		t.Errorf("bigram hash %#x, want %#x", got, want)
	}
}

func TestStopWords(t *testing.T) {
	t.Parallel()
	for _, w := range stopWords {
		if len(w) > maxStopWordLen || !isStopWord([]byte(w)) {
			t.Errorf("%q is not found as a stop word", w)
		}
	}
	for _, w := range []string{"", "x", "cat", "thee", "tha", "not", "because1", "database"} {
		if isStopWord([]byte(w)) {
			t.Errorf("%q is taken for a stop word", w)
		}
	}
}
