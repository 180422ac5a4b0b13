package embed

import "context"

// Embedder turns texts into vectors of Dims() float32s, one per text, each of unit length (or
// all zero for a text with no words). Implementations are safe for concurrent use.
type Embedder interface {
	// Name identifies the model and its version, to be stored beside each vector: vectors are
	// comparable only when their Names (and Dims) are equal. For example "offline-hash-v1/384",
	// "ollama/nomic-embed-text", "openai/text-embedding-3-small".
	Name() string
	// Dims is the length of every vector Embed returns.
	Dims() int
	// Embed returns one vector per text, in the order of texts. An empty texts gives an empty
	// result. It stops early, with an error wrapping ctx.Err(), when ctx is done.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}
