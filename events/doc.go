// Package events is Mosaic's NATS JetStream layer: subjects, the stream topology (as data, applied
// idempotently), the embedded server, connections to an external server, the task envelope, the
// publisher and the outbox relay.
//
// Subjects carry what routing and isolation need:
//
//	mosaic.tasks.<band>.<workspace>.<kind>      tasks; band is p1 (most urgent) … p10
//	mosaic.tasks.delayed.<workspace>.<task>     schedules of delayed tasks (Nats-Schedule)
//	mosaic.credentials.<workspace>.<op>         credential jobs
//	mosaic.knowledge.<workspace>.<op>           knowledge jobs
//	mosaic.events.<workspace>.<type>            domain events (type may hold dots)
//
// Workspace tokens are canonical UUID text; kinds and types are dot-separated lower-case words.
package events
