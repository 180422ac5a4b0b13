package agents_test

import (
	"context"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/store"
)

// A paused pool takes nothing, also after a restart; resumed, it runs what waited. A paused
// workspace's tasks wait unclaimed while other workspaces' run.
func TestPausePoolAndWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pool := "pausable"
	first := b.pool(t, agents.PoolConfig{Name: pool, Priorities: []int{5}, Concurrency: 2, CapacityDelay: 50 * time.Millisecond})
	names, err := agents.PausePool(ctx, b.db, b.js, pool, time.Now().Add(time.Hour), "test")
	if err != nil || len(names) != 1 || names[0] != pool+"-p5" {
		t.Fatalf("pause: %v %v", names, err)
	}
	id := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"n": 1}})
	time.Sleep(time.Second)
	if task, _ := b.db.GetTask(ctx, b.ws, id); task.Status != store.StatusQueued {
		t.Fatalf("a task ran on a paused pool: %s", task.Status)
	}
	// A process that starts while the pool is paused starts paused.
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = first.Stop(stopCtx)
	cancel()
	b.pool(t, agents.PoolConfig{Name: pool, Priorities: []int{5}, Concurrency: 2, CapacityDelay: 50 * time.Millisecond})
	time.Sleep(time.Second)
	if task, _ := b.db.GetTask(ctx, b.ws, id); task.Status != store.StatusQueued {
		t.Fatalf("a restarted pool ignored its pause: %s", task.Status)
	}
	if _, err := agents.ResumePool(ctx, b.db, b.js, pool); err != nil {
		t.Fatal(err)
	}
	b.wait(t, id, store.StatusSucceeded, 10*time.Second)

	// Workspace pause.
	other := b.workspace(t)
	if err := b.db.SetWorkspacePaused(ctx, b.ws, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5500 * time.Millisecond) // the pools' cached limits expire (5 s)
	held := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"n": 2}})
	free := b.publish(t, agents.TaskSpec{WorkspaceID: other, Kind: "demo.echo", Args: map[string]any{"n": 3}})
	waitUntil(t, "the other workspace's task", 10*time.Second, func() bool {
		task, err := b.db.GetTask(ctx, other, free)
		return err == nil && task.Status == store.StatusSucceeded
	})
	if task, _ := b.db.GetTask(ctx, b.ws, held); task.Status != store.StatusQueued || task.Attempt != 0 {
		t.Fatalf("a paused workspace's task: %s attempt %d; want queued, never run", task.Status, task.Attempt)
	}
	if err := b.db.SetWorkspacePaused(ctx, b.ws, false); err != nil {
		t.Fatal(err)
	}
	b.wait(t, held, store.StatusSucceeded, 20*time.Second)
}
