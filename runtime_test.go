package mosaic_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic"
	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// napArgs make a test.nap task: it sleeps MS milliseconds, or until its context ends.
type napArgs struct {
	MS int `json:"ms"`
}

func (napArgs) Kind() string { return "test.nap" }

// testBundle is a database of the test's own (a runtime's services walk every workspace), an
// embedded JetStream server with the topology, a workspace, and what the nap handlers saw.
type testBundle struct {
	db  *store.DB
	nc  *nats.Conn
	js  jetstream.JetStream
	ws  uuid.UUID
	log zerolog.Logger

	mu     sync.Mutex
	causes []error // the cause of each nap's context when it ended early
	naps   chan struct{}
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel), naps: make(chan struct{}, 16)}
	b.db, _ = pgtest.FreshDB(t)
	b.nc, b.js = eventstest.Connect(t, eventstest.RunServer(t))
	ctx := context.Background()
	if _, err := events.ApplyTopology(ctx, b.js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	w, err := b.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "runtime"})
	if err != nil {
		t.Fatal(err)
	}
	b.ws = w.ID
	return b
}

// config is a runtime on the bundle with pools, running test.nap.
func (b *testBundle) config(pools ...agents.PoolConfig) mosaic.Config {
	reg := agents.NewRegistry()
	agents.AddWorker(reg, agents.WorkFunc[napArgs](func(ctx context.Context, job *agents.Job[napArgs]) error {
		b.naps <- struct{}{}
		select {
		case <-time.After(time.Duration(job.Args.MS) * time.Millisecond):
			return nil
		case <-ctx.Done():
			b.mu.Lock()
			b.causes = append(b.causes, context.Cause(ctx))
			b.mu.Unlock()
			return ctx.Err()
		}
	}))
	return mosaic.Config{DB: b.db, NC: b.nc, JS: b.js, Registry: reg, Pools: pools, WorkerName: "runtime-test",
		Heartbeat: 200 * time.Millisecond, Logger: &b.log}
}

func (b *testBundle) start(t *testing.T, cfg mosaic.Config) *mosaic.Runtime {
	t.Helper()
	rt, err := mosaic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.StopAndCancel(context.Background()) })
	return rt
}

func (b *testBundle) publish(t *testing.T, rt *mosaic.Runtime, ms int) uuid.UUID {
	t.Helper()
	p, err := rt.Client().Publish(context.Background(), agents.TaskSpec{WorkspaceID: b.ws, Kind: "test.nap", Args: napArgs{MS: ms}})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func (b *testBundle) waitStatus(t *testing.T, id uuid.UUID, status store.Status) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		task, err := b.db.GetTask(context.Background(), b.ws, id)
		if err == nil && task.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: status %q (err %v), want %s", id, task.Status, err, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *testBundle) waitNap(t *testing.T) {
	t.Helper()
	select {
	case <-b.naps:
	case <-time.After(30 * time.Second):
		t.Fatal("no handler started")
	}
}

// agent is this test's runtime in the agent registry ("" state: not registered).
func (b *testBundle) agentState(t *testing.T) string {
	t.Helper()
	list, err := b.db.ListAgents(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.Name == "runtime-test" {
			return a.State
		}
	}
	return ""
}

