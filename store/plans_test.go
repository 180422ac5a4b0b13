package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// TestRunningTaskWritesLookUpEachTask: behind the batch door the engine's statements run on
// generic plans, made once per connection on the statistics of that moment. Made when no task ran,
// the end's and the checkpoint's update (status = 'running') read the whole tasks_running partial
// index, which holds an entry for every claim since the last vacuum (a claim is not HOT), at every
// call for the connection's life (docs/benchmarks.md, tenth session). Each must look its tasks up
// by key whatever the statistics say.
func TestRunningTaskWritesLookUpEachTask(t *testing.T) {
	ctx := context.Background()
	db, ownerURL := pgtest.FreshDB(t)
	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "plans"})
	if err != nil {
		t.Fatal(err)
	}
	// A queue that ran 2 000 tasks, none running now: every claim left a dead entry in
	// tasks_running, and the statistics see no running task.
	for range 20 {
		claims := store.BatchOps{Worker: "w", Lease: time.Minute}
		ends := store.BatchOps{Worker: "w", Lease: time.Minute}
		for range 100 {
			task := store.NewTask{WorkspaceID: w.ID, ID: store.NewID(), Kind: "demo.echo", Priority: 5,
				Status: store.StatusQueued, Args: json.RawMessage(`{}`), MaxAttempts: 3}
			claims.Claims = append(claims.Claims, store.ClaimParams{Task: task, Fence: 1, MsgSeq: 1})
			ends.Finishes = append(ends.Finishes, store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: w.ID, ID: task.ID, Fence: 1},
				Status: store.StatusSucceeded})
		}
		if _, err := db.RunBatch(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RunBatch(ctx, ends); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE tasks"); err != nil {
		t.Fatal(err)
	}
	for name, sql := range map[string]string{"end": store.FinishManySQL, "checkpoint": store.CheckpointManySQL,
		"lease renewal": store.RenewLeasesSQL} {
		t.Run(name, func(t *testing.T) {
			plan := genericPlan(t, ctx, conn, w.ID, sql)
			if !strings.Contains(plan, "Index Cond: ((workspace_id = i.ws) AND (id = i.id))") &&
				!strings.Contains(plan, "Index Cond: ((workspace_id = u.ws) AND (id = u.id))") &&
				!strings.Contains(plan, "Index Cond: ((workspace_id = $1) AND (id = u.id))") {
				t.Errorf("the %s statement's generic plan does not look each task up by key:\n%s", name, plan)
			}
		})
	}
}

// genericPlan is EXPLAIN of sql's generic plan behind the batch door of ws (every parameter
// NULL: a generic plan does not depend on the values).
func genericPlan(t *testing.T, ctx context.Context, conn *pgx.Conn, ws uuid.UUID, sql string) string {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, store.BatchDoorSQL, store.RuntimeRole, ws.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "PREPARE plan_under_test AS "+sql); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, "DEALLOCATE plan_under_test") }() // a session's, not the transaction's
	var n int
	if err := tx.QueryRow(ctx, "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'plan_under_test'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("EXPLAIN EXECUTE plan_under_test(%s)", strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ")))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
