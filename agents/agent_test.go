package agents_test

import (
	"context"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents"
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
