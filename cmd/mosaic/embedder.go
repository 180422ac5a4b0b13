package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/crypto"
)

// embedderFlags choose how knowledge entries are embedded for semantic search. The API (for
// queries) and the workers (for entries) must use the same embedder.
type embedderFlags struct {
	kind    string
	url     string
	model   string
	dims    int
	timeout time.Duration
	batch   int
	apiKey  string
	floor   float64
}

func (f *embedderFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "embedder", "lexical", "lexical (built in: hashes words, so it matches shared words, not meaning; no model), ollama or openai (an OpenAI-compatible /v1/embeddings server)")
	fl.StringVar(&f.url, "embedder-url", "", "base URL of the embedding server (ollama: http://127.0.0.1:11434)")
	fl.StringVar(&f.model, "embedder-model", "", "model name (ollama, openai)")
	fl.IntVar(&f.dims, "embedder-dims", 0, "vector dimensions (lexical: default 384; ollama, openai: required)")
	fl.DurationVar(&f.timeout, "embedder-timeout", 30*time.Second, "timeout of one embedding request")
	fl.IntVar(&f.batch, "embedder-batch", 32, "texts per embedding request")
	fl.StringVar(&f.apiKey, "embedder-api-key", "", "bearer token of the embedding server (prefer MOSAIC_EMBEDDER_API_KEY)")
	fl.Float64Var(&f.floor, "semantic-floor", 0, "least cosine similarity of a semantic search hit, 0…1 (0: the embedder's default, lexical 0.1, with a shared word; ollama and openai 0.35; tune it per model)")
}

func (f *embedderFlags) validate() error {
	if f.floor < 0 || f.floor >= 1 {
		return fmt.Errorf("%s: %v is not 0…1 (0: the embedder's default)", setting("semantic-floor"), f.floor)
	}
	_, err := f.open()
	return err
}

func (f *embedderFlags) open() (embed.Embedder, error) {
	switch f.kind {
	case "lexical", "offline": // offline: the name before 2026-12
		if f.dims != 0 && (f.dims < 16 || f.dims > 4096) {
			return nil, fmt.Errorf("%s: %d is not 16…4096", setting("embedder-dims"), f.dims)
		}
		return embed.NewLexical(f.dims), nil
	case "ollama", "openai":
		cfg := embed.HTTPConfig{URL: f.url, API: f.kind, Model: f.model, Dims: f.dims, Timeout: f.timeout, BatchSize: f.batch}
		if f.apiKey != "" {
			cfg.APIKey = crypto.NewSecret([]byte(f.apiKey))
		}
		e, err := embed.NewHTTP(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", setting("embedder"), f.kind, err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("%s: %q is not lexical, ollama or openai", setting("embedder"), f.kind)
}
