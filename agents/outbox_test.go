package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

func TestPublishTxCommitsWithTheCallersWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	ctx := context.Background()

	var kept uuid.UUID
	err := b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		res, err := b.client.PublishTx(ctx, tx, agents.TaskSpec{WorkspaceID: b.ws, Kind: "demo.echo", Args: map[string]int{"n": 1}})
		kept = res.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var dropped uuid.UUID
	boom := errors.New("the caller's business write failed")
	err = b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		res, err := b.client.PublishTx(ctx, tx, agents.TaskSpec{WorkspaceID: b.ws, Kind: "demo.echo", Args: map[string]int{"n": 2}})
		if err != nil {
			return err
		}
		dropped = res.ID
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	b.wait(t, kept, store.StatusSucceeded, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // the relay has had its chance
	if _, err := b.db.GetTask(ctx, b.ws, dropped); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rolled-back publish left a task: %v", err)
	}
	s, _ := b.js.Stream(ctx, events.TasksStream)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 0 {
		t.Fatalf("%d messages left on TASKS; the rolled-back task must not have been sent", info.State.Msgs)
	}
}

func TestDomainEventsLeaveThroughTheOutbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ok := b.publish(t, agents.TaskSpec{Kind: "demo.echo"})
	dead := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 1, FailAt: 1}, MaxAttempts: 2})
	cancelled := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Delay: time.Hour})
	if _, err := b.client.Cancel(ctx, b.nc, b.ws, cancelled, "test"); err != nil {
		t.Fatal(err)
	}
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	b.wait(t, ok, store.StatusSucceeded, 10*time.Second)
	b.wait(t, dead, store.StatusDead, 10*time.Second)

	want := map[string]uuid.UUID{"task.succeeded": ok, "task.failed": dead, "task.dead": dead, "task.cancelled": cancelled}
	cons, err := b.js.OrderedConsumer(ctx, events.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"mosaic.events." + b.ws.String() + ".>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uuid.UUID{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		var ev agents.DomainEvent
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if msg.Subject() != events.EventSubject(b.ws, ev.Type) || ev.WorkspaceID != b.ws {
			t.Fatalf("event %s on %s", ev.Type, msg.Subject())
		}
		got[ev.Type] = ev.TaskID
	}
	for typ, id := range want {
		if got[typ] != id {
			t.Errorf("%s: got task %s; want %s", typ, got[typ], id)
		}
	}
}

// A message of a task that already finished is acked at once, whatever its id header.
func TestRedeliveryOfAFinishedTaskAcksAtOnce(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	ctx := context.Background()
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "x"}})
	b.wait(t, id, store.StatusSucceeded, 10*time.Second)
	body := fmt.Sprintf(`{"id":%q,"workspace_id":%q,"kind":"test.record","args":{"tag":"again"}}`, id, b.ws)
	msg := &nats.Msg{Subject: events.TaskSubject(5, b.ws, "test.record"), Data: []byte(body), Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, "a-different-message-id")
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(t, 5, 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.order) != 1 {
		t.Fatalf("the handler ran %d times", len(rec.order))
	}
}
