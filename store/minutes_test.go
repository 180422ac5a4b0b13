package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMinuteBucketsAndPercentiles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {time.Millisecond, 0}, {1500 * time.Microsecond, 0}, {3 * time.Millisecond, 2}, {time.Second, 9}, {time.Hour, len(store.MinuteBoundsMS)}} {
		if got := store.MinuteBucket(c.d); got != c.want {
			t.Errorf("MinuteBucket(%s) = %d, want %d", c.d, got, c.want)
		}
	}
	counts := make([]int32, len(store.MinuteBoundsMS)+1)
	if got := store.Percentile(counts, 0.5); got != -1 {
		t.Fatalf("no runs: %d, want -1", got)
	}
	counts[store.MinuteBucket(3*time.Millisecond)] = 90 // ≤ 5 ms
	counts[store.MinuteBucket(700*time.Millisecond)] = 9
	counts[len(counts)-1] = 1 // longer than every bound
	for _, c := range []struct {
		q    float64
		want int32
	}{{0.5, 5}, {0.9, 5}, {0.95, 1000}, {0.99, 1000}, {1, 300000}} {
		if got := store.Percentile(counts, c.q); got != c.want {
			t.Errorf("p%v = %d, want %d", c.q*100, got, c.want)
		}
	}
}

func TestAgentMinutesSumOverAgents(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	pool := "minutes-" + uuid.NewString()[:8]
	minute := time.Now().Truncate(time.Minute)
	stat := func(prio, ok, failed int, waitMS time.Duration) store.MinuteStat {
		w := make([]int32, len(store.MinuteBoundsMS)+1)
		r := make([]int32, len(store.MinuteBoundsMS)+1)
		w[store.MinuteBucket(waitMS)] = int32(ok + failed)
		r[0] = int32(ok + failed)
		return store.MinuteStat{Minute: minute, Pool: pool, Stream: "TASKS", Priority: prio, Succeeded: ok, Failed: failed, Wait: w, Run: r}
	}
	var ids []uuid.UUID
	for range 2 {
		id := store.NewID()
		if err := db.RegisterAgent(ctx, store.Agent{ID: id, Name: "m", Host: "h", PID: 1, Version: "t", HeartbeatInterval: time.Second}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Agent 0 writes its minute twice (the second with its totals so far: it replaces the first),
	// and a minute older than an hour, which the cleaner's ForgetOldMinutes drops.
	old := stat(5, 1, 0, time.Millisecond)
	old.Minute = minute.Add(-2 * time.Hour)
	if err := db.WriteAgentMinutes(ctx, ids[0], []store.MinuteStat{stat(5, 1, 0, time.Millisecond), old}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteAgentMinutes(ctx, ids[0], []store.MinuteStat{stat(5, 3, 1, time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteAgentMinutes(ctx, ids[1], []store.MinuteStat{stat(5, 2, 0, 40*time.Millisecond), stat(1, 7, 0, time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetOldMinutes(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := db.FleetMinutes(ctx, minute.Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]store.MinuteStat{}
	for _, s := range all {
		if s.Pool == pool {
			if !s.Minute.Equal(minute) {
				t.Errorf("a minute older than an hour is still there: %s", s.Minute)
			}
			got[s.Priority] = s
		}
	}
	p5, p1 := got[5], got[1]
	if len(got) != 2 || p5.Succeeded != 5 || p5.Failed != 1 || p1.Succeeded != 7 {
		t.Fatalf("summed over agents: %+v", got)
	}
	if w := store.Percentile(p5.Wait, 0.5); w != 1 {
		t.Errorf("p5 wait p50 = %d ms, want 1 (4 of 6 waits ≤ 1 ms)", w)
	}
	if w := store.Percentile(p5.Wait, 0.95); w != 50 {
		t.Errorf("p5 wait p95 = %d ms, want 50", w)
	}
}

// The overview's counts: every workspace in one statement, each as CountTasks counts it alone.
func TestCountTasksOfWorkspaces(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	a, b, empty := newWorkspace(t, db), newWorkspace(t, db), newWorkspace(t, db)
	seedTask(t, db, a, store.StatusRunning, time.Minute, 0)
	seedTask(t, db, a, store.StatusQueued, time.Minute, 0)
	seedTask(t, db, a, store.StatusDead, time.Minute, 10*time.Minute)
	seedTask(t, db, b, store.StatusDead, 3*time.Hour, 2*time.Hour)
	seedTask(t, db, b, store.StatusSucceeded, time.Minute, time.Second)
	all, err := db.CountTasksOfWorkspaces(ctx, []uuid.UUID{a, b, empty})
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range []uuid.UUID{a, b, empty} {
		one, err := db.CountTasks(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		got := all[ws]
		if got.DeadLastHour != one.DeadLastHour || len(got.ByStatus) != len(one.ByStatus) {
			t.Fatalf("workspace %s: together %+v, alone %+v", ws, got, one)
		}
		for st, n := range one.ByStatus {
			if got.ByStatus[st] != n {
				t.Errorf("workspace %s, %s: together %d, alone %d", ws, st, got.ByStatus[st], n)
			}
		}
	}
	if all[a].ByStatus[store.StatusRunning] != 1 || all[a].DeadLastHour != 1 || all[b].DeadLastHour != 0 || all[b].ByStatus[store.StatusDead] != 1 {
		t.Fatalf("counts: a %+v, b %+v", all[a], all[b])
	}
}
