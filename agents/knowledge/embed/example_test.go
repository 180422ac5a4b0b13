package embed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
)

func ExampleNewLexical() {
	e := embed.NewLexical(0)
	vecs, err := e.Embed(context.Background(), []string{
		"How do I rotate the database credentials?",
		"Database credential rotation runs every night.",
		"The quarterly report shows revenue growth in Europe.",
		"the of and", // stop words only
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Name(), e.Dims())
	fmt.Println("related beats unrelated:", embed.Cosine(vecs[0], vecs[1]) > embed.Cosine(vecs[0], vecs[2]))
	fmt.Printf("against itself: %.3f\n", embed.Cosine(vecs[0], vecs[0]))
	fmt.Printf("no words: %.3f\n", embed.Cosine(vecs[0], vecs[3]))
	// Output:
	// lexical-hash-v1/384 384
	// related beats unrelated: true
	// against itself: 1.000
	// no words: 0.000
}

func ExampleNewHTTP() {
	// A stand-in for Ollama: every text gets the same 3-dimensional, unnormalised vector.
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Input []string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		out := make([][]float32, len(req.Input))
		for i := range out {
			out[i] = []float32{3, 0, 4}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": "nomic-embed-text", "embeddings": out})
	}))
	defer ollama.Close()

	e, err := embed.NewHTTP(embed.HTTPConfig{
		URL:   ollama.URL, // e.g. http://127.0.0.1:11434
		API:   embed.APIOllama,
		Model: "nomic-embed-text",
		Dims:  3,
	})
	if err != nil {
		panic(err)
	}
	vecs, err := e.Embed(context.Background(), []string{"rotate the credentials", ""})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Name(), vecs[0], vecs[1])
	// Output: ollama/nomic-embed-text [0.6 0 0.8] [0 0 0]
}

func ExampleEncode() {
	b := embed.Encode([]float32{0.6, 0, -0.8})
	v, err := embed.Decode(b)
	fmt.Println(len(b), v, err)
	_, err = embed.Decode(b[:5])
	fmt.Println(err)
	// Output:
	// 12 [0.6 0 -0.8] <nil>
	// invalid encoded vector: 5 bytes is not a whole number of float32s
}
