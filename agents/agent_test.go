package agents_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// One supervisor leads; when its process goes (its session ends), another takes over.
func TestSupervisorLeaderFailover(t *testing.T) {
	db, _ := pgtest.FreshDB(t) // the lock is per database: other tests' supervisors stay out
	ctx := context.Background()
	first, second := agents.NewSupervisor(agents.SupervisorConfig{DB: db, Interval: 100 * time.Millisecond}),
		agents.NewSupervisor(agents.SupervisorConfig{DB: db, Interval: 100 * time.Millisecond})
	ctx1, stop1 := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { _ = first.Run(ctx1); close(done1) }()
	waitUntil(t, "the first supervisor to lead", 5*time.Second, first.Leader)

	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	go func() { _ = second.Run(ctx2) }()
	time.Sleep(500 * time.Millisecond)
	if second.Leader() {
		t.Fatal("two supervisors lead at once")
	}
	stop1()
	<-done1
	waitUntil(t, "the second supervisor to take over", 5*time.Second, second.Leader)
}

// An operator's drain request reaches the agent at its next heartbeat; the agent reports draining,
// then stopped.
func TestAgentDrainRequest(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	drained := make(chan struct{})
	a, err := agents.StartAgent(ctx, agents.AgentConfig{DB: db, Name: "drain-me", Version: "test", Interval: 100 * time.Millisecond,
		OnDrain: func() { close(drained) }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if _, err := db.RequestDrain(ctx, a.ID(), "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("OnDrain was not called within 5s")
	}
	waitUntil(t, "the registry to show draining", 5*time.Second, func() bool { return agentState(t, db, a) == store.AgentDraining })
	a.Stop()
	if s := agentState(t, db, a); s != store.AgentStopped {
		t.Fatalf("after Stop: %s", s)
	}
	evs, err := db.AgentEvents(ctx, a.ID())
	if err != nil || len(evs) < 4 || evs[0].Type != "spawned" || evs[len(evs)-1].Type != store.AgentStopped {
		t.Fatalf("events: %+v %v", evs, err)
	}
}

func agentState(t *testing.T, db *store.DB, a *agents.Agent) string {
	t.Helper()
	list, err := db.ListAgents(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list {
		if x.ID == a.ID() {
			return x.State
		}
	}
	return ""
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A task whose message is gone (here: the stream purged; in life, PostgreSQL restored alone from
// before its messages were consumed) gets a new one from the supervisor once it has waited,
// unchanged, with nothing on its subject; it then runs once. A task whose subject holds a message,
// or whose message still waits in the outbox, is left alone.
func TestSupervisorRequeuesStrandedTasks(t *testing.T) {
	db, _ := pgtest.FreshDB(t) // the sweep walks every workspace: none of the other tests'
	b := setupOn(t, db)
	ctx := context.Background()
	// The default pool's consumer of band 5 exists (as after any start) but nothing consumes yet.
	if _, err := b.js.CreateOrUpdateConsumer(ctx, events.TasksStream, agents.ConsumerConfig(agents.PoolConfig{Name: "default"}, 5)); err != nil {
		t.Fatal(err)
	}
	lost := []uuid.UUID{b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"n": 1}}),
		b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"n": 2}})}
	waitUntil(t, "the relay to publish both", 5*time.Second, func() bool { return streamMsgs(t, b, events.TasksStream) == 2 })
	st, _ := b.js.Stream(ctx, events.TasksStream)
	if err := st.Purge(ctx); err != nil { // the messages are gone; the rows still say queued
		t.Fatal(err)
	}
	sup := agents.NewSupervisor(agents.SupervisorConfig{DB: db, JS: b.js, StrandedAfter: 300 * time.Millisecond})
	if n, err := sup.SweepStranded(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep before the tasks waited long enough: %d %v", n, err)
	}
	time.Sleep(400 * time.Millisecond)

	// A third task whose message is there: the consumer holds it, so nothing is touched.
	waiting := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"n": 3}})
	waitUntil(t, "the third message in the stream", 5*time.Second, func() bool { return streamMsgs(t, b, events.TasksStream) == 1 })
	time.Sleep(400 * time.Millisecond)
	if n, err := sup.SweepStranded(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep while the consumer holds a message: %d %v; want 0", n, err)
	}

	// The third task runs; with the consumer empty again, the two stranded ones are requeued.
	b.pool(t, agents.PoolConfig{Concurrency: 2, Priorities: []int{5}})
	b.wait(t, waiting, store.StatusSucceeded, 10*time.Second)
	b.waitDrained(t, 5, 1)
	for _, id := range lost {
		if task, _ := b.db.GetTask(ctx, b.ws, id); task.Status != store.StatusQueued {
			t.Fatalf("stranded task %s is %s before the sweep", id, task.Status)
		}
	}
	if n, err := sup.SweepStranded(ctx); err != nil || n != 2 {
		t.Fatalf("the sweep: %d %v; want the 2 stranded tasks", n, err)
	}
	for _, id := range lost {
		task := b.wait(t, id, store.StatusSucceeded, 10*time.Second)
		evs := b.events(t, id)
		if task.Generation != 1 || countEvents(evs, "requeued") != 1 || countEvents(evs, "running") != 1 {
			t.Fatalf("task %s: generation %d, events %+v; want one requeue and one run", id, task.Generation, evs)
		}
	}
	if n, err := sup.SweepStranded(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep after: %d %v", n, err)
	}

	// A task whose message still waits in the outbox (no relay takes this workspace, and this
	// client does not publish itself) is not stranded, however long it waits.
	other, err := b.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "t-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: b.registry})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	unrelayed, err := quiet.Publish(ctx, agents.TaskSpec{WorkspaceID: other.ID, Kind: "demo.echo"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if n, err := sup.SweepStranded(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep with the task's message in the outbox: %d %v; want 0", n, err)
	}
	if task, err := b.db.GetTask(ctx, other.ID, unrelayed.ID); err != nil || task.Generation != 0 {
		t.Fatalf("the unrelayed task: %+v %v", task, err)
	}
}

