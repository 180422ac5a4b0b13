package agents_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/store"
)

// OtelArgs is a task that starts a span of its own, may checkpoint, and may fail its first
// attempt.
type OtelArgs struct {
	Checkpoint bool `json:"checkpoint,omitempty"`
	FailOnce   bool `json:"fail_once,omitempty"`
}

func (OtelArgs) Kind() string { return "test.otel" }

// handlerSaw is what a handler of test.otel found in its context.
type handlerSaw struct {
	task      uuid.UUID
	recording bool // the ctx's span records
	valid     bool // the ctx carries a span context
}

func registerOtel(saw chan<- handlerSaw) func(*agents.Registry) {
	return func(r *agents.Registry) {
		agents.AddWorker(r, agents.WorkFunc[OtelArgs](func(ctx context.Context, job *agents.Job[OtelArgs]) error {
			sc := trace.SpanContextFromContext(ctx)
			saw <- handlerSaw{task: job.ID, recording: trace.SpanFromContext(ctx).IsRecording(), valid: sc.IsValid()}
			ctx, own := job.Tracer().Start(ctx, "handler's own")
			job.Logger.Info().Msg("handler ran")
			if job.Args.Checkpoint {
				if err := job.Checkpoint(ctx, map[string]int{"step": 1}); err != nil {
					own.End()
					return err
				}
			}
			own.End()
			if job.Args.FailOnce && job.Attempt == 1 {
				return errors.New("the first attempt fails")
			}
			return nil
		}))
	}
}

