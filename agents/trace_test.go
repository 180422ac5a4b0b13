package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// TraceArgs is a task that reports the trace context its handler saw.
type TraceArgs struct{}

func (TraceArgs) Kind() string { return "test.trace" }

// W3C trace context travels from the publisher to the handler: set on the task (Go client, HTTP)
// or as the traceparent header of a raw NATS message; a malformed one is refused at publish.
func TestTraceContextReachesTheHandler(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 4)
	b := setup(t, func(r *agents.Registry) {
		agents.AddWorker(r, agents.WorkFunc[TraceArgs](func(ctx context.Context, job *agents.Job[TraceArgs]) error {
			seen <- job.TraceParent
			return nil
		}))
	})
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	id := b.publish(t, agents.TaskSpec{Kind: "test.trace", TraceParent: tp})
	if got := <-seen; got != tp {
		t.Fatalf("handler saw %q; want %q", got, tp)
	}
	task := b.wait(t, id, store.StatusSucceeded, 10*time.Second)
	if task.Metadata[events.MetadataTraceParent] != tp {
		t.Fatalf("the task does not keep its trace context: %v", task.Metadata)
	}

	// A raw NATS publisher sets the header only.
	raw := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	env := events.TaskEnvelope{ID: uuid.New(), WorkspaceID: b.ws, Kind: "test.trace"}
	body, _ := json.Marshal(env)
	msg := nats.NewMsg(events.TaskSubject(5, b.ws, "test.trace"))
	msg.Header.Set(events.HeaderTraceParent, raw)
	msg.Data = body
	if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		if got != raw {
			t.Fatalf("handler of a raw message saw %q; want %q", got, raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the raw message's handler did not run")
	}

	for _, bad := range []string{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "not-a-trace"} {
		if _, err := b.client.Publish(context.Background(), agents.TaskSpec{WorkspaceID: b.ws, Kind: "test.trace", TraceParent: bad}); !errors.Is(err, agents.ErrInvalidSpec) {
			t.Fatalf("trace parent %q: %v; want ErrInvalidSpec", bad, err)
		}
	}
}