func streamMsgs(t *testing.T, b *testBundle, name string) uint64 {
	t.Helper()
	st, err := b.js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// An agent's heartbeat writes what its pools' handlers did per minute and priority; a pool whose
// name is the test's own tells its rows from other tests'.
func TestAgentWritesItsMinutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	name := "minutes" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	p := b.pool(t, agents.PoolConfig{Name: name, Concurrency: 4})
	a, err := agents.StartAgent(ctx, agents.AgentConfig{DB: b.db, Name: name, Version: "test", Pools: []*agents.Pool{p},
		Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	var ids []uuid.UUID
	for i := range 3 {
		ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "demo.echo", Priority: 2, Args: map[string]int{"i": i}}))
	}
	ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: map[string]any{"steps": 1, "fail_at": 1, "fail_mode": "permanent"}}))
	for _, id := range ids {
		b.wait(t, id, "", 20*time.Second)
	}
	var got map[int]store.MinuteStat
	waitUntil(t, "the heartbeat to write the minutes", 10*time.Second, func() bool {
		stats, err := b.db.FleetMinutes(ctx, time.Now().Add(-5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got = map[int]store.MinuteStat{}
		for _, s := range stats {
			if s.Pool == name {
				prev := got[s.Priority]
				prev.Add(s)
				got[s.Priority] = prev
			}
		}
		return got[2].Succeeded == 3 && got[5].Failed == 1
	})
	if got[5].Succeeded != 0 || len(got) != 2 {
		t.Fatalf("minutes of the pool: %+v", got)
	}
	for prio, s := range got {
		var n int32
		for _, c := range s.Run {
			n += c
		}
		if int(n) != s.Succeeded+s.Failed || store.Percentile(s.Wait, 0.5) < 0 {
			t.Errorf("priority %d: %d run times counted for %d runs; wait p50 %d", prio, n, s.Succeeded+s.Failed, store.Percentile(s.Wait, 0.5))
		}
	}
}
