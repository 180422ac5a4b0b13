package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// seedTask writes a task row (and one audit row) as a workspace's own transaction would, with the
// times the test needs.
func seedTask(t *testing.T, db *store.DB, ws uuid.UUID, status store.Status, created, finished time.Duration) uuid.UUID {
	t.Helper()
	id := store.NewID()
	now := time.Now()
	var fin *time.Time
	if finished > 0 {
		f := now.Add(-finished)
		fin = &f
	}
	err := db.InWorkspace(context.Background(), ws, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `INSERT INTO tasks (workspace_id, id, kind, status, created_at, finished_at)
			VALUES ($1, $2, 'demo.echo', $3, $4, $5)`, ws, id, status, now.Add(-created), fin); err != nil {
			return err
		}
		_, err := tx.Exec(context.Background(), `INSERT INTO task_events (workspace_id, task_id, type, status) VALUES ($1, $2, $3, $3)`, ws, id, status)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// seedDeadLetter writes a dead letter of task, replayed or discarded ago (0: waiting).
func seedDeadLetter(t *testing.T, db *store.DB, ws, task uuid.UUID, replayed, discarded time.Duration) uuid.UUID {
	t.Helper()
	id := store.NewID()
	at := func(d time.Duration) *time.Time {
		if d == 0 {
			return nil
		}
		v := time.Now().Add(-d)
		return &v
	}
	err := db.InWorkspace(context.Background(), ws, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO dead_letters (workspace_id, id, task_id, reason, error, subject, payload, replayed_at, discarded_at)
			VALUES ($1, $2, $3, 'permanent', 'boom', 'mosaic.tasks.p5.x.demo.echo', '\x7b7d', $4, $5)`, ws, id, task, at(replayed), at(discarded))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func exists(t *testing.T, db *store.DB, ws uuid.UUID, table string, id uuid.UUID) bool {
	t.Helper()
	return countRows(t, db, ws, `SELECT count(*) FROM `+table+` WHERE workspace_id = $1 AND id = $2`, ws, id) == 1
}

func TestCleanerDeletesWhatRetentionNoLongerKeeps(t *testing.T) {
	t.Parallel()
	db, dbURL := pgtest.FreshDB(t)
	ctx := context.Background()
	hour := time.Hour
	a, b := newWorkspace(t, db), newWorkspace(t, db)

	// Workspace a takes the process's defaults: an hour of everything.
	type want struct {
		table string
		ws    uuid.UUID
		id    uuid.UUID
		kept  bool
		why   string
	}
	var wants []want
	task := func(ws uuid.UUID, status store.Status, created, finished time.Duration, kept bool, why string) uuid.UUID {
		id := seedTask(t, db, ws, status, created, finished)
		wants = append(wants, want{"tasks", ws, id, kept, why})
		return id
	}
	var oldSucceeded []uuid.UUID
	for range 5 {
		oldSucceeded = append(oldSucceeded, task(a, "succeeded", 3*hour, 2*hour, false, "succeeded 2 h ago"))
	}
	task(a, "succeeded", 3*hour, 10*time.Minute, true, "succeeded 10 min ago (created 3 h ago)")
	task(a, "cancelled", 3*hour, 2*hour, false, "cancelled 2 h ago")
	task(a, "running", 3*hour, 0, true, "running")
	task(a, "queued", 3*hour, 0, true, "queued")
	task(a, "retrying", 3*hour, 0, true, "retrying")
	waiting := task(a, "dead", 3*hour, 2*hour, true, "dead with a waiting dead letter")
	wants = append(wants, want{"dead_letters", a, seedDeadLetter(t, db, a, waiting, 0, 0), true, "waiting dead letter"})
	discarded := task(a, "dead", 3*hour, 2*hour, false, "dead, its dead letter discarded")
	wants = append(wants, want{"dead_letters", a, seedDeadLetter(t, db, a, discarded, 0, 2*hour), false, "discarded 2 h ago"})
	recent := task(a, "dead", 3*hour, 2*hour, false, "dead, its dead letter discarded lately")
	wants = append(wants, want{"dead_letters", a, seedDeadLetter(t, db, a, recent, 0, 10*time.Minute), true, "discarded 10 min ago"})
	replayed := task(a, "succeeded", 3*hour, 10*time.Minute, true, "succeeded after a replay")
	wants = append(wants, want{"dead_letters", a, seedDeadLetter(t, db, a, replayed, 2*hour, 0), false, "replayed 2 h ago"})

	// Workspace b keeps succeeded tasks for good and cancelled ones 3 hours.
	keep, longer := time.Duration(0), 3*hour
	if err := db.SetWorkspaceRetention(ctx, b, store.RetentionOverrides{Succeeded: &keep, Cancelled: &longer}); err != nil {
		t.Fatal(err)
	}
	task(b, "succeeded", 30*24*hour, 29*24*hour, true, "b keeps succeeded tasks")
	task(b, "cancelled", 4*hour, 2*hour, true, "b keeps cancelled tasks 3 h")
	task(b, "dead", 3*hour, 2*hour, false, "b's dead: the default hour")

	var mu sync.Mutex
	deleted := map[string]int{}
	trails := 0
	passes := 0
	defaults := store.Retention{Succeeded: hour, Cancelled: hour, Dead: hour, DeadLetters: hour}
	c, err := store.NewCleaner(store.CleanerConfig{DB: db, Defaults: &defaults, BatchSize: 2,
		OnDeleted: func(class string, rows, trail int) { mu.Lock(); deleted[class] += rows; trails += trail; mu.Unlock() },
		OnPass:    func(time.Duration) { passes++ }})
	if err != nil {
		t.Fatal(err)
	}

	// Another process's pass holds the lock: this one leaves everything alone.
	holder, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	var ok bool
	if err := holder.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(0x6d6f73616963434c)).Scan(&ok); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if err := c.Pass(ctx); err != nil || passes != 0 || len(deleted) != 0 {
		t.Fatalf("a pass beside another's: err %v, passes %d, deleted %v", err, passes, deleted)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(0x6d6f73616963434c)); err != nil {
		t.Fatal(err)
	}

	if err := c.Pass(ctx); err != nil || passes != 1 {
		t.Fatalf("pass: %v (%d passes)", err, passes)
	}
	for _, w := range wants {
		if got := exists(t, db, w.ws, w.table, w.id); got != w.kept {
			t.Errorf("%s (%s): kept %v, want %v", w.why, w.table, got, w.kept)
		}
	}
	// a: 5 succeeded, 1 cancelled, 2 dead; b: 1 dead; 2 dead letters of a.
	wantDeleted := map[string]int{store.RetainSucceeded: 5, store.RetainCancelled: 1, store.RetainDead: 3, store.RetainDeadLetters: 2}
	for class, n := range wantDeleted {
		if deleted[class] != n {
			t.Errorf("deleted %s: %d, want %d (%v)", class, deleted[class], n, deleted)
		}
	}
	if trails != 9 {
		t.Errorf("audit rows deleted: %d, want 9 (one per deleted task)", trails)
	}
	if n := countRows(t, db, a, `SELECT count(*) FROM task_events WHERE workspace_id = $1 AND task_id = ANY($2)`, a, oldSucceeded); n != 0 {
		t.Errorf("%d audit rows of deleted tasks remain", n)
	}

	// A second pass finds nothing more.
	clear(deleted)
	if err := c.Pass(ctx); err != nil || len(deleted) != 0 {
		t.Fatalf("second pass: %v, deleted %v", err, deleted)
	}
}

func TestWorkspaceRetentionSettings(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	ws := newWorkspace(t, db)
	o, err := db.WorkspaceRetention(ctx, ws)
	if err != nil || o != (store.RetentionOverrides{}) {
		t.Fatalf("a new workspace's settings: %+v %v", o, err)
	}
	week, keep := 7*24*time.Hour, time.Duration(0)
	if err := db.SetWorkspaceRetention(ctx, ws, store.RetentionOverrides{Succeeded: &week, DeadLetters: &keep}); err != nil {
		t.Fatal(err)
	}
	o, err = db.WorkspaceRetention(ctx, ws)
	if err != nil || o.Succeeded == nil || *o.Succeeded != week || o.DeadLetters == nil || *o.DeadLetters != 0 || o.Cancelled != nil || o.Dead != nil {
		t.Fatalf("read back: %+v %v", o, err)
	}
	eff := o.Over(store.DefaultRetention)
	if eff.Succeeded != week || eff.DeadLetters != 0 || eff.Cancelled != store.DefaultRetention.Cancelled || eff.Dead != store.DefaultRetention.Dead {
		t.Fatalf("effective: %+v", eff)
	}
	for _, bad := range []time.Duration{-time.Second, 30 * time.Minute, time.Hour + 1500*time.Millisecond, store.MaxRetention + time.Second} {
		err := db.SetWorkspaceRetention(ctx, ws, store.RetentionOverrides{Cancelled: &bad})
		if err == nil || !strings.Contains(err.Error(), "retention of cancelled") {
			t.Errorf("retention %s: %v, want an error naming the class", bad, err)
		}
	}
	if err := db.SetWorkspaceRetention(ctx, ws, store.RetentionOverrides{}); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, ws, `SELECT count(*) FROM workspace_retention WHERE workspace_id = $1`, ws); n != 0 {
		t.Fatalf("no overrides left %d rows", n)
	}
}
