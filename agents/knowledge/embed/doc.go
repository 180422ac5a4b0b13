// Package embed turns texts into vectors for a knowledge base's semantic search, behind one
// interface, Embedder, with two kinds of implementation:
//
//   - NewLexical, the built-in default: feature hashing of words and word pairs. No model, no
//     network, deterministic, fast — but it measures word overlap, not meaning.
//   - NewHTTP, a model served over HTTP, speaking either Ollama's /api/embed or the
//     OpenAI-compatible /v1/embeddings (OpenAI itself, vLLM, LM Studio, llama.cpp, LocalAI…).
//
// Every vector an Embedder returns has unit length, or is all zero for a text with no words, so
// Cosine is a plain dot product in effect and scores are comparable across texts. Vectors from
// different embedders (different Name or Dims) are not comparable: store Name beside each vector
// and re-embed when it changes. Encode and Decode turn a vector into bytes for a PostgreSQL bytea
// column and back.
//
//	e := embed.NewLexical(0) // 384 dimensions
//	vecs, err := e.Embed(ctx, []string{"rotate the database credentials", "credential rotation"})
//	score := embed.Cosine(vecs[0], vecs[1])
package embed