// One trace per task, from the publish in one process (its own TracerProvider) to each delivery
// in another (a provider of its own): the worker's spans continue the publish span through the
// message's traceparent; the handler's ctx carries its span, so that its own spans and its
// checkpoints join the trace; a retried task's two deliveries are in the one trace; the task's
// log lines carry the trace and span ids.
func TestTracingOneTracePerTaskAcrossProcesses(t *testing.T) {
	t.Parallel()
	saw := make(chan handlerSaw, 16)
	b := setup(t, registerOtel(saw))
	publisher, worker := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	pubTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(publisher))
	workTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(worker))
	client, err := agents.NewClient(agents.ClientConfig{DB: b.db, Registry: b.registry, JS: b.js, TracerProvider: pubTP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	logs := &syncBuffer{}
	log := zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t))).Level(zerolog.InfoLevel)
	pool := b.pool(t, agents.PoolConfig{Concurrency: 4, Logger: &log, TracerProvider: workTP})

	ctx := context.Background()
	publish := func(ctx context.Context, spec agents.TaskSpec) uuid.UUID {
		t.Helper()
		spec.WorkspaceID, spec.Kind = b.ws, "test.otel"
		res, err := client.Publish(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	plain := publish(ctx, agents.TaskSpec{})
	checkpoints := publish(ctx, agents.TaskSpec{Args: OtelArgs{Checkpoint: true}})
	retried := publish(ctx, agents.TaskSpec{Args: OtelArgs{FailOnce: true}})
	// A caller's span in ctx is the publish span's parent; an explicit traceparent wins over it.
	callerCtx, caller := pubTP.Tracer("test").Start(ctx, "caller")
	underCaller := publish(callerCtx, agents.TaskSpec{})
	const explicitTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	explicit := publish(callerCtx, agents.TaskSpec{TraceParent: explicitTP})
	caller.End()
	tasks := []uuid.UUID{plain, checkpoints, retried, underCaller, explicit}
	for _, id := range tasks {
		b.wait(t, id, store.StatusSucceeded, 20*time.Second)
	}
	// Every delivery's spans end before its delivery returns: a stopped pool has ended them all.
	if err := pool.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	close(saw)
	for s := range saw {
		if !s.recording || !s.valid {
			t.Fatalf("task %s: the handler's ctx carries no recording span (%+v)", s.task, s)
		}
	}

	all := append(publisher.GetSpans().Snapshots(), worker.GetSpans().Snapshots()...)
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range all {
		byID[s.SpanContext().SpanID()] = s
	}
	lines := logLines(t, logs.Bytes())
	for _, id := range tasks {
		pub := only(t, spansOf(all, id, "mosaic.publish"))
		if pub.SpanKind() != trace.SpanKindProducer {
			t.Fatalf("task %s: publish span of kind %s", id, pub.SpanKind())
		}
		tid := pub.SpanContext().TraceID()
		for _, s := range spansOf(all, id, "") {
			if s.SpanContext().TraceID() != tid {
				t.Fatalf("task %s: span %s in trace %s; the publish is in %s", id, s.Name(), s.SpanContext().TraceID(), tid)
			}
		}
		attempts := 1
		if id == retried {
			attempts = 2
		}
		delivers := spansOf(all, id, "mosaic.deliver")
		handles := spansOf(all, id, "mosaic.handle")
		if len(delivers) != attempts || len(handles) != attempts || len(spansOf(all, id, "mosaic.queue")) != attempts ||
			len(spansOf(all, id, "mosaic.claim")) != attempts || len(spansOf(all, id, "mosaic.end")) != attempts {
			t.Fatalf("task %s: %d deliver, %d handle spans (and queue, claim, end); want %d of each", id, len(delivers), len(handles), attempts)
		}
		for _, h := range handles {
			// The handler's span leads, through its delivery's, to the publish span.
			if !leadsTo(byID, h, pub.SpanContext().SpanID()) {
				t.Fatalf("task %s: the handle span's parents do not lead to the publish span", id)
			}
			attempt := attr(h, "mosaic.attempt")
			if attr(h, "mosaic.workspace_id").AsString() != b.ws.String() || attr(h, "mosaic.kind").AsString() != "test.otel" ||
				attr(h, "mosaic.task_id").AsString() != id.String() || attempt.AsInt64() < 1 {
				t.Fatalf("task %s: handle span attributes %v", id, h.Attributes())
			}
			own := under(all, h.SpanContext().SpanID(), "handler's own")
			if len(own) != 1 {
				t.Fatalf("task %s: %d spans of the handler's own under its handle span; want 1", id, len(own))
			}
			wantStatus := codes.Unset
			wantOutcome := store.StatusSucceeded
			if id == retried && attempt.AsInt64() == 1 {
				wantStatus, wantOutcome = codes.Error, store.StatusRetrying
			}
			if h.Status().Code != wantStatus {
				t.Fatalf("task %s attempt %d: handle span status %v; want %v", id, attempt.AsInt64(), h.Status(), wantStatus)
			}
			end := only(t, under(all, h.Parent().SpanID(), "mosaic.end"))
			if got := attr(end, "mosaic.outcome").AsString(); got != string(wantOutcome) {
				t.Fatalf("task %s attempt %d: end outcome %q; want %q", id, attempt.AsInt64(), got, wantOutcome)
			}
			if id == checkpoints {
				// The checkpoint was written from the handler's own span's ctx: its child.
				if cp := under(all, own[0].SpanContext().SpanID(), "mosaic.checkpoint"); len(cp) != 1 || attr(cp[0], "mosaic.task_id").AsString() != id.String() {
					t.Fatalf("task %s: checkpoint spans under the handler's span: %d", id, len(cp))
				}
			}
		}
		for _, d := range delivers {
			// The task's log lines name the trace and the delivery's span.
			if !hasLogLine(lines, id, "handler ran", tid.String(), d.SpanContext().SpanID().String()) {
				t.Fatalf("task %s: no log line with trace_id %s and span_id %s", id, tid, d.SpanContext().SpanID())
			}
			if d.SpanKind() != trace.SpanKindConsumer || attr(d, "messaging.system").AsString() != "nats" {
				t.Fatalf("task %s: deliver span %s, attributes %v", id, d.SpanKind(), d.Attributes())
			}
		}
		if id == underCaller && pub.Parent().SpanID() != caller.SpanContext().SpanID() {
			t.Fatalf("the publish span's parent is %s; want the caller's span %s", pub.Parent().SpanID(), caller.SpanContext().SpanID())
		}
		if id == explicit && (tid.String() != explicitTP[3:35] || pub.Parent().SpanID().String() != explicitTP[36:52]) {
			t.Fatalf("the publish span is in trace %s under %s; want the explicit traceparent %s", tid, pub.Parent().SpanID(), explicitTP)
		}
	}
	// The short tasks claimed with their end (one write): their claim span says deferred, and
	// the delivery span has the event of the write that carried the claim.
	d := only(t, spansOf(all, plain, "mosaic.deliver"))
	if c := only(t, spansOf(all, plain, "mosaic.claim")); !attr(c, "mosaic.claim.deferred").AsBool() {
		t.Fatalf("the plain task's claim was not deferred: %v", c.Attributes())
	}
	if len(d.Events()) != 1 || d.Events()[0].Name != "mosaic.claimed" {
		t.Fatalf("the plain task's delivery events: %v", d.Events())
	}
}

// Without a TracerProvider nothing is recorded: the caller's span is the only one the exporter
// gets, the handler's ctx carries the publisher's trace context, not a recording span, and the
// task's log lines carry the trace id only.
func TestTracingOffRecordsNothing(t *testing.T) {
	t.Parallel()
	saw := make(chan handlerSaw, 1)
	b := setup(t, registerOtel(saw))
	logs := &syncBuffer{}
	log := zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t))).Level(zerolog.InfoLevel)
	b.pool(t, agents.PoolConfig{Concurrency: 2, Logger: &log})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	ctx, caller := tp.Tracer("test").Start(context.Background(), "caller")
	const tp0 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	id := b.publish(t, agents.TaskSpec{Kind: "test.otel", TraceParent: tp0})
	if _, err := b.client.Publish(ctx, agents.TaskSpec{WorkspaceID: b.ws, Kind: "test.otel"}); err != nil {
		t.Fatal(err)
	}
	caller.End()
	for range 2 {
		if s := <-saw; s.recording {
			t.Fatalf("task %s: the handler's ctx carries a recording span", s.task)
		}
	}
	b.wait(t, id, store.StatusSucceeded, 10*time.Second)
	if spans := exp.GetSpans(); len(spans) != 1 || spans[0].Name != "caller" {
		t.Fatalf("spans recorded without a provider: %v", spans)
	}
	if !hasLogLine(logLines(t, logs.Bytes()), id, "handler ran", tp0[3:35], "") {
		t.Fatalf("no log line with the traceparent's trace id and no span id")
	}
}

