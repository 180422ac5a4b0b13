package embed_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
)

func embedOne(t testing.TB, e embed.Embedder, text string) []float32 {
	t.Helper()
	vecs, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return vecs[0]
}

func TestOfflineNameAndDims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dims, want int
		name       string
	}{
		{0, 384, "lexical-hash-v1/384"},
		{16, 16, "lexical-hash-v1/16"},
		{384, 384, "lexical-hash-v1/384"},
		{4096, 4096, "lexical-hash-v1/4096"},
	} {
		e := embed.NewLexical(tc.dims)
		if e.Name() != tc.name || e.Dims() != tc.want {
			t.Errorf("NewLexical(%d): Name %q, Dims %d; want %q, %d", tc.dims, e.Name(), e.Dims(), tc.name, tc.want)
		}
	}
}

func TestOfflineDimsValidation(t *testing.T) {
	t.Parallel()
	for _, dims := range []int{-1, 1, 15, 4097, 1 << 20} {
		func() {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, embed.ErrInvalidConfig) {
					t.Errorf("NewLexical(%d) panicked with %v, want ErrInvalidConfig", dims, err)
				}
			}()
			embed.NewLexical(dims)
			t.Errorf("NewLexical(%d) did not panic", dims)
		}()
	}
}

// TestOfflineGolden pins the scheme: the same text must give the same bytes on every run, machine
// and Go release. If this fails after a deliberate change to the scheme, bump the version in the
// name ("lexical-hash-v2") — stored vectors are no longer comparable — and update the sums.
func TestOfflineGolden(t *testing.T) {
	t.Parallel()
	const text = "The workers rotated 3 database credentials; rotating credentials is scheduled nightly."
	for dims, want := range map[int]uint64{
		16:   0xaed7b57d8a9f40e2,
		384:  0xec8bbcafe7b0d289,
		1000: 0xe9ea0df1d9c2abc9,
	} {
		h := fnv.New64a()
		h.Write(embed.Encode(embedOne(t, embed.NewLexical(dims), text)))
		if got := h.Sum64(); got != want {
			t.Errorf("dims %d: FNV-1a of the encoded vector is %#x, want %#x", dims, got, want)
		}
	}
}

func TestOfflineDeterministic(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("semantic search over a knowledge base of runbooks ", 20)
	a, b := embedOne(t, embed.NewLexical(0), text), embedOne(t, embed.NewLexical(0), text)
	if !equal(a, b) {
		t.Fatal("two lexical embedders disagree")
	}
}

func TestOfflineSimilarity(t *testing.T) {
	t.Parallel()
	e := embed.NewLexical(0)
	for _, tc := range []struct{ a, related, unrelated string }{
		{
			"How do I rotate the database credentials?",
			"Database credential rotation runs every night.",
			"The quarterly report shows revenue growth in Europe.",
		},
		{
			"The cat sat on the mat.",
			"A cat was sitting on a mat.",
			"Kubernetes pods restart after an OOM kill.",
		},
		{
			"Embedding vectors are stored in PostgreSQL as bytea.",
			"PostgreSQL stores the embedded vectors.",
			"Lunch is served at noon in the cafeteria.",
		},
	} {
		a, rel, unrel := embedOne(t, e, tc.a), embedOne(t, e, tc.related), embedOne(t, e, tc.unrelated)
		if r, u := embed.Cosine(a, rel), embed.Cosine(a, unrel); r <= u || r < 0.2 {
			t.Errorf("%q: related %.3f, unrelated %.3f", tc.a, r, u)
		}
		if s := embed.Cosine(a, a); s < 0.99999 || s > 1 {
			t.Errorf("%q against itself: %v, want 1", tc.a, s)
		}
	}
}

func TestOfflineNoWords(t *testing.T) {
	t.Parallel()
	e := embed.NewLexical(0)
	other := embedOne(t, e, "database credentials")
	for _, text := range []string{"", "   ", "?!…—", "the of and to", "It is what it is."} {
		v := embedOne(t, e, text)
		if norm(v) != 0 {
			t.Errorf("%q: norm %v, want a zero vector", text, norm(v))
		}
		if c := embed.Cosine(v, other); c != 0 {
			t.Errorf("%q: cosine with a word vector %v, want 0", text, c)
		}
	}
}

func TestOfflineBigramsAddOrder(t *testing.T) {
	t.Parallel()
	e := embed.NewLexical(0)
	a, b := embedOne(t, e, "dog bites man"), embedOne(t, e, "man bites dog")
	if c := embed.Cosine(a, b); c >= 0.99 || c < 0.4 {
		t.Errorf("same words, different order: cosine %.3f, want clearly below 1 but well above 0", c)
	}
}

// benchDocs returns n pseudo-random documents of about 200 words, with a skewed (Zipf-like) word
// distribution and some punctuation, seeded so that every run embeds the same text.
func benchDocs(n int) []string {
	vocab := strings.Fields(`the of and to a in is that for it as with was on be by this are
		from at or an have not but which were all when their there can has more one will would
		database credentials rotation worker queue stream consumer message delivery retry backoff
		knowledge search embedding vector index query document section heading runbook incident
		service deploy cluster node pod container image registry secret token certificate expiry
		schedule nightly weekly report revenue growth customer account workspace tenant policy
		rotating rotated deployments indexed searching queries policies matches classes running
		PostgreSQL NATS JetStream OpenBao Transit Kubernetes Ollama OpenAI HTTP TLS API JSON 2024 42`)
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 2, uint64(len(vocab)-1))
	docs := make([]string, n)
	var sb strings.Builder
	for i := range docs {
		sb.Reset()
		for w := range 200 {
			if w > 0 {
				sb.WriteString([]string{" ", " ", " ", ", ", ". "}[r.IntN(5)])
			}
			sb.WriteString(vocab[z.Uint64()])
		}
		docs[i] = sb.String()
	}
	return docs
}

func BenchmarkOffline(b *testing.B) {
	for _, dims := range []int{384, 1024} {
		b.Run(fmt.Sprintf("dims=%d", dims), func(b *testing.B) {
			const batch = 64
			docs := benchDocs(batch)
			var bytes int
			for _, d := range docs {
				bytes += len(d)
			}
			e := embed.NewLexical(dims)
			ctx := context.Background()
			b.SetBytes(int64(bytes))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Embed(ctx, docs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/doc")
		})
	}
}

func BenchmarkOfflineParallel(b *testing.B) {
	const batch = 64
	docs := benchDocs(batch)
	e := embed.NewLexical(0)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Embed(ctx, docs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "docs/s")
}
