// Package knowledge is the knowledge base on Mosaic's engine: entries in markdown with [[links]],
// every edit a version, tags, full-text, semantic and hybrid search, and the link graph.
//
// Writes go through Service, which records a version and enqueues a knowledge.index job through
// the outbox in the same transaction. The knowledge agent (jobs on the KNOWLEDGE stream) parses
// the entry's links (wikilink), resolves them — and the dangling links elsewhere that now reach
// it — refreshes its search document and computes its embedding (embed); knowledge.reindex walks
// a whole workspace in checkpointed batches. Each job runs as the user who published it, so RLS
// shows it what that user sees (their PRIVATE entries included).
package knowledge
