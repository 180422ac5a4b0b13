package agents_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBundle is a real PostgreSQL database, a real embedded JetStream server with Mosaic's
// topology, a running outbox relay, a client and a workspace of the test's own.
type testBundle struct {
	db       *store.DB
	srv      *events.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	registry *agents.Registry
	client   *agents.Client
	ws       uuid.UUID
	log      zerolog.Logger
	mu       sync.Mutex
	own      map[uuid.UUID]bool
}

func setup(t testing.TB, register ...func(*agents.Registry)) *testBundle {
	t.Helper()
	return setupOn(t, pgtest.DB(t), register...)
}

// setupOn is setup on a database of the test's choosing (pgtest.FreshDB).
func setupOn(t testing.TB, db *store.DB, register ...func(*agents.Registry)) *testBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := &testBundle{own: map[uuid.UUID]bool{}, db: db, srv: eventstest.RunServer(t), log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	b.nc, b.js = eventstest.Connect(t, b.srv)
	if _, err := events.ApplyTopology(ctx, b.js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	b.registry = agents.NewRegistry()
	demo.Register(b.registry)
	for _, r := range register {
		r(b.registry)
	}
	var err error
	if b.client, err = agents.NewClient(agents.ClientConfig{DB: b.db, Registry: b.registry, JS: b.js}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.client.Close)
	// Test packages share one database; each test has its own NATS server, so its relay takes
	// only its own workspaces.
	relay := outbox.NewRelay(outbox.RelayConfig{DB: b.db, JS: b.js, SweepInterval: 200 * time.Millisecond,
		Accept: func(ws uuid.UUID) bool { b.mu.Lock(); defer b.mu.Unlock(); return b.own[ws] }})
	go relay.Run(ctx)
	b.ws = b.workspace(t)
	return b
}

// workspace creates a workspace of the test's own.
func (b *testBundle) workspace(t testing.TB) uuid.UUID {
	t.Helper()
	w, err := b.db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "t-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.own[w.ID] = true
	b.mu.Unlock()
	return w.ID
}

// pool starts a pool on the bundle's server; it is stopped at cleanup.
func (b *testBundle) pool(t testing.TB, cfg agents.PoolConfig) *agents.Pool {
	t.Helper()
	cfg.DB, cfg.JS, cfg.NC, cfg.Registry = b.db, b.js, b.nc, b.registry
	if cfg.AckWait == 0 {
		cfg.AckWait = 2 * time.Second
	}
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = agents.ExponentialBackoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	}
	if cfg.Logger == nil {
		cfg.Logger = &b.log
	}
	p, err := agents.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}

func (b *testBundle) publish(t *testing.T, spec agents.TaskSpec) uuid.UUID {
	t.Helper()
	if spec.WorkspaceID == uuid.Nil {
		spec.WorkspaceID = b.ws
	}
	res, err := b.client.Publish(context.Background(), spec)
	if err != nil {
		t.Fatalf("publish %s: %v", spec.Kind, err)
	}
	return res.ID
}

// wait polls a task until it reaches status (or any terminal status when status is "").
func (b *testBundle) wait(t *testing.T, id uuid.UUID, status store.Status, within time.Duration) store.Task {
	t.Helper()
	deadline := time.Now().Add(within)
	var task store.Task
	for time.Now().Before(deadline) {
		var err error
		task, err = b.db.GetTask(context.Background(), b.ws, id)
		if err == nil && (task.Status == status || status == "" && store.Terminal(task.Status)) {
			return task
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s: status %q after %s; want %q (last error %v)", id, task.Status, within, status, deref(task.LastError))
	return task
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func (b *testBundle) events(t *testing.T, id uuid.UUID) []store.TaskEvent {
	t.Helper()
	evs, err := b.db.TaskEvents(context.Background(), b.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// countEvents counts the events of a type (a status names the event of that transition).
func countEvents[T ~string](evs []store.TaskEvent, typ T) int {
	n := 0
	for _, e := range evs {
		if e.Type == string(typ) {
			n++
		}
	}
	return n
}

// waitDrained waits until a band's consumer has delivered at least delivered messages and holds
// none: every message was settled.
func (b *testBundle) waitDrained(t *testing.T, priority int, delivered uint64) {
	t.Helper()
	ctx := context.Background()
	cons, err := b.js.Consumer(ctx, events.TasksStream, agents.ConsumerName("default", priority))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ci, err := cons.Info(ctx)
		if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.Delivered.Consumer >= delivered {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s still holds messages: %+v", cons.CachedInfo().Name, ci)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