// spansOf are the spans of a task (by mosaic.task_id) named name ("": any); the handler's own
// spans have no task id.
func spansOf(all []sdktrace.ReadOnlySpan, task uuid.UUID, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range all {
		if (name == "" || s.Name() == name) && attr(s, "mosaic.task_id").AsString() == task.String() {
			out = append(out, s)
		}
	}
	return out
}

// under are the spans named name whose parent is the span with id parent.
func under(all []sdktrace.ReadOnlySpan, parent trace.SpanID, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range all {
		if s.Name() == name && s.Parent().SpanID() == parent {
			out = append(out, s)
		}
	}
	return out
}

// leadsTo says whether the parents of span reach the span with id to.
func leadsTo(byID map[trace.SpanID]sdktrace.ReadOnlySpan, span sdktrace.ReadOnlySpan, to trace.SpanID) bool {
	for range 16 {
		parent := span.Parent().SpanID()
		if parent == to {
			return true
		}
		next, ok := byID[parent]
		if !ok {
			return false
		}
		span = next
	}
	return false
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func only(t *testing.T, spans []sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	if len(spans) != 1 {
		t.Fatalf("%d spans; want 1: %v", len(spans), spans)
	}
	return spans[0]
}

func logLines(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Bytes(), err)
		}
		out = append(out, line)
	}
	return out
}

// hasLogLine says whether a line of task says message with these trace and span ids (span ""
// : no span_id field).
func hasLogLine(lines []map[string]any, task uuid.UUID, message, traceID, spanID string) bool {
	for _, l := range lines {
		if l["task_id"] != task.String() || l["message"] != message || l["trace_id"] != traceID {
			continue
		}
		if span, ok := l["span_id"]; spanID == "" && !ok || ok && span == spanID {
			return true
		}
	}
	return false
}
