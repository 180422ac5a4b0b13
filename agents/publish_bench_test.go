package agents_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic/agents"
)

// BenchmarkPublish measures one Publish: the transaction, the direct send, the outbox cleanup.
func BenchmarkPublish(b *testing.B) {
	bb := setup(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := bb.client.Publish(ctx, agents.TaskSpec{WorkspaceID: bb.ws, Kind: "demo.echo"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishAndHandle measures a task's whole way: its Publish, then its delivery to a pool
// (claim, handler, end in one write, ack), one task after the other; without tracing (off), and
// traced by an SDK provider whose exporter drops the spans (sdk). Its allocations count the
// embedded NATS server's too: a change to the delivery path shows as a difference.
func BenchmarkPublishAndHandle(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchPublishAndHandle(b, nil) })
	b.Run("sdk", func(b *testing.B) {
		benchPublishAndHandle(b, sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter())))
	})
}

func benchPublishAndHandle(b *testing.B, tp trace.TracerProvider) {
	bb := setup(b)
	client, err := agents.NewClient(agents.ClientConfig{DB: bb.db, Registry: bb.registry, JS: bb.js, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.Close)
	done := make(chan struct{}, 1)
	bb.pool(b, agents.PoolConfig{Concurrency: 4, TracerProvider: tp, Observe: func(agents.HandlerDone) { done <- struct{}{} }})
	ctx := context.Background()
	for b.Loop() {
		if _, err := client.Publish(ctx, agents.TaskSpec{WorkspaceID: bb.ws, Kind: "demo.echo"}); err != nil {
			b.Fatal(err)
		}
		<-done
	}
}
