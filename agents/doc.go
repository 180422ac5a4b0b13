// Package agents is Mosaic's runtime: typed workers, the registry of kinds, the publishing client,
// and the pool that runs tasks from JetStream with at-least-once delivery and exactly-once effects.
//
// A worker is generic over its arguments, like River's:
//
//	type ResizeArgs struct{ URL string `json:"url"` }
//	func (ResizeArgs) Kind() string { return "images.resize" }
//
//	type ResizeWorker struct{}
//	func (ResizeWorker) Work(ctx context.Context, job *agents.Job[ResizeArgs]) error { … }
//
//	reg := agents.NewRegistry()
//	agents.AddWorker(reg, ResizeWorker{})
//
// The handler's return value decides the message's fate: nil acks (after PostgreSQL commits the
// result), an ordinary error retries with exponential backoff and jitter, Permanent(err) dead-letters
// at once, RetryAfter(d, err) retries after d, Snooze(d) runs again after d without using an attempt.
// A panic is recovered and counts as an error. Fate names what follows; agents/agenttest runs a
// handler in a unit test, with no servers, and tells its fate.
//
// Each delivery claims its task with a fencing token (generation << 32 | delivery count); its
// checkpoints and its completion write only WHERE fence = token, so a worker whose message was
// redelivered elsewhere cannot overwrite the newer one, and stops without acking. InProgress is
// sent while the handler makes progress (Checkpoint, Progress); past its progress timeout a
// handler is cancelled and retried.
//
// With a TracerProvider (ClientConfig and PoolConfig), a task is one OpenTelemetry trace from its
// publish to each delivery's end, across processes (W3C traceparent in the message); a handler's
// ctx carries its span, so spans started from it (Job.Tracer) join the trace.
package agents
