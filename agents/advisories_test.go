package agents_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// Messages that fail outside a worker's own path become dead letters: a consumer that is not
// Mosaic's reaching its max deliveries, or terminating a message; a message a Mosaic worker
// dead-lettered itself is not recorded twice.
func TestAdvisoriesBecomeDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var naks atomic.Int64
	w := &agents.AdvisoryWatcher{DB: b.db, JS: b.js, Logger: &b.log, OnNak: func(stream string) {
		if stream == events.TasksStream {
			naks.Add(1)
		}
	}}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = w.Run(wctx) }()

	// A foreign consumer on band p9 that never acks, and gives up after two deliveries.
	stuck := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Priority: 9, Args: map[string]any{"n": 1}})
	subject := events.TaskSubject(9, b.ws, "demo.echo")
	waitUntil(t, "the message in TASKS", 10*time.Second, func() bool {
		st, _ := b.js.Stream(ctx, events.TasksStream)
		_, err := st.GetLastMsgForSubject(ctx, subject)
		return err == nil
	})
	cons, err := b.js.CreateOrUpdateConsumer(ctx, events.TasksStream, jetstream.ConsumerConfig{
		Durable: "foreign", FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 200 * time.Millisecond, MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitUntil(t, "a max_deliveries dead letter", 10*time.Second, func() bool {
		list, _, err := b.db.ListDeadLetters(ctx, b.ws, store.DeadLetterFilter{Reason: store.ReasonMaxDeliveries})
		return err == nil && len(list) == 1 && list[0].TaskID != nil && *list[0].TaskID == stuck && strings.Contains(list[0].Error, "consumer foreign")
	})
	st, _ := b.js.Stream(ctx, events.TasksStream)
	if _, err := st.GetLastMsgForSubject(ctx, subject); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the dead-lettered message is still in the work queue: %v", err)
	}
	ev, err := waitForEvent(ctx, b, events.EventSubject(b.ws, "message.dead"))
	if err != nil || !strings.Contains(string(ev), `"reason":"max_deliveries"`) {
		t.Fatalf("message.dead event: %s %v", ev, err)
	}

	// A Mosaic worker's own dead letter (a permanent failure) stays one dead letter.
	b.pool(t, agents.PoolConfig{Priorities: []int{5}, Concurrency: 2})
	before := w.Processed()
	dead := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 1, FailAt: 1, FailMode: "permanent"}})
	b.wait(t, dead, store.StatusDead, 20*time.Second)
	waitUntil(t, "the terminated advisory to be handled", 10*time.Second, func() bool { return w.Processed() > before })
	list, _, err := b.db.ListDeadLetters(ctx, b.ws, store.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range list {
		if d.TaskID != nil && *d.TaskID == dead {
			n++
		}
	}
	if n != 1 || w.Recorded() != 1 {
		t.Fatalf("%d dead letters for the failed task, %d recorded by the watcher; want 1 and 1 (the max_deliveries one)", n, w.Recorded())
	}

	// A retry is a nak: counted, not recorded.
	retried := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 1, FailAt: 1, FailMode: "retry", FailAttempts: 1}})
	b.wait(t, retried, store.StatusSucceeded, 20*time.Second)
	waitUntil(t, "the nak advisory", 10*time.Second, func() bool { return naks.Load() > 0 })
	if w.Recorded() != 1 {
		t.Fatalf("a retry was recorded as a dead letter")
	}
}

func waitForEvent(ctx context.Context, b *testBundle, subject string) ([]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := b.js.Stream(ctx, events.EventsStream)
		if err != nil {
			return nil, err
		}
		m, err := st.GetLastMsgForSubject(ctx, subject)
		if err == nil {
			return m.Data, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
