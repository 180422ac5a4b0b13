// Package outbox carries the transactional outbox to JetStream: rows committed in PostgreSQL with
// a business change (task messages of PublishTx, replays, the domain events' bundles) are
// published after the commit, at least once, with their Nats-Msg-Id, by the Relay that every
// process runs, or at once by a publisher that sent its own rows (Publish, PublishMessages). It
// sits between store, which holds the rows, and the NATS layer, events.
package outbox
