package embed_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
)

// The contract every Embedder keeps, run against the lexical embedder and the HTTP embedder
// talking to faithful fakes of Ollama and of an OpenAI-compatible server.

type implementation struct {
	name string
	new  func(t *testing.T) embed.Embedder
}

func implementations() []implementation {
	return []implementation{
		{"lexical", func(t *testing.T) embed.Embedder { return embed.NewLexical(0) }},
		{"lexical-16", func(t *testing.T) embed.Embedder { return embed.NewLexical(16) }},
		{"http-ollama", func(t *testing.T) embed.Embedder {
			_, e := newFakeEmbedder(t, embed.APIOllama, fakeOptions{}, embed.HTTPConfig{BatchSize: 3})
			return e
		}},
		{"http-openai", func(t *testing.T) embed.Embedder {
			_, e := newFakeEmbedder(t, embed.APIOpenAI, fakeOptions{}, embed.HTTPConfig{Dims: 64, BatchSize: 3})
			return e
		}},
	}
}

func TestEmbedderContract(t *testing.T) {
	t.Parallel()
	for _, impl := range implementations() {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			runContract(t, impl.new(t))
		})
	}
}

var contractTexts = []string{
	"Rotate the database credentials every ninety days.",
	"",
	"The quarterly report shows revenue growth in Europe.",
	"   \n\t ",
	"Credential rotation for the database runs on a schedule.",
	"!!! ??? …",
	"Straße, École, Ωμέγα, 日本語のテキスト, नमस्ते दुनिया",
	"a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9",
}

func runContract(t *testing.T, e embed.Embedder) {
	ctx := context.Background()
	if e.Name() == "" || e.Dims() <= 0 {
		t.Fatalf("Name %q, Dims %d", e.Name(), e.Dims())
	}

	t.Run("empty input", func(t *testing.T) {
		for _, in := range [][]string{nil, {}} {
			vecs, err := e.Embed(ctx, in)
			if err != nil || len(vecs) != 0 {
				t.Fatalf("Embed(%v) = %d vectors, %v; want 0, nil", in, len(vecs), err)
			}
		}
	})

	vecs, err := e.Embed(ctx, contractTexts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(vecs) != len(contractTexts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(contractTexts))
	}

	t.Run("unit or zero", func(t *testing.T) {
		for i, v := range vecs {
			if len(v) != e.Dims() {
				t.Fatalf("vector %d has %d dimensions, want %d", i, len(v), e.Dims())
			}
			n := norm(v)
			wordless := i == 1 || i == 3 || i == 5
			switch {
			case wordless && n != 0:
				t.Errorf("text %q has no words but norm %v", contractTexts[i], n)
			case !wordless && math.Abs(n-1) > 1e-5:
				t.Errorf("text %q: norm %v, want 1", contractTexts[i], n)
			}
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		again, err := e.Embed(ctx, contractTexts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range vecs {
			if !equal(vecs[i], again[i]) {
				t.Errorf("text %d: a second call gave a different vector", i)
			}
		}
	})

	t.Run("input order", func(t *testing.T) {
		for i, text := range contractTexts {
			one, err := e.Embed(ctx, []string{text})
			if err != nil {
				t.Fatal(err)
			}
			if !equal(one[0], vecs[i]) {
				t.Errorf("text %d embedded alone differs from its place in the batch", i)
			}
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				got, err := e.Embed(ctx, contractTexts)
				if err == nil {
					for i := range got {
						if !equal(got[i], vecs[i]) {
							err = errors.New("concurrent call gave a different vector")
						}
					}
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.Embed(cctx, contractTexts); !errors.Is(err, context.Canceled) {
			t.Fatalf("Embed with a cancelled context: %v, want context.Canceled", err)
		}
	})
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
