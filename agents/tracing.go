package agents

import (
	"cmp"
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// TracerName is the instrumentation scope of the spans Mosaic emits.
const TracerName = "github.com/mosaicstack/mosaic/agents"

// The spans of a task, in one trace from its publish to each of its deliveries' end:
//
//	mosaic.publish (producer)            Client.Publish, PublishMany, PublishTx: its context is the
//	│                                    task's traceparent
//	└─ mosaic.deliver (consumer)         one per delivery, from the message's storing to its settling
//	   ├─ mosaic.queue                   the message's storing → the worker took it
//	   ├─ mosaic.claim                   may this delivery run the task (a claim, or a read of the row)
//	   ├─ mosaic.handle                  the handler; its ctx carries it
//	   │  └─ mosaic.checkpoint           each Checkpoint / CheckpointTx
//	   └─ mosaic.end                     the end's write, then the ack
const (
	spanPublish    = "mosaic.publish"
	spanDeliver    = "mosaic.deliver"
	spanQueue      = "mosaic.queue"
	spanClaim      = "mosaic.claim"
	spanHandle     = "mosaic.handle"
	spanCheckpoint = "mosaic.checkpoint"
	spanEnd        = "mosaic.end"
	// eventClaimed marks, on the delivery span, the write that carried a deferred claim.
	eventClaimed = "mosaic.claimed"
)

const (
	attrWorkspace    = attribute.Key("mosaic.workspace_id")
	attrKind         = attribute.Key("mosaic.kind")
	attrTask         = attribute.Key("mosaic.task_id")
	attrAttempt      = attribute.Key("mosaic.attempt")
	attrDuplicate    = attribute.Key("mosaic.duplicate")
	attrClaimDefer   = attribute.Key("mosaic.claim.deferred")
	attrClaimOutcome = attribute.Key("mosaic.claim.outcome")
	attrClaimWith    = attribute.Key("mosaic.claim.with")
	attrOutcome      = attribute.Key("mosaic.outcome")
	attrDestination  = attribute.Key("messaging.destination.name")
)

// The outcomes of a delivery's end besides the task's status (mosaic.outcome).
const (
	outcomeRefused  = "refused"  // its write found the task taken, cancelled or done
	outcomeFenced   = "fenced"   // a newer delivery holds the task: no ack
	outcomeRequeued = "requeued" // stopped before it wrote anything: back to the queue
)

var attrMessagingSystem = attribute.String("messaging.system", "nats")

// traceContext is the W3C propagator: the traceparent Mosaic carries is W3C's.
var traceContext propagation.TraceContext

// withTraceParent is ctx with the remote span of a valid traceparent as its current span.
func withTraceParent(ctx context.Context, traceParent string) context.Context {
	return traceContext.Extract(ctx, propagation.MapCarrier{events.HeaderTraceParent: traceParent})
}

// traceParentOf is the traceparent of ctx's span ("" without a valid one).
func traceParentOf(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	return carrier[events.HeaderTraceParent]
}

// endSpan ends a span, recording err (nil: none) with status Error.
func endSpan(span trace.Span, err error) {
	fail(span, err)
	span.End()
}

func fail(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// startPublish starts the publish span of spec, whose context becomes the task's traceparent: a
// child of the spec's own trace context (TraceParent, else its metadata's traceparent), else of
// ctx's span. A trace context that is not valid starts none (nil): the publish refuses it.
func (c *Client) startPublish(ctx context.Context, spec *TaskSpec) trace.Span {
	explicit := spec.TraceParent
	if explicit == "" {
		explicit = spec.Metadata[events.MetadataTraceParent]
	}
	if explicit != "" {
		if !events.ValidTraceParent(explicit) {
			return nil
		}
		ctx = withTraceParent(ctx, explicit)
	}
	ctx, span := c.tracer.Start(ctx, spanPublish, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attrWorkspace.String(spec.WorkspaceID.String()), attrKind.String(spec.Kind), attrMessagingSystem,
		attrDestination.String(events.SubjectFor(cmp.Or(spec.Priority, events.DefaultPriority), spec.WorkspaceID, spec.Kind))))
	if tp := traceParentOf(ctx); tp != "" {
		spec.TraceParent = tp
	}
	return span
}

// endPublish ends a publish span with what the publish did.
func endPublish(span trace.Span, out Published, err error) {
	if span == nil {
		return
	}
	if err == nil {
		span.SetAttributes(attrTask.String(out.ID.String()), attrDuplicate.Bool(out.Duplicate))
	}
	endSpan(span, err)
}

// jobTracer is the tracer handlers get (Job.Tracer): the pool's, or a no-op one.
func (p *Pool) jobTracer() trace.Tracer {
	if p.tracer == nil {
		return noop.Tracer{}
	}
	return p.tracer
}

// deliveryTrace holds the spans of one delivery. A pool without a TracerProvider has none (nil),
// and each of its methods then costs a nil check, inlined: no allocation, no clock reading.
//
// The goroutine of the delivery starts and ends them all; checkpoint spans start on the handler's
// (from handle, set before the handler runs), and the heartbeat's claim adds an event to span.
type deliveryTrace struct {
	tracer trace.Tracer
	ctx    context.Context // carries span: the parent of the others
	span   trace.Span      // mosaic.deliver
	handle trace.Span      // mosaic.handle, once the handler runs
	phase  trace.Span      // the open one of mosaic.claim and mosaic.end (nil between them)
	attrs  []attribute.KeyValue
}

// startTrace starts a delivery's spans: the delivery's from the message's storing, the queue's up
// to now, and the claim's from now. Without a traceparent the delivery starts a trace of its own.
func (p *Pool) startTrace(d *delivery, stored time.Time) *deliveryTrace {
	now := time.Now()
	if stored.After(now) { // a server clock ahead of this one
		stored = now
	}
	parent := context.Background()
	if d.traceParent != "" {
		parent = withTraceParent(parent, d.traceParent)
	}
	t := &deliveryTrace{tracer: p.tracer, attrs: make([]attribute.KeyValue, 3, 4)}
	t.attrs[0], t.attrs[1], t.attrs[2] = attrWorkspace.String(d.ws.String()), attrKind.String(d.kind), attrTask.String(d.id.String())
	t.ctx, t.span = p.tracer.Start(parent, spanDeliver, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(stored),
		trace.WithAttributes(t.attrs...), trace.WithAttributes(attrMessagingSystem, attrDestination.String(d.msg.Subject())))
	_, queue := p.tracer.Start(t.ctx, spanQueue, trace.WithTimestamp(stored), trace.WithAttributes(t.attrs...))
	queue.End(trace.WithTimestamp(now))
	_, t.phase = p.tracer.Start(t.ctx, spanClaim, trace.WithTimestamp(now), trace.WithAttributes(t.attrs...))
	return t
}

// spanContext is the delivery span's context (not valid without tracing).
func (t *deliveryTrace) spanContext() trace.SpanContext {
	if t == nil {
		return trace.SpanContext{}
	}
	return t.span.SpanContext()
}

// claimed ends the claim span with what the claim found: deferred says the claim is written
// later, with the delivery's first write (that write adds the event mosaic.claimed).
func (t *deliveryTrace) claimed(res store.ClaimResult, deferred bool, err error) {
	if t != nil {
		t.endClaim(res, deferred, err)
	}
}

func (t *deliveryTrace) endClaim(res store.ClaimResult, deferred bool, err error) {
	t.phase.SetAttributes(attrClaimDefer.Bool(deferred))
	if err == nil {
		t.phase.SetAttributes(attrClaimOutcome.String(res.Outcome.String()))
		if res.Attempt > 0 {
			attempt := attrAttempt.Int(res.Attempt)
			t.attrs = append(t.attrs, attempt)
			t.span.SetAttributes(attempt)
			t.phase.SetAttributes(attempt)
		}
	}
	endSpan(t.phase, err)
	t.phase = nil
}

// handling starts the handler's span and returns ctx carrying it.
func (t *deliveryTrace) handling(ctx context.Context) context.Context {
	if t == nil {
		return ctx
	}
	return t.startHandle(ctx)
}

func (t *deliveryTrace) startHandle(ctx context.Context) context.Context {
	_, t.handle = t.tracer.Start(t.ctx, spanHandle, trace.WithAttributes(t.attrs...))
	return trace.ContextWithSpan(ctx, t.handle)
}

// handled ends the handler's span (err: what it returned) and starts the end's.
func (t *deliveryTrace) handled(err error) {
	if t != nil {
		t.startEnd(err)
	}
}

func (t *deliveryTrace) startEnd(err error) {
	endSpan(t.handle, err)
	_, t.phase = t.tracer.Start(t.ctx, spanEnd, trace.WithAttributes(t.attrs...))
}

// ended says how the delivery ended: the task's status, or refused, fenced, requeued.
func (t *deliveryTrace) ended(outcome string) {
	if t != nil {
		t.setOutcome(outcome)
	}
}

// setOutcome stays out of line, so that ended inlines to a nil check.
//
//go:noinline
func (t *deliveryTrace) setOutcome(outcome string) {
	if t.phase != nil {
		t.phase.SetAttributes(attrOutcome.String(outcome))
	}
}

// failed records a failed write on the open claim or end span.
func (t *deliveryTrace) failed(err error) {
	if t != nil && t.phase != nil {
		fail(t.phase, err)
	}
}

// claimWritten marks on the delivery span the write that carried a deferred claim: the
// heartbeat's, the end's (ended) or else a checkpoint's.
func (t *deliveryTrace) claimWritten(heartbeat, ended bool) {
	if t != nil {
		t.markClaim(heartbeat, ended)
	}
}

func (t *deliveryTrace) markClaim(heartbeat, ended bool) {
	with := "checkpoint"
	switch {
	case heartbeat:
		with = "heartbeat"
	case ended:
		with = "end"
	}
	t.span.AddEvent(eventClaimed, trace.WithAttributes(attrClaimWith.String(with)))
}

// startCheckpoint starts a checkpoint's span under ctx's span when that is in the task's trace (the
// handler's, or one of its own), else under the handler's.
func (t *deliveryTrace) startCheckpoint(ctx context.Context) (context.Context, trace.Span) {
	if trace.SpanContextFromContext(ctx).TraceID() != t.span.SpanContext().TraceID() {
		ctx = trace.ContextWithSpan(ctx, t.handle)
	}
	return t.tracer.Start(ctx, spanCheckpoint, trace.WithAttributes(t.attrs...))
}

// end ends the spans still open when the delivery is done.
func (t *deliveryTrace) end() {
	if t.phase != nil {
		t.phase.End()
	}
	t.span.End()
}
