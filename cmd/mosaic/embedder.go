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
}

func (f *embedderFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "embedder", "offline", "offline (built in: word overlap, no model), ollama or openai (an OpenAI-compatible /v1/embeddings server)")
	fl.StringVar(&f.url, "embedder-url", "", "base URL of the embedding server (ollama: http://127.0.0.1:11434)")
	fl.StringVar(&f.model, "embedder-model", "", "model name (ollama, openai)")
	fl.IntVar(&f.dims, "embedder-dims", 0, "vector dimensions (offline: default 384; ollama, openai: required)")
	fl.DurationVar(&f.timeout, "embedder-timeout", 30*time.Second, "timeout of one embedding request")
	fl.IntVar(&f.batch, "embedder-batch", 32, "texts per embedding request")
	fl.StringVar(&f.apiKey, "embedder-api-key", "", "bearer token of the embedding server (prefer MOSAIC_EMBEDDER_API_KEY)")
}

func (f *embedderFlags) validate() error {
	_, err := f.open()
	return err
}

func (f *embedderFlags) open() (embed.Embedder, error) {
	switch f.kind {
	case "offline":
		if f.dims != 0 && (f.dims < 16 || f.dims > 4096) {
			return nil, fmt.Errorf("%s: %d is not 16…4096", setting("embedder-dims"), f.dims)
		}
		return embed.NewOffline(f.dims), nil
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
	return nil, fmt.Errorf("%s: %q is not offline, ollama or openai", setting("embedder"), f.kind)
}
