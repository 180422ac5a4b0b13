package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// TestClaimRuleMatchesSQL holds the claim rule's two forms together: for task rows in every
// state that matters (fence, generation, status, cancellation, attempts left, never claimed) and
// claims by canonical and other messages, PeekResult.Claim (Go, which decides whether a delivery
// runs before it writes) predicts exactly what the claim statement (SQL, which decides) does.
func TestClaimRuleMatchesSQL(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	type row struct {
		status              string
		fence               int64
		generation, attempt int
		maxAttempts         int
		cancel              bool
	}
	rows := []row{
		{status: "queued", maxAttempts: 3},
		{status: "queued", fence: 5, attempt: 1, maxAttempts: 3},
		{status: "retrying", fence: 5, attempt: 1, maxAttempts: 3},
		{status: "running", fence: 5, attempt: 1, maxAttempts: 3},
		{status: "running", fence: 9, attempt: 1, maxAttempts: 3},
		{status: "retrying", fence: 5, attempt: 3, maxAttempts: 3},
		{status: "queued", maxAttempts: 3, cancel: true},
		{status: "succeeded", fence: 5, attempt: 1, maxAttempts: 3},
		{status: "queued", generation: 2, maxAttempts: 3},
		{status: "scheduled", maxAttempts: 3},
	}
	type claim struct {
		fence      int64
		generation int
		canonical  bool
	}
	claims := []claim{{7, 0, true}, {7, 0, false}, {5, 0, true}, {7, 2, true}, {7, 1, true}}
	checked := 0
	for i, r := range rows {
		for j, c := range claims {
			t.Run(fmt.Sprintf("row%d-claim%d", i, j), func(t *testing.T) {
				id := store.NewID()
				task := store.NewTask{WorkspaceID: ws, ID: id, Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
					Args: json.RawMessage(`{}`), MaxAttempts: r.maxAttempts, Generation: c.generation}
				err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
					if _, err := store.InsertTasks(ctx, tx, []store.NewTask{task}, []store.OutboxMessage{{WorkspaceID: ws, MsgID: id.String(), Subject: "s", Payload: []byte("{}")}}, 0); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE tasks SET status = $2, fence = $3, generation = $4, attempt = $5,
						cancel_requested_at = CASE WHEN $6 THEN now() END WHERE id = $1`, id, r.status, r.fence, r.generation, r.attempt, r.cancel)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				params := store.ClaimParams{Task: task, Fence: c.fence, MsgSeq: 1, Worker: "w", Lease: time.Minute, Canonical: c.canonical}
				peek, err := db.RunBatch(ctx, store.BatchOps{Peeks: []store.TaskRef{{WorkspaceID: ws, ID: id}}})
				if err != nil {
					t.Fatal(err)
				}
				predicted := peek.Peeks[0].Claim(params).Outcome == store.Claimed
				got, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, Claims: []store.ClaimParams{params}})
				if err != nil {
					t.Fatal(err)
				}
				if claimed := got.Claims[0].Outcome == store.Claimed; claimed != predicted {
					t.Fatalf("row %+v, claim %+v: the SQL claimed %v, PeekResult.Claim predicted %v", r, c, claimed, predicted)
				}
				checked++
			})
		}
	}
	if checked != len(rows)*len(claims) {
		t.Fatalf("checked %d cases of %d", checked, len(rows)*len(claims))
	}
}

// TestBatchSpansWorkspacesBehindTheBatchDoor: one batch claims and ends tasks of several
// workspaces in one transaction, each row in its own workspace; the batch door (the list of a
// batch's workspaces) admits those workspaces' rows and no other's.
func TestBatchSpansWorkspacesBehindTheBatchDoor(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	a, b, c := newWorkspace(t, db), newWorkspace(t, db), newWorkspace(t, db)
	var claims []store.ClaimParams
	for _, ws := range []uuid.UUID{a, b, a, b} {
		task := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
			Args: json.RawMessage(`{}`), MaxAttempts: 3}
		claims = append(claims, store.ClaimParams{Task: task, Fence: 1, MsgSeq: 1, Canonical: true})
	}
	res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	var fin store.BatchOps
	for i, r := range res.Claims {
		if r.Outcome != store.Claimed || r.Attempt != 1 {
			t.Fatalf("claim %d: %+v", i, r)
		}
		tk := claims[i].Task
		fin.Finishes = append(fin.Finishes, store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: tk.WorkspaceID, ID: tk.ID, Fence: 1},
			Status: store.StatusSucceeded, Result: json.RawMessage(`{"ok":true}`),
			Outbox: []store.OutboxMessage{{WorkspaceID: tk.WorkspaceID, MsgID: tk.ID.String(), Subject: "mosaic.events.x.task.succeeded", Payload: []byte(`{}`)}}})
	}
	fin.Worker = "w"
	done, err := db.RunBatch(ctx, fin)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range done.Finishes {
		if f.Fenced {
			t.Fatalf("finish %d fenced", i)
		}
	}
	for _, ws := range []uuid.UUID{a, b} {
		if n := countRows(t, db, ws, "SELECT count(*) FROM tasks WHERE status = 'succeeded'"); n != 2 {
			t.Fatalf("workspace %s: %d succeeded tasks; want 2 (each row in its own workspace)", ws, n)
		}
		if n := countRows(t, db, ws, "SELECT count(*) FROM outbox"); n != 1 {
			t.Fatalf("workspace %s: %d outbox rows; want its own bundle", ws, n)
		}
	}
	if n := countRows(t, db, c, "SELECT count(*) FROM tasks"); n != 0 {
		t.Fatalf("workspace c has %d tasks", n)
	}

	// The door itself: listing a admits a's rows, not b's, and writes only into a.
	conn := pgtest.Conn(t)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT set_config('role', $1, true), set_config('mosaic.workspace_ids', $2, true)", store.RuntimeRole, a.String()); err != nil {
		t.Fatal(err)
	}
	var seenA, seenB int
	if err := tx.QueryRow(ctx, "SELECT count(*) FILTER (WHERE workspace_id = $1), count(*) FILTER (WHERE workspace_id = $2) FROM tasks", a, b).Scan(&seenA, &seenB); err != nil {
		t.Fatal(err)
	}
	if seenA != 2 || seenB != 0 {
		t.Fatalf("behind a door listing a: sees %d of a's tasks and %d of b's; want 2 and 0", seenA, seenB)
	}
	_, err = tx.Exec(ctx, "UPDATE tasks SET workspace_id = $1 WHERE workspace_id = $2", b, a)
	if !store.IsRLSViolation(err) {
		t.Fatalf("moving a's rows into b behind a door listing a: %v; want a row-level security violation", err)
	}
}

// TestAClaimTakesARowInsertedWhileItRan: a delivery can reach a task before its publisher's row
// commits (JetStream accepted the message first). Its claim, which would insert the row, waits on
// the publisher's uncommitted insert and, once that commits, neither sees nor inserts the row;
// RunBatch must then claim the row it finds, not report the task as unclaimable.
func TestAClaimTakesARowInsertedWhileItRan(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	id := store.NewID()
	task := store.NewTask{WorkspaceID: ws, ID: id, Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: json.RawMessage(`{}`), MaxAttempts: 3}

	tx := workspaceTx(t, ws) // the publisher's
	if _, err := store.InsertTasks(ctx, tx, []store.NewTask{task}, []store.OutboxMessage{{WorkspaceID: ws, MsgID: "m"}}, 0); err != nil {
		t.Fatal(err)
	}

	type result struct {
		res store.BatchResults
		err error
	}
	done := make(chan result, 1)
	go func() {
		f := store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: ws, ID: id, Fence: 1}, Status: store.StatusSucceeded, Result: json.RawMessage(`null`)}
		res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, ClaimFinishes: []store.ClaimFinish{{
			Claim: store.ClaimParams{Task: task, Fence: 1, MsgSeq: 1, Canonical: true}, Finish: f}}})
		done <- result{res, err}
	}()
	// The claim is under way when it waits for the publisher's insert.
	waitForALockWait(t, "the claim never waited for the publisher's insert")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := r.res.ClaimFinishes[0]; got.Outcome != store.Claimed || got.Attempt != 1 {
		t.Fatalf("claim after the row appeared: %+v", got)
	}
	got, err := db.GetTask(ctx, ws, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusSucceeded || got.Attempt != 1 {
		t.Fatalf("task %s, attempt %d", got.Status, got.Attempt)
	}
}

// TestAPublishOutlivesADeadlockWithADelivery: a delivery that wrote its task's row before the
// publisher (it ran first) holds it, and goes on to insert another row of the same publish, which
// the publisher's insert holds while it waits for the first: PostgreSQL breaks the deadlock by
// failing the publish's insert (it waited first), which is tried again and succeeds.
func TestAPublishOutlivesADeadlockWithADelivery(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	mk := func() store.NewTask {
		return store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
			Args: json.RawMessage(`{}`), MaxAttempts: 3}
	}
	first, ran := mk(), mk() // first sorts before ran: the publish inserts it first
	if _, err := db.PublishTasks(ctx, ws, []store.NewTask{ran}, []store.OutboxMessage{{WorkspaceID: ws}}, 0); err != nil {
		t.Fatal(err)
	}
	tx := workspaceTx(t, ws) // the delivery's
	if _, err := tx.Exec(ctx, `UPDATE tasks SET updated_at = now() WHERE workspace_id = $1 AND id = $2`, ws, ran.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.PublishTasks(ctx, ws, []store.NewTask{first, ran}, []store.OutboxMessage{{WorkspaceID: ws}, {WorkspaceID: ws}}, 0)
		done <- err
	}()
	waitForALockWait(t, "the publish never waited for the delivery's row")
	// The delivery now waits for the publish's row: a circle.
	if _, err := tx.Exec(ctx, `INSERT INTO tasks (workspace_id, id, kind) VALUES ($1, $2, 'demo.echo') ON CONFLICT DO NOTHING`, ws, first.ID); err != nil {
		t.Fatalf("the delivery's insert: %v (the publish, which waited first, should have been failed)", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the publish after the deadlock: %v", err)
	}
}

// TestARawClaimDoesNotTakeAnotherTasksKey: a message for a task with no row, whose idempotency
// key another task holds, is a duplicate of that task: its claim (alone, or with its end) takes
// nothing and fails nothing else in its batch, and the task with the key is untouched.
func TestARawClaimDoesNotTakeAnotherTasksKey(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	holder := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: json.RawMessage(`{}`), MaxAttempts: 3, IdempotencyKey: "order-7"}
	if _, err := db.PublishTasks(ctx, ws, []store.NewTask{holder}, []store.OutboxMessage{{WorkspaceID: ws}}, 0); err != nil {
		t.Fatal(err)
	}
	raw := func() store.NewTask {
		return store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
			Args: json.RawMessage(`{}`), MaxAttempts: 3, IdempotencyKey: "order-7"}
	}
	other := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: json.RawMessage(`{}`), MaxAttempts: 3}
	claimed, ended := raw(), raw()
	end := func(t store.NewTask) store.ClaimFinish {
		return store.ClaimFinish{Claim: store.ClaimParams{Task: t, Fence: 1, MsgSeq: 1, Canonical: true},
			Finish: store.Finish{Status: store.StatusSucceeded, Result: json.RawMessage(`null`)}}
	}
	res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute,
		Claims:        []store.ClaimParams{{Task: claimed, Fence: 1, MsgSeq: 2, Canonical: true}},
		ClaimFinishes: []store.ClaimFinish{end(ended), end(other)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Claims[0].Outcome; got != store.Duplicate {
		t.Errorf("claim of a raw task with a taken key: outcome %v; want Duplicate", got)
	}
	if got := res.ClaimFinishes[0].Outcome; got != store.Duplicate {
		t.Errorf("claim and end of a raw task with a taken key: outcome %v; want Duplicate", got)
	}
	if got := res.ClaimFinishes[1].Outcome; got != store.Claimed {
		t.Errorf("the other task in the batch: outcome %v; want Claimed", got)
	}
	for _, id := range []uuid.UUID{claimed.ID, ended.ID} {
		if _, err := db.GetTask(ctx, ws, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("task %s was written (%v)", id, err)
		}
	}
	if got, err := db.GetTask(ctx, ws, holder.ID); err != nil || got.Status != store.StatusQueued || got.Attempt != 0 {
		t.Fatalf("the key's task: %+v, %v", got, err)
	}
}

// TestAShortAttemptKeepsBothTransitions: a delivery that claims and ends its task in one write
// with success writes no audit row (its trail is in the task's row), and the task's events still
// show both transitions, "running" when the handler started and the end, by the worker that ran
// it, with unique ids in the order they happened. A retry writes that trail out before it uses the
// row again, so that the first run's transitions stay, and a second short run adds its own.
func TestAShortAttemptKeepsBothTransitions(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	task := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: json.RawMessage(`{}`), MaxAttempts: 3}
	if _, err := db.PublishTasks(ctx, ws, []store.NewTask{task}, []store.OutboxMessage{{WorkspaceID: ws}}, 0); err != nil {
		t.Fatal(err)
	}
	run := func(worker string, fence int64) time.Time {
		t.Helper()
		started := time.Now().UTC().Truncate(time.Microsecond)
		tk := task
		tk.Generation = int(fence >> 32)
		res, err := db.RunBatch(ctx, store.BatchOps{Worker: worker, Lease: time.Minute, ClaimFinishes: []store.ClaimFinish{{
			Claim:  store.ClaimParams{Task: tk, Fence: fence, MsgSeq: 1, Canonical: true, Exists: true, StartedAt: started},
			Finish: store.Finish{Status: store.StatusSucceeded, Result: json.RawMessage(`{"ok":true}`)}}}})
		if err != nil || res.ClaimFinishes[0].Outcome != store.Claimed {
			t.Fatalf("claim and end: %+v %v", res, err)
		}
		return started
	}
	// trail reads the task's events and checks their types (in order, unless sorted: then as a
	// set) and, in order, that ids follow time.
	trail := func(want string, sorted bool) []store.TaskEvent {
		t.Helper()
		evs, err := db.TaskEvents(ctx, ws, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, e := range evs {
			got = append(got, e.Type)
			if !sorted && i > 0 && (e.ID <= evs[i-1].ID || e.At.Before(evs[i-1].At)) { // in this task's life, ids follow time
				t.Fatalf("events out of order or with repeated ids: %+v", evs)
			}
		}
		if sorted {
			slices.Sort(got)
		}
		if fmt.Sprint(got) != want {
			t.Fatalf("events %v, want %s", got, want)
		}
		return evs
	}
	conn := pgtest.Conn(t)
	if _, err := conn.Exec(ctx, `SELECT set_config('mosaic.workspace_id', $1, false)`, ws.String()); err != nil {
		t.Fatal(err)
	}
	auditRows := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM task_events WHERE task_id = $1`, task.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	started := run("w1", 1)
	evs := trail("[published running succeeded]", false)
	if r := evs[1]; !r.At.Equal(started) || r.Worker != "w1" || r.Attempt != 1 || r.Fence != 1 || r.Status != "running" {
		t.Fatalf("the running transition: %+v (started %s)", r, started)
	}
	got, err := db.GetTask(ctx, ws, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[2]; !e.At.Equal(*got.FinishedAt) || e.Worker != "w1" || e.Attempt != 1 || e.Fence != 1 || e.Status != "succeeded" {
		t.Fatalf("the end: %+v (task %+v)", e, got)
	}
	if got.Worker == nil || *got.Worker != "w1" {
		t.Fatalf("a succeeded task names the worker that ran it: %v", got.Worker)
	}
	if n := auditRows(); n != 0 {
		t.Fatalf("%d audit rows for a queued task and one short successful attempt, want none: its row holds the trail", n)
	}
	if p := evs[0]; !p.At.Equal(got.CreatedAt) || p.Status != "queued" || p.Attempt != 0 || p.Fence != 0 || p.Worker != "" || p.ID != 0 {
		t.Fatalf("the published transition: %+v (task created %s)", p, got.CreatedAt)
	}

	retried, err := db.RetryTask(ctx, ws, task.ID, false, "test", func(tk store.Task) store.OutboxMessage {
		return store.OutboxMessage{WorkspaceID: ws, MsgID: tk.ID.String() + ":retry", Subject: "mosaic.tasks.test", Payload: []byte(`{}`)}
	})
	if err != nil {
		t.Fatal(err)
	}
	first := trail("[published running succeeded retried]", false)
	if first[1].Worker != "w1" || first[2].Fence != 1 || !first[1].At.Equal(started) {
		t.Fatalf("the first run after the retry: %+v", first)
	}
	if n := auditRows(); n != 2 {
		t.Fatalf("%d audit rows after the retry, want 2 (the first run, retried)", n)
	}
	// The first run ended a moment ago: its task.succeeded (which the process that ended it might
	// not have sent) is queued again, with its end's id.
	queued := func(fence int64) (n int) {
		t.Helper()
		id := events.SucceededEvent(ws, task.ID, "demo.echo", 1, fence).ID.String()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE msg_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := queued(1); n != 1 {
		t.Fatalf("%d outbox rows of the first run's task.succeeded after a retry right after it, want 1", n)
	}
	if _, err := db.RetryTask(ctx, ws, task.ID, false, "test", nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("retry a queued task: %v, want a conflict", err)
	}
	second := int64(retried.Generation)<<32 | 1
	run("w2", second)
	evs = trail("[published running succeeded retried running succeeded]", false)
	if evs[4].Worker != "w2" || evs[5].Worker != "w2" || evs[1].Worker != "w1" {
		t.Fatalf("two runs: %+v", evs)
	}
	// A success long past: a retry queues no event (JetStream would no longer drop it as a copy).
	if _, err := conn.Exec(ctx, `UPDATE tasks SET finished_at = now() - interval '1 hour' WHERE id = $1`, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RetryTask(ctx, ws, task.ID, false, "test", func(tk store.Task) store.OutboxMessage {
		return store.OutboxMessage{WorkspaceID: ws, MsgID: tk.ID.String() + ":retry2", Subject: "mosaic.tasks.test", Payload: []byte(`{}`)}
	}); err != nil {
		t.Fatal(err)
	}
	if n := queued(second); n != 0 {
		t.Fatalf("%d outbox rows of an hour-old success's task.succeeded after a retry, want 0", n)
	}
	trail("[published retried retried running running succeeded succeeded]", true) // the second end, moved an hour back, sorts first
}

// TestThePublishedTransitionOfAQueuedTaskIsItsRow: publishing a queued task writes no audit row
// (its row's creation is the transition), a scheduled one writes its own (once due, its row no
// longer says it was scheduled), and a task whose row its delivery wrote (a raw message) reads
// as published no later than it ran.
func TestThePublishedTransitionOfAQueuedTaskIsItsRow(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	conn := pgtest.Conn(t)
	if _, err := conn.Exec(ctx, `SELECT set_config('mosaic.workspace_id', $1, false)`, ws.String()); err != nil {
		t.Fatal(err)
	}
	check := func(id uuid.UUID, rows int, want string) []store.TaskEvent {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM task_events WHERE task_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		evs, err := db.TaskEvents(ctx, ws, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+":"+string(e.Status))
		}
		if n != rows || fmt.Sprint(got) != want {
			t.Fatalf("%d audit rows, transitions %v; want %d and %s", n, got, rows, want)
		}
		return evs
	}
	queued := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: json.RawMessage(`{}`), MaxAttempts: 3}
	later := time.Now().Add(time.Hour)
	scheduled := queued
	scheduled.ID, scheduled.Status, scheduled.RunAt = store.NewID(), store.StatusScheduled, &later
	if _, err := db.PublishTasks(ctx, ws, []store.NewTask{queued, scheduled}, []store.OutboxMessage{{WorkspaceID: ws}, {WorkspaceID: ws}}, 0); err != nil {
		t.Fatal(err)
	}
	evs := check(queued.ID, 0, "[published:queued]")
	got, err := db.GetTask(ctx, ws, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !evs[0].At.Equal(got.CreatedAt) {
		t.Fatalf("published at %s, created at %s", evs[0].At, got.CreatedAt)
	}
	check(scheduled.ID, 1, "[published:scheduled]")

	raw := queued
	raw.ID = store.NewID()
	started := time.Now().Add(-50 * time.Millisecond).UTC().Truncate(time.Microsecond) // the handler ran a while
	res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, ClaimFinishes: []store.ClaimFinish{{
		Claim:  store.ClaimParams{Task: raw, Fence: 1, MsgSeq: 7, StartedAt: started},
		Finish: store.Finish{Status: store.StatusSucceeded, Result: json.RawMessage(`null`)}}}})
	if err != nil || res.ClaimFinishes[0].Outcome != store.Claimed {
		t.Fatalf("claim and end of a raw message: %+v %v", res, err)
	}
	evs = check(raw.ID, 0, "[published:queued running:running succeeded:succeeded]")
	if evs[0].At.After(evs[1].At) {
		t.Fatalf("published at %s, after it ran at %s", evs[0].At, evs[1].At)
	}
}

// TestCappedClaimsInOneBatch: the claims of a workspace with a cap, several in one batch, are
// admitted up to the cap less the tasks running there; a claim of a task that runs now (its
// redelivery, or a stale message) takes no new slot, wherever its id sorts among the others; the
// rest are answered AtCapacity and left as they were; an uncapped workspace's claims in the same
// batch are all taken.
func TestCappedClaimsInOneBatch(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	capped, free := newWorkspace(t, db), newWorkspace(t, db)
	if err := db.SetMaxConcurrency(ctx, capped, 2); err != nil {
		t.Fatal(err)
	}
	claim := func(ws uuid.UUID, maxConcurrency int) store.ClaimParams {
		task := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
			Args: json.RawMessage(`{}`), MaxAttempts: 3}
		return store.ClaimParams{Task: task, Fence: 1, MsgSeq: 1, Canonical: true, MaxConcurrency: maxConcurrency}
	}
	outcomes := func(claims []store.ClaimParams, res store.BatchResults) map[uuid.UUID]map[store.ClaimOutcome]int {
		out := map[uuid.UUID]map[store.ClaimOutcome]int{capped: {}, free: {}}
		for i, r := range res.Claims {
			out[claims[i].Task.WorkspaceID][r.Outcome]++
			if r.Outcome == store.AtCapacity {
				if task, err := db.GetTask(ctx, capped, claims[i].Task.ID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("a claim at capacity wrote its task's row: %+v %v", task, err)
				}
			}
		}
		return out
	}
	// One task of the capped workspace runs already, its id after every other's: one slot is left.
	running := claim(capped, 2)
	running.Task.ID = uuid.MustParse("ffffffff-ffff-7fff-bfff-ffffffffffff")
	if res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, Claims: []store.ClaimParams{running}}); err != nil ||
		res.Claims[0].Outcome != store.Claimed {
		t.Fatalf("first claim: %+v %v", res, err)
	}
	// Its redelivery, with a newer token, comes in a batch with three new claims (whose ids sort
	// before it) and five of an uncapped workspace: it takes its own slot, and one new claim the
	// one left.
	again := running
	again.Fence, again.Exists = 2, true
	claims := []store.ClaimParams{again}
	for range 3 {
		claims = append(claims, claim(capped, 2))
	}
	for range 5 {
		claims = append(claims, claim(free, 0))
	}
	res, err := db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Claims[0]; r.Outcome != store.Claimed || r.Attempt != 2 {
		t.Fatalf("the redelivery of the running task: %+v; want claimed, attempt 2", r)
	}
	got := outcomes(claims, res)
	if got[capped][store.Claimed] != 2 || got[capped][store.AtCapacity] != 2 {
		t.Fatalf("capped workspace (cap 2, 1 running, its redelivery and 3 new claims): %v; want 2 claimed (the redelivery and 1 new), 2 at capacity", got[capped])
	}
	if got[free][store.Claimed] != 5 {
		t.Fatalf("uncapped workspace: %v; want all 5 claimed", got[free])
	}
	// At the cap: a stale message of the running task (an older token) is answered Stale, not
	// at capacity, and new claims wait.
	stale := running
	stale.Exists = true
	claims = []store.ClaimParams{stale, claim(capped, 2), claim(capped, 2)}
	if res, err = db.RunBatch(ctx, store.BatchOps{Worker: "w", Lease: time.Minute, Claims: claims}); err != nil {
		t.Fatal(err)
	}
	if r := res.Claims[0]; r.Outcome != store.Stale {
		t.Fatalf("a stale message of the running task: %+v; want Stale", r)
	}
	if got := outcomes(claims, res); got[capped][store.AtCapacity] != 2 {
		t.Fatalf("new claims at the cap: %v; want 2 at capacity", got[capped])
	}
	// A single claim is the same path: at the cap, it waits.
	if r, err := db.Claim(ctx, claim(capped, 2)); err != nil || r.Outcome != store.AtCapacity {
		t.Fatalf("a single claim past the cap: %+v %v", r, err)
	}
}

// TestTheBatchDoorReadsAndLocksLimitsOnly: behind the batch door, a listed workspace's limits
// row can be read and locked (a capped claim counts under that lock), but no limits row can be
// inserted, changed or deleted through it.
func TestTheBatchDoorReadsAndLocksLimitsOnly(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	a, b := newWorkspace(t, db), newWorkspace(t, db)
	for _, ws := range []uuid.UUID{a, b} {
		if err := db.SetMaxConcurrency(ctx, ws, 3); err != nil {
			t.Fatal(err)
		}
	}
	conn := pgtest.Conn(t)
	door := func(t *testing.T, stmt string, args ...any) (int64, error) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SELECT set_config('role', $1, true), set_config('mosaic.workspace_ids', $2, true)", store.RuntimeRole, a.String()); err != nil {
			t.Fatal(err)
		}
		tag, err := tx.Exec(ctx, stmt, args...)
		return tag.RowsAffected(), err
	}
	if n, err := door(t, "SELECT max_concurrency FROM workspace_limits FOR UPDATE"); err != nil || n != 1 {
		t.Fatalf("read and lock behind a door listing a: %d rows, %v; want a's row", n, err)
	}
	for _, stmt := range []string{
		"UPDATE workspace_limits SET max_concurrency = 100 WHERE workspace_id = $1",
		"DELETE FROM workspace_limits WHERE workspace_id = $1",
		"INSERT INTO workspace_limits (workspace_id, max_concurrency) VALUES ($1, 1) ON CONFLICT (workspace_id) DO UPDATE SET max_concurrency = 1",
	} {
		n, err := door(t, stmt, a)
		if err == nil && n != 0 {
			t.Errorf("%s behind the batch door: changed %d rows", stmt, n)
		}
	}
	if n, err := door(t, "SELECT 1 FROM workspace_limits WHERE workspace_id = $1", b); err != nil || n != 0 {
		t.Fatalf("b's limits behind a door listing a: %d rows, %v; want none", n, err)
	}
}

// workspaceTx opens a transaction of its own connection in workspace ws under the runtime role,
// as the engine's are; it is rolled back at the test's end unless committed.
func workspaceTx(t *testing.T, ws uuid.UUID) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := pgtest.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SELECT set_config('role', $1, true), set_config('mosaic.workspace_id', $2, true)`, store.RuntimeRole, ws.String()); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitForALockWait returns once one of the engine's statements (WITH input …) waits for a lock,
// and fails the test with msg after 10 s.
func waitForALockWait(t *testing.T, msg string) {
	t.Helper()
	ctx := context.Background()
	watcher := pgtest.Conn(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		if err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'WITH input%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}
