package periodic_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/agents/periodic"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	db     *store.DB
	client *agents.Client
	ws     uuid.UUID
}

// setup gives a database of the test's own (schedulers walk every workspace), a NATS server, a
// client and a workspace. No pool runs: the runs' tasks stay queued.
func setup(t *testing.T) *testBundle {
	t.Helper()
	db, _ := pgtest.FreshDB(t)
	srv := eventstest.RunServer(t)
	_, js := eventstest.Connect(t, srv)
	if _, err := events.ApplyTopology(context.Background(), js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	reg := agents.NewRegistry()
	demo.Register(reg)
	client, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	w, err := db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "periodic-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{db: db, client: client, ws: w.ID}
}

// schedule stores a demo.echo schedule every `every`, first due at next.
func (b *testBundle) schedule(t *testing.T, name string, every time.Duration, next time.Time, overlap, missed string) store.Schedule {
	t.Helper()
	s, err := b.db.CreateSchedule(context.Background(), store.Schedule{WorkspaceID: b.ws, Name: name, Kind: "demo.echo",
		Args: json.RawMessage(`{"from":"` + name + `"}`), Priority: 5, Every: every, Overlap: overlap, Missed: missed,
		NextRunAt: next, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *testBundle) scheduler(t *testing.T) *periodic.Scheduler {
	t.Helper()
	s, err := periodic.NewScheduler(periodic.SchedulerConfig{DB: b.db, Client: b.client, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tasksOf counts the tasks each due time of schedule id published, from the tasks' metadata.
func (b *testBundle) tasksOf(t *testing.T, id uuid.UUID) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := b.db.InWorkspace(context.Background(), b.ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT metadata->>'scheduled_for', kind, args FROM tasks
			WHERE workspace_id = $1 AND metadata->>'schedule_id' = $2`, b.ws, id.String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var due, kind string
			var args json.RawMessage
			if err := rows.Scan(&due, &kind, &args); err != nil {
				return err
			}
			if kind != "demo.echo" {
				t.Errorf("a run's task has kind %q", kind)
			}
			out[due]++
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Three schedulers (three worker processes) fire one schedule every second for a few seconds:
// each due time gives exactly one task, and a run records it.
func TestExactlyOneTaskPerDueRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sch := b.schedule(t, "every-second", time.Second, time.Now().Truncate(time.Second), store.OverlapAllow, store.MissedRunOnce)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		s := b.scheduler(t)
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := b.db.GetSchedule(context.Background(), b.ws, sch.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Runs >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	got, err := b.db.GetSchedule(context.Background(), b.ws, sch.Name)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := b.db.ScheduleRuns(context.Background(), b.ws, sch.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	tasks := b.tasksOf(t, sch.ID)
	if got.Runs < 4 || int(got.Runs) != len(runs) || len(tasks) != len(runs) {
		t.Fatalf("runs counted %d, recorded %d, due times with tasks %d: want them equal, at least 4", got.Runs, len(runs), len(tasks))
	}
	for due, n := range tasks {
		if n != 1 {
			t.Errorf("due time %s published %d tasks", due, n)
		}
	}
	for i, r := range runs {
		if r.TaskID == nil || r.TaskStatus != store.StatusQueued || r.Skipped != "" {
			t.Errorf("run %d: %+v; want a queued task", i, r)
		}
		if i > 0 && !runs[i-1].DueAt.After(r.DueAt) {
			t.Errorf("runs %d and %d share a due time or go backwards: %s, %s", i-1, i, runs[i-1].DueAt, r.DueAt)
		}
	}
	if got.LastTaskID == nil || *got.LastTaskID != *runs[0].TaskID || !got.NextRunAt.After(runs[0].DueAt) {
		t.Errorf("schedule after its runs: last task %v, next %s; newest run %+v", got.LastTaskID, got.NextRunAt, runs[0])
	}
}

// Runs missed while nothing fired: run_once publishes one task for them all, skip publishes
// none and goes on at the next due time; an overlap "skip" schedule publishes nothing while its
// last task has not ended.
func TestMissedRunsAndOverlap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Hourly, first due 2.5 h ago: the latest due time passed half an hour ago, late.
	first := time.Now().Add(-150 * time.Minute).Truncate(time.Second)
	once := b.schedule(t, "catch-up", time.Hour, first, store.OverlapAllow, store.MissedRunOnce)
	skip := b.schedule(t, "skip-missed", time.Hour, first, store.OverlapAllow, store.MissedSkip)
	s := b.scheduler(t)
	if n, err := s.Tick(ctx); err != nil || n != 2 {
		t.Fatalf("tick: fired %d (%v); want 2", n, err)
	}
	if n, err := s.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("a second tick fired %d (%v): nothing is due", n, err)
	}
	for _, c := range []struct {
		s     store.Schedule
		tasks int
		skip  string
	}{{once, 1, ""}, {skip, 0, periodic.SkippedMissed}} {
		got, _ := b.db.GetSchedule(ctx, b.ws, c.s.Name)
		runs, err := b.db.ScheduleRuns(ctx, b.ws, c.s.ID, 0)
		if err != nil || len(runs) != 1 || runs[0].Skipped != c.skip || len(b.tasksOf(t, c.s.ID)) != c.tasks {
			t.Fatalf("%s: runs %+v (%v), tasks %v; want one run skipped %q, %d task", c.s.Name, runs, err, b.tasksOf(t, c.s.ID), c.skip, c.tasks)
		}
		// The run was for the latest due time that passed; the next is within the hour, on the grid.
		if since := time.Since(runs[0].DueAt); since < 29*time.Minute || since > 31*time.Minute || !got.NextRunAt.After(time.Now()) ||
			got.NextRunAt.After(time.Now().Add(time.Hour)) || (got.NextRunAt.Sub(first))%time.Hour != 0 {
			t.Fatalf("%s: run due %s, next %s", c.s.Name, runs[0].DueAt, got.NextRunAt)
		}
	}

	// Overlap skip: the first run's task stays queued (no pool runs), so the second is skipped.
	lap := b.schedule(t, "no-overlap", time.Second, time.Now().Add(-1500*time.Millisecond), store.OverlapSkip, store.MissedRunOnce)
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	forceDue(t, b, lap.ID)
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _ := b.db.ScheduleRuns(ctx, b.ws, lap.ID, 0)
	if len(runs) != 2 || runs[1].TaskID == nil || runs[0].Skipped != periodic.SkippedOverlap {
		t.Fatalf("overlap skip: runs %+v; want a task, then a run skipped for overlap", runs)
	}
	got, _ := b.db.GetSchedule(ctx, b.ws, lap.Name)
	if got.Runs != 1 || got.Skipped != 1 {
		t.Fatalf("overlap skip: runs %d, skipped %d", got.Runs, got.Skipped)
	}

	// Paused, nothing fires; resumed, the next due time is after now.
	forceDue(t, b, once.ID)
	if _, err := b.db.SetSchedulePaused(ctx, b.ws, once.Name, true, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("a paused schedule fired: %d %v", n, err)
	}
	tm, _ := periodic.TimingOf(once)
	resumed, err := b.db.SetSchedulePaused(ctx, b.ws, once.Name, false, func(s store.Schedule) (time.Time, error) {
		return tm.Next(s.NextRunAt, time.Now()), nil
	})
	if err != nil || resumed.PausedAt != nil || !resumed.NextRunAt.After(time.Now()) {
		t.Fatalf("resume: %+v %v", resumed, err)
	}
}

// forceDue makes a schedule due now, as if its time had come.
func forceDue(t *testing.T, b *testBundle, id uuid.UUID) {
	t.Helper()
	err := b.db.InWorkspace(context.Background(), b.ws, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE workspace_id = $1 AND id = $2`, b.ws, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
