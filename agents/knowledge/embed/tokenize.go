package embed

import (
	"unicode"
	"unicode/utf8"
)

// The lexical embedder's text analysis: tokens, stop words and suffix stripping. Any change to
// what these functions return changes vectors, and must come with a new lexical version in Name.

// asciiWord maps an ASCII byte to its lower-case form when it is a letter or digit, and to 0
// otherwise.
var asciiWord = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()

// tokenizer splits text into lower-cased tokens: maximal runs of Unicode letters and digits,
// plus combining marks inside a run (so that words in scripts such as Devanagari, whose vowel
// signs are marks, are not cut apart). Everything else separates tokens. Lower-casing is
// unicode.ToLower, rune by rune; there is no Unicode normalisation.
type tokenizer struct {
	text string
	pos  int
	buf  []byte
}

// next returns the next token, valid until the following call, or nil at the end of the text.
func (t *tokenizer) next() []byte {
	t.buf = t.buf[:0]
	for t.pos < len(t.text) {
		c := t.text[t.pos]
		if c < utf8.RuneSelf {
			t.pos++
			if l := asciiWord[c]; l != 0 {
				t.buf = append(t.buf, l)
			} else if len(t.buf) > 0 {
				return t.buf
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(t.text[t.pos:])
		t.pos += size
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			t.buf = utf8.AppendRune(t.buf, unicode.ToLower(r))
		case len(t.buf) > 0 && unicode.IsMark(r):
			t.buf = utf8.AppendRune(t.buf, r)
		case len(t.buf) > 0:
			return t.buf
		}
	}
	if len(t.buf) > 0 {
		return t.buf
	}
	return nil
}

// hasWord reports whether text holds at least one token.
func hasWord(text string) bool {
	for _, r := range text {
		if r < utf8.RuneSelf {
			if asciiWord[r] != 0 {
				return true
			}
		} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// stopWords are frequent English function words, dropped before hashing. The list is short on
// purpose: negations ("no", "not") and words that double as names ("us") stay features. Only
// exact, lower-cased tokens match, before suffix stripping.
var stopWords = []string{
	"a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at",
	"be", "because", "been", "being", "but", "by", "can", "could", "did", "do", "does",
	"for", "from", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i",
	"if", "in", "into", "is", "it", "its", "just", "me", "more", "most", "my", "of", "on",
	"or", "our", "she", "should", "so", "some", "such", "than", "that", "the", "their",
	"them", "then", "there", "these", "they", "this", "those", "to", "too", "was", "we",
	"were", "what", "when", "where", "which", "while", "why", "will", "with", "would",
	"you", "your",
}

// maxStopWordLen bounds the lookup: longer tokens are never stop words.
const maxStopWordLen = 7

// stopTable holds stopWords in an open-addressed table keyed by FNV-1a (a map lookup cost a
// third of the embedder's time).
var stopTable = func() (t [256]string) {
	for _, w := range stopWords {
		i := fnvAdd(fnvOffset, []byte(w)) % uint64(len(t))
		for t[i] != "" {
			i = (i + 1) % uint64(len(t))
		}
		t[i] = w
	}
	return t
}()

func isStopWord(tok []byte) bool {
	if len(tok) > maxStopWordLen {
		return false
	}
	for i := fnvAdd(fnvOffset, tok) % uint64(len(stopTable)); stopTable[i] != ""; i = (i + 1) % uint64(len(stopTable)) {
		if stopTable[i] == string(tok) {
			return true
		}
	}
	return false
}

// stem strips at most one English suffix, conservatively: it would rather leave two forms of a
// word apart than merge two different words. It returns a prefix of tok, or tok with its last
// bytes rewritten in place. The rules, tried in this order, lengths in bytes:
//
//	-ies  → -y   when the token has ≥ 5 bytes        queries → query, policies → policy
//	-sses, -ches, -shes, -xes → drop "es" (≥ 5)      classes → class, matches → match, boxes → box
//	-s    → drop when ≥ 4 and not -ss, -us, -is      tests → test (class, status, analysis kept)
//	-ing  → drop when ≥ 7 (a stem of ≥ 4)            testing → test, running → run (string kept)
//	-ed   → drop when ≥ 6 and not -eed               indexed → index, embedded → embed (speed kept)
//
// After -ing or -ed, a doubled final consonant other than l, s or z is undoubled (runn → run,
// stopp → stop; call, pass, buzz kept). There is no handling of a silent e (create, created and
// creating give create, creat, creat), of irregular forms, or of any language but English.
func stem(tok []byte) []byte {
	n := len(tok)
	switch {
	case n >= 5 && hasSuffix(tok, "ies"):
		tok[n-3] = 'y'
		return tok[:n-2]
	case n >= 5 && (hasSuffix(tok, "sses") || hasSuffix(tok, "ches") || hasSuffix(tok, "shes") || hasSuffix(tok, "xes")):
		return tok[:n-2]
	case n >= 4 && tok[n-1] == 's' && !hasSuffix(tok, "ss") && !hasSuffix(tok, "us") && !hasSuffix(tok, "is"):
		return tok[:n-1]
	case n >= 7 && hasSuffix(tok, "ing"):
		return undouble(tok[:n-3])
	case n >= 6 && hasSuffix(tok, "ed") && !hasSuffix(tok, "eed"):
		return undouble(tok[:n-2])
	}
	return tok
}

func hasSuffix(tok []byte, s string) bool {
	return len(tok) >= len(s) && string(tok[len(tok)-len(s):]) == s
}

func undouble(tok []byte) []byte {
	n := len(tok)
	if n >= 3 && tok[n-1] == tok[n-2] {
		switch c := tok[n-1]; c {
		case 'a', 'e', 'i', 'o', 'u', 'l', 's', 'z':
		default:
			if c >= 'b' && c <= 'z' {
				return tok[:n-1]
			}
		}
	}
	return tok
}
