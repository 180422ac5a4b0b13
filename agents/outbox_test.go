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
	"github.com/mosaicstack/mosaic/events/eventstest"
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

// Every end has its domain event: a success's is published by the pool after its end is
// committed, the others' go through the outbox with the end.
func TestEveryEndHasItsDomainEvent(t *testing.T) {
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
	got := map[string]uuid.UUID{}
	for _, ev := range eventstest.ReadEvents(t, b.js, "mosaic.events."+b.ws.String()+".>", func(evs []eventstest.ReadEvent) bool {
		return len(evs) >= len(want)
	}, 10*time.Second) {
		if ev.Subject != events.EventSubject(b.ws, ev.Type) || ev.WorkspaceID != b.ws {
			t.Fatalf("event %s on %s", ev.Type, ev.Subject)
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

// A plain task's message is on the stream before its row is written, without an outbox row; its
// id is readable as soon as Publish returns; its delivery, which may come before the row, waits
// for it; its trail has every transition in order.
func TestAPlainPublishIsAcceptedByJetStreamFirst(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	ctx := context.Background()
	b.pool(t, agents.PoolConfig{Concurrency: 4})
	var ids []uuid.UUID
	for i := range 20 {
		id := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: fmt.Sprint(i)}})
		if _, err := b.db.GetTask(ctx, b.ws, id); err != nil {
			t.Fatalf("task %d not readable once Publish returned: %v", i, err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		b.wait(t, id, store.StatusSucceeded, 10*time.Second)
		var types []string
		for _, ev := range b.events(t, id) {
			types = append(types, ev.Type)
		}
		if fmt.Sprint(types) != "[published running succeeded]" {
			t.Fatalf("task %s: events %v", id, types)
		}
	}
	var outbox int
	err := b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE msg_id LIKE $1`, b.ws.String()+":%").Scan(&outbox)
	})
	if err != nil {
		t.Fatal(err)
	}
	if outbox != 0 {
		t.Fatalf("%d task messages went through the outbox", outbox)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.order) != len(ids) {
		t.Fatalf("%d handler runs for %d tasks", len(rec.order), len(ids))
	}
}

// A direct publish whose row cannot be written fails, and takes its message back: nothing runs.
func TestAFailedPlainPublishLeavesNoMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	missing := uuid.New()
	_, err := b.client.Publish(ctx, agents.TaskSpec{WorkspaceID: missing, Kind: "demo.echo"})
	if !errors.Is(err, agents.ErrInvalidSpec) {
		t.Fatalf("publish into a workspace that does not exist: %v", err)
	}
	s, err := b.js.Stream(ctx, events.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.TaskSubject(5, missing, "demo.echo")))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Fatalf("%d messages left for the failed publish", info.State.Msgs)
	}
}

type publisherArgs struct{}

func (publisherArgs) Kind() string { return "test.publisher" }

// TestADeliveryRunsBeforeItsRowAndKeepsItsPublisher: a message JetStream accepted before its row
// runs at once (the handler does not wait for the publisher's commit), its claim writes the row,
// and the publisher's late insert still records who published it. A handler that asks for its
// publisher (Job.Publisher) waits for the row instead.
func TestADeliveryRunsBeforeItsRowAndKeepsItsPublisher(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	publishers := make(chan uuid.UUID, 1)
	b := setup(t, rec.register, func(reg *agents.Registry) {
		agents.AddWorker(reg, agents.WorkFunc[publisherArgs](func(ctx context.Context, job *agents.Job[publisherArgs]) error {
			user, err := job.Publisher(ctx)
			publishers <- user
			return err
		}))
	})
	ctx := context.Background()
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	user := uuid.New()
	// publishAhead puts a task's message on the stream as Client.Publish does, before its row.
	publishAhead := func(kind string, args json.RawMessage) (store.NewTask, string) {
		t.Helper()
		env := events.TaskEnvelope{Version: events.EnvelopeVersion, ID: store.NewID(), WorkspaceID: b.ws, Kind: kind, Args: args}
		env.Normalize()
		m := agents.TaskMessage(&env, 0)
		msg := &nats.Msg{Subject: m.Subject, Data: m.Payload, Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, m.MsgID)
		msg.Header.Set(events.HeaderRowFollows, "1")
		if _, err := b.js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		return store.NewTask{WorkspaceID: b.ws, ID: env.ID, Kind: kind, Priority: env.Priority, Status: store.StatusQueued,
			Args: env.Args, MaxAttempts: env.MaxAttempts, PublishedBy: user}, m.MsgID
	}
	insertLate := func(task store.NewTask, msgID string) {
		t.Helper()
		err := b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
			_, err := store.InsertTasks(ctx, tx, []store.NewTask{task}, []store.OutboxMessage{{WorkspaceID: b.ws, MsgID: msgID}}, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	task, msgID := publishAhead("test.record", json.RawMessage(`{"tag":"early"}`))
	b.wait(t, task.ID, store.StatusSucceeded, 10*time.Second) // it ran with no row from its publisher
	insertLate(task, msgID)
	if got, err := b.db.TaskPublisher(ctx, b.ws, task.ID); err != nil || got != user {
		t.Fatalf("the publisher of a task that ran before its row: %s %v, want %s", got, err, user)
	}
	if n := countEvents(b.events(t, task.ID), "published"); n != 1 {
		t.Fatalf("%d published events, want 1", n)
	}

	task, msgID = publishAhead("test.publisher", json.RawMessage(`{}`))
	time.Sleep(300 * time.Millisecond) // the handler has started, and waits for its row
	select {
	case got := <-publishers:
		t.Fatalf("Job.Publisher answered %s before the row was written", got)
	default:
	}
	insertLate(task, msgID)
	select {
	case got := <-publishers:
		if got != user {
			t.Fatalf("Job.Publisher: %s, want %s", got, user)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Job.Publisher did not answer once the row was written")
	}
	b.wait(t, task.ID, store.StatusSucceeded, 10*time.Second)
}

// TestPublishAfterCloseFailsAtOnce: a publish on a closed client says so; it never waits on a
// queue the closed client no longer reads.
func TestPublishAfterCloseFailsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.client.Close()
	for i := range 20 {
		done := make(chan error, 1)
		go func() {
			_, err := b.client.Publish(context.Background(), agents.TaskSpec{WorkspaceID: b.ws, Kind: "demo.echo"})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, agents.ErrClientClosed) {
				t.Fatalf("publish %d after close: %v; want ErrClientClosed", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("publish %d after close did not return", i)
		}
	}
}

// A task whose end was committed by a delivery of its message that was lost before it acked (and
// so, perhaps, before it published the task.succeeded event): the redelivery runs nothing, sends
// the event with that end's message id, and acks. JetStream keeps one event per end: where the lost
// delivery had sent it, the redelivery's copy is dropped as a duplicate.
func TestARedeliveredEndSendsItsEventOnce(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	ctx := context.Background()
	tasks, err := b.js.Stream(ctx, events.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	endWithoutAck := func(id uuid.UUID) int64 {
		t.Helper()
		info, err := tasks.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		task, err := b.db.GetTask(ctx, b.ws, id)
		if err != nil {
			t.Fatal(err)
		}
		const fence = 1 // generation 0, the message's first delivery
		res, err := b.db.RunBatch(ctx, store.BatchOps{Worker: "lost", Lease: time.Minute, ClaimFinishes: []store.ClaimFinish{{
			Claim: store.ClaimParams{Task: store.NewTask{WorkspaceID: b.ws, ID: id, Kind: task.Kind, MaxAttempts: task.MaxAttempts},
				Fence: fence, MsgSeq: info.State.LastSeq, Canonical: true, Exists: true},
			Finish: store.Finish{Status: store.StatusSucceeded, Result: json.RawMessage(`{}`)}}}})
		if err != nil || res.ClaimFinishes[0].Outcome != store.Claimed {
			t.Fatalf("the lost delivery's end: %+v %v", res, err)
		}
		return fence
	}
	unsent := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "unsent"}})
	unsentFence := endWithoutAck(unsent)
	sent := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "sent"}})
	sentFence := endWithoutAck(sent)
	first := store.SucceededEvent(b.ws, sent, "test.record", 1, sentFence)
	msg := &nats.Msg{Subject: first.Subject, Data: first.Payload, Header: nats.Header{nats.MsgIdHdr: []string{first.MsgID}}}
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	b.pool(t, agents.PoolConfig{Concurrency: 2})
	b.waitDrained(t, 5, 2)
	rec.mu.Lock()
	ran := len(rec.order)
	rec.mu.Unlock()
	if ran != 0 {
		t.Fatalf("the handler ran %d times for ended tasks", ran)
	}
	got := map[uuid.UUID][]events.DomainEvent{}
	all := func([]eventstest.ReadEvent) bool { return true }
	for _, ev := range eventstest.ReadEvents(t, b.js, events.EventSubject(b.ws, "task.succeeded"), all, 10*time.Second) {
		got[ev.TaskID] = append(got[ev.TaskID], ev.DomainEvent)
	}
	want := map[uuid.UUID]int64{unsent: unsentFence, sent: sentFence}
	for id, fence := range want {
		evs := got[id]
		if len(evs) != 1 {
			t.Fatalf("task %s: %d task.succeeded events, want 1: %+v", id, len(evs), evs)
		}
		if wantID := store.SucceededEvent(b.ws, id, "test.record", 1, fence).MsgID; evs[0].ID.String() != wantID || evs[0].Attempt != 1 {
			t.Fatalf("task %s: event %+v, want id %s (its end's), attempt 1", id, evs[0], wantID)
		}
	}
	if !got[sent][0].At.Equal(mustEvent(t, first).At) {
		t.Fatalf("the copy kept is not the first one sent: %+v", got[sent][0])
	}
}

func mustEvent(t *testing.T, m store.OutboxMessage) events.DomainEvent {
	t.Helper()
	var ev events.DomainEvent
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// When JetStream does not take a success's event (here: no EVENTS stream), it goes through the
// outbox, and the relay sends it once the stream is back.
func TestASuccessEventJetStreamRefusesGoesThroughTheOutbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.js.DeleteStream(ctx, events.EventsStream); err != nil {
		t.Fatal(err)
	}
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := b.publish(t, agents.TaskSpec{Kind: "demo.echo"})
	task := b.wait(t, id, store.StatusSucceeded, 10*time.Second)
	want := store.SucceededEvent(b.ws, id, "demo.echo", 1, task.Fence).MsgID
	b.waitDrained(t, 5, 1) // acked: the event was sent or queued first
	var queued int
	err := b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE msg_id = $1`, want).Scan(&queued)
	})
	if err != nil || queued != 1 {
		t.Fatalf("%d outbox rows for the event (%v), want 1", queued, err)
	}
	if _, err := events.ApplyTopology(ctx, b.js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	one := func(evs []eventstest.ReadEvent) bool { return len(evs) > 0 }
	evs := eventstest.ReadEvents(t, b.js, events.EventSubject(b.ws, "task.succeeded"), one, 10*time.Second)
	if len(evs) != 1 || evs[0].ID.String() != want {
		t.Fatalf("events %+v, want one, the relay's, with id %s", evs, want)
	}
}
