// Package events is Mosaic's NATS JetStream layer: subjects, the stream topology (as data, applied
// idempotently), the embedded server, connections to an external server, the task envelope and
// the bodies of the domain events (DomainEvent, DeadMessageEvent, CredentialEvent; DecodeEvent
// reads any of them). It knows nothing of PostgreSQL: package outbox carries the outbox's rows
// onto its streams. Package events/watermillsub reads the domain events with Watermill.
//
// Subjects carry what routing and isolation need:
//
//	mosaic.tasks.<band>.<workspace>.<kind>      tasks; band is p1 (most urgent) … p10
//	mosaic.credentials.<workspace>.<op>         credential jobs (kind credentials.<op>)
//	mosaic.knowledge.<workspace>.<op>           knowledge jobs (kind knowledge.<op>)
//	mosaic.schedules.<stream>.<workspace>.<task> schedules of delayed tasks (Nats-Schedule)
//	mosaic.events.<workspace>.<type>            domain events (type may hold dots)
//
// Workspace tokens are canonical UUID text; kinds and types are dot-separated lower-case words.
package events