// A runtime with a pool of its own kind runs a task it publishes, reports itself to the agent
// registry, stops (recorded stopped), and runs once.
func TestRuntimeRunsItsKindsAndStops(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rt := b.start(t, b.config(agents.PoolConfig{Concurrency: 2}))
	if err := rt.Start(context.Background()); !errors.Is(err, mosaic.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	id := b.publish(t, rt, 0)
	b.waitStatus(t, id, store.StatusSucceeded)
	if got := b.agentState(t); got != store.AgentRunning {
		t.Fatalf("agent state %q, want running", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-rt.Stopped():
	default:
		t.Fatal("Stopped is open after Stop returned")
	}
	if got := b.agentState(t); got != store.AgentStopped {
		t.Fatalf("agent state %q after Stop, want stopped", got)
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
	if err := rt.Start(ctx); !errors.Is(err, mosaic.ErrStopped) {
		t.Fatalf("Start after Stop: %v, want ErrStopped", err)
	}
}

// Stop lets a running handler finish; StopAndCancel cancels it with agents.ErrShutdown, and so
// does StopAndCancel while a Stop is still draining.
func TestStopDrainsAndStopAndCancelInterrupts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	rt := b.start(t, b.config(agents.PoolConfig{Concurrency: 2}))
	id := b.publish(t, rt, 300)
	b.waitNap(t)
	if err := rt.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	b.waitStatus(t, id, store.StatusSucceeded)

	rt = b.start(t, b.config(agents.PoolConfig{Concurrency: 2}))
	b.publish(t, rt, 600_000)
	b.waitNap(t)
	if err := rt.StopAndCancel(ctx); err != nil {
		t.Fatalf("StopAndCancel: %v", err)
	}

	rt = b.start(t, b.config(agents.PoolConfig{Concurrency: 2}))
	b.publish(t, rt, 600_000)
	b.waitNap(t)
	draining := make(chan error, 1)
	go func() { draining <- rt.Stop(ctx) }() // no deadline: it would wait for the nap
	time.Sleep(100 * time.Millisecond)
	if err := rt.StopAndCancel(ctx); err != nil {
		t.Fatalf("StopAndCancel during Stop: %v", err)
	}
	if err := <-draining; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The second runtime's task, interrupted, comes back to the third: two or three naps ended.
	if len(b.causes) < 2 {
		t.Fatalf("%d handlers interrupted, want 2 or more", len(b.causes))
	}
	for _, cause := range b.causes {
		if !errors.Is(cause, agents.ErrShutdown) {
			t.Fatalf("handlers' causes %v, want ErrShutdown", b.causes)
		}
	}
}

// A Start that fails half-way stops what it started and leaves the runtime as New made it: no
// agent registered, no service failure, and Start can be tried again.
func TestStartStartsAllOrNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Two pools taking every kind of TASKS overlap on its work queue: the second cannot start,
	// after the services and the first pool have.
	rt, err := mosaic.New(b.config(agents.PoolConfig{Name: "first"}, agents.PoolConfig{Name: "second"}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := rt.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "pool second (TASKS)") {
			t.Fatalf("Start: %v, want the second pool's error", err)
		}
	}
	if got := b.agentState(t); got != "" {
		t.Fatalf("agent registered (%s) by a failed Start", got)
	}
	if rt.Err() != nil {
		t.Fatalf("Err after a failed Start: %v", rt.Err())
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after a failed Start: %v", err)
	}

	// A server without the topology: the advisory watcher's consumer fails the start, before
	// anything runs.
	cfg := b.config(agents.PoolConfig{})
	cfg.NC, cfg.JS = eventstest.Connect(t, eventstest.RunServer(t))
	rt, err = mosaic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "advisory watcher") {
		t.Fatalf("Start without the topology: %v, want the advisory watcher's error", err)
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A service that stops on its own closes Failed, and Err and Stop name it; the rest runs on.
func TestAServiceThatStopsSurfaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rt, err := mosaic.New(b.config(agents.PoolConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	mosaic.AddService(rt, "doomed", func(context.Context) error { return boom })
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rt.Failed():
	case <-time.After(30 * time.Second):
		t.Fatal("Failed not closed")
	}
	var se *mosaic.ServiceError
	if !errors.As(rt.Err(), &se) || se.Service != "doomed" || !errors.Is(rt.Err(), boom) {
		t.Fatalf("Err: %v, want the doomed service's boom", rt.Err())
	}
	id := b.publish(t, rt, 0) // the pools run on
	b.waitStatus(t, id, store.StatusSucceeded)
	if err := rt.Stop(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Stop: %v, want boom", err)
	}
}

// New names each field that is wrong, a pool's under Config.Pools[i].
func TestConfigNamesTheField(t *testing.T) {
	t.Parallel()
	_, err := mosaic.New(mosaic.Config{Heartbeat: -time.Second})
	for _, want := range []string{"Config.DB", "Config.NC", "Config.JS", "Config.Registry", "Config.Heartbeat"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Config{}): %v; want %s named", err, want)
		}
	}
	nc, js := eventstest.Connect(t, eventstest.RunServer(t))
	cfg := mosaic.Config{DB: &store.DB{}, NC: nc, JS: js, Registry: agents.NewRegistry(),
		Pools: []agents.PoolConfig{{}, {Concurrency: -1}}, Retention: &store.Retention{Dead: time.Minute}}
	_, err = mosaic.New(cfg)
	for _, want := range []string{"Config.Pools[1]: PoolConfig.Concurrency", "Config.Retention"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v; want %s named", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "Config.Pools[0]") {
		t.Errorf("New: %v; the first pool is fine", err)
	}
}
