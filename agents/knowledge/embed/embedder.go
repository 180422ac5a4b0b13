package embed

import "context"

// Embedder turns texts into vectors of Dims() float32s, one per text, each of unit length (or
// all zero for a text with no words). Implementations are safe for concurrent use.
type Embedder interface {
	// Name identifies the model and its version, to be stored beside each vector: vectors are
	// comparable only when their Names (and Dims) are equal. For example "lexical-hash-v1/384",
	// "ollama/nomic-embed-text", "openai/text-embedding-3-small".
	Name() string
	// Dims is the length of every vector Embed returns.
	Dims() int
	// Embed returns one vector per text, in the order of texts. An empty texts gives an empty
	// result. It stops early, with an error wrapping ctx.Err(), when ctx is done.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Floors of semantic search: the least cosine similarity to the query that makes an entry a hit.
const (
	// LexicalMinSimilarity suits the lexical embedder, whose hits must also share a word with the
	// query (the knowledge service asks PostgreSQL): hash collisions alone can score 0.3 and more
	// (a query word in the bucket of an entry's most frequent word), so similarity cannot tell a
	// collision from a match, and the shared word does. The floor then only drops entries whose
	// shared word is a small part of them.
	LexicalMinSimilarity = 0.1
	// HTTPMinSimilarity is the default for a model served over HTTP. Models differ: unrelated
	// texts score near 0.1 with some and near 0.4 with others. Tune it per model: search for
	// something that no entry is about, and set the floor above the best score.
	HTTPMinSimilarity = 0.35
)

// DefaultMinSimilarity is the floor that suits e when none is configured.
func DefaultMinSimilarity(e Embedder) float64 {
	if IsLexical(e) {
		return LexicalMinSimilarity
	}
	return HTTPMinSimilarity
}

// IsLexical reports whether e is the built-in lexical embedder, which matches words, not meaning.
func IsLexical(e Embedder) bool {
	_, ok := e.(*lexical)
	return ok
}
