package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/watermillsub"
)

// eventKey names a task's event by what it is about, apart from its id.
type eventKey struct {
	task uuid.UUID
	typ  string
}

// eventLog is what the Watermill handlers of a test saw: how often each event id and each
// (task, type), and in which router run.
type eventLog struct {
	mu      sync.Mutex
	byID    map[string]int
	byKey   map[eventKey]int
	run     map[eventKey]int
	changed chan struct{}
}

func (l *eventLog) record(t *testing.T, run int, msg *message.Message) error {
	ev, err := watermillsub.Decode(msg)
	if err != nil {
		t.Errorf("Decode %s: %v", msg.UUID, err)
		return nil // acked: a body that does not decode would not decode the next time either
	}
	if ev.Task == nil {
		t.Errorf("event %s of type %s is not a task event: %s", ev.ID, ev.Type, ev.Body)
		return nil
	}
	if ev.ID.String() != msg.UUID {
		t.Errorf("message UUID %s, event id %s", msg.UUID, ev.ID)
	}
	if ev.Type == "task.dead" && ev.Task.Error == "" {
		t.Errorf("task.dead of %s without its error", ev.Task.TaskID)
	}
	k := eventKey{ev.Task.TaskID, ev.Type}
	l.mu.Lock()
	l.byID[msg.UUID]++
	l.byKey[k]++
	l.run[k] = run
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until every event in want has been handled, or ctx ends.
func (l *eventLog) waitFor(ctx context.Context, t *testing.T, want map[eventKey]int) {
	t.Helper()
	for {
		l.mu.Lock()
		missing := 0
		for k := range want {
			if l.byKey[k] == 0 {
				missing++
			}
		}
		l.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-l.changed:
		case <-ctx.Done():
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("%d of %d events never reached the handler; handled %v", missing, len(want), l.byKey)
		}
	}
}

// waitSettled waits until the consumer has delivered every event it has and each delivery has
// been acknowledged: a router closed then leaves nothing in flight.
func waitSettled(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := js.Consumer(ctx, events.EventsStream, name)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		info := c.CachedInfo()
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("consumer %s did not settle: %d pending, %d awaiting an ack", name, info.NumPending, info.NumAckPending)
		}
	}
}

// TestWatermillSubscriberSeesEveryEventOnceAcrossARestart runs a Watermill router with a
// watermillsub subscriber against a real `mosaic dev`: tasks published while it runs, then while
// it is stopped, reach a second router of the same subscriber name; every task event (succeeded
// and dead) is handled exactly once, by id and by (task, type), the second run none of the first's.
func TestWatermillSubscriberSeesEveryEventOnceAcrossARestart(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir)
	r := runMosaic(t, nil, "workspaces", "create", "watermill", "--output", "json", "--data-dir", dataDir)
	var created struct {
		ID uuid.UUID `json:"id"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil {
		t.Fatalf("workspaces create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "nats", "credentials", "--system", "--output", "json", "--data-dir", dataDir)
	var creds struct {
		URL, User, Password string
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &creds) != nil || creds.URL == "" {
		t.Fatalf("nats credentials: %d %s %s", r.code, r.stdout, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	connect := func(name string) (*nats.Conn, jetstream.JetStream) {
		nc, js, err := events.Connect(ctx, events.ConnConfig{URL: creds.URL, User: creds.User, Password: creds.Password, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc, js
	}
	_, js := connect("watermill-test-observer")

	const name = "watermill-e2e"
	handled := &eventLog{byID: map[string]int{}, byKey: map[eventKey]int{}, run: map[eventKey]int{}, changed: make(chan struct{}, 1)}
	// startRouter runs a router with a new subscriber of name on a connection of its own; the
	// returned function closes it and waits for Run to return.
	startRouter := func(run int) (stop func()) {
		nc, _ := connect(fmt.Sprintf("watermill-test-%d", run))
		sub, err := watermillsub.NewSubscriber(watermillsub.Config{Conn: nc, Name: name, Workspace: created.ID})
		if err != nil {
			t.Fatal(err)
		}
		router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
		if err != nil {
			t.Fatal(err)
		}
		router.AddMiddleware(middleware.Recoverer)
		router.AddConsumerHandler("record", watermillsub.Topic, sub, func(msg *message.Message) error {
			return handled.record(t, run, msg)
		})
		done := make(chan error, 1)
		go func() { done <- router.Run(ctx) }()
		select {
		case <-router.Running():
		case err := <-done:
			t.Fatalf("router %d: %v", run, err)
		}
		return func() {
			if err := router.Close(); err != nil {
				t.Errorf("router %d: close: %v", run, err)
			}
			if err := <-done; err != nil {
				t.Errorf("router %d: %v", run, err)
			}
		}
	}
	// publish runs tasks to their end; want gets the event each ends with, in its run.
	publish := func(want map[eventKey]int, run, succeed, die int) {
		for i := range succeed + die {
			args := []string{"publish", "--kind", "demo.echo", "--args", fmt.Sprintf(`{"n":%d}`, i), "--wait", "--output", "json", "--data-dir", dataDir}
			typ, code := "task.succeeded", 0
			if i >= succeed {
				args[2], args[4] = "demo.steps", `{"steps":1,"fail_at":1,"fail_mode":"permanent"}`
				typ, code = "task.dead", 5
			}
			r := runMosaic(t, nil, args...)
			var task struct {
				ID uuid.UUID `json:"id"`
			}
			if r.code != code || json.Unmarshal([]byte(r.stdout), &task) != nil {
				t.Fatalf("publish %v: exit %d (want %d) %s %s", args, r.code, code, r.stdout, r.stderr)
			}
			want[eventKey{task.ID, typ}] = run
		}
	}

	// Run 1: tasks published while the router runs.
	want := map[eventKey]int{}
	stop := startRouter(1)
	publish(want, 1, 3, 1)
	handled.waitFor(ctx, t, want)
	waitSettled(ctx, t, js, name)
	stop()

	// Stopped: more tasks end, their events wait in EVENTS for the subscriber's name.
	publish(want, 2, 3, 1)

	// Run 2: a new router and subscriber under the same name go on where the first stopped.
	stop = startRouter(2)
	handled.waitFor(ctx, t, want)
	waitSettled(ctx, t, js, name)
	stop()

	handled.mu.Lock()
	defer handled.mu.Unlock()
	for id, n := range handled.byID {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	for k, n := range handled.byKey {
		if _, ok := want[k]; !ok {
			t.Errorf("handled an event nobody expected: %s of task %s", k.typ, k.task)
		} else if n != 1 {
			t.Errorf("%s of task %s handled %d times", k.typ, k.task, n)
		}
	}
	for k, run := range want {
		if got := handled.run[k]; got != run {
			t.Errorf("%s of task %s handled in run %d, want %d", k.typ, k.task, got, run)
		}
	}
	if len(handled.byID) != len(want) {
		t.Errorf("handled %d events, want %d", len(handled.byID), len(want))
	}
}
