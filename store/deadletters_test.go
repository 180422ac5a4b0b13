package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// TestDiscardedDeadLettersLeaveTheWaitingList: a discarded dead letter is kept, with who
// discarded it, out of the default list and the count of those waiting; lists filter by kind and
// by state; discarding twice is a conflict, an unknown one not found.
func TestDiscardedDeadLettersLeaveTheWaitingList(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	mk := func(kind string) store.DeadLetter {
		return store.DeadLetter{WorkspaceID: ws, Kind: kind, Reason: store.ReasonPermanent, Error: "no", Subject: "s"}
	}
	a, b, c := mk("shop.order"), mk("shop.order"), mk("shop.refund")
	if err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		for _, d := range []*store.DeadLetter{&a, &b, &c} {
			if err := store.InsertDeadLetter(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.DiscardDeadLetter(ctx, ws, b.ID, "ops-alice")
	if err != nil || got.DiscardedAt == nil || got.DiscardedBy != "ops-alice" {
		t.Fatalf("discard: %+v %v", got, err)
	}
	if _, err := db.DiscardDeadLetter(ctx, ws, b.ID, "ops-alice"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("discard twice: %v; want a conflict", err)
	}
	if _, err := db.DiscardDeadLetter(ctx, ws, uuid.New(), "ops-alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("discard an unknown one: %v; want not found", err)
	}
	if n, err := db.CountDeadLetters(ctx, ws); err != nil || n != 2 {
		t.Fatalf("waiting: %d %v; want 2", n, err)
	}
	for _, tc := range []struct {
		f    store.DeadLetterFilter
		want []uuid.UUID
	}{
		{store.DeadLetterFilter{}, []uuid.UUID{c.ID, a.ID}},
		{store.DeadLetterFilter{State: store.DeadLetterAll}, []uuid.UUID{c.ID, b.ID, a.ID}},
		{store.DeadLetterFilter{State: store.DeadLetterDiscarded}, []uuid.UUID{b.ID}},
		{store.DeadLetterFilter{State: store.DeadLetterPending}, []uuid.UUID{c.ID, a.ID}},
		{store.DeadLetterFilter{State: store.DeadLetterReplayed}, nil},
		{store.DeadLetterFilter{Kind: "shop.order", State: store.DeadLetterAll}, []uuid.UUID{b.ID, a.ID}},
	} {
		list, _, err := db.ListDeadLetters(ctx, ws, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, d := range list {
			ids = append(ids, d.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%+v: %v; want %v", tc.f, ids, tc.want)
		}
	}
}

// TestDeleteTaskTakesItsEvents: deleting an ended task removes its row and its events; a task
// that has not ended is not deleted.
func TestDeleteTaskTakesItsEvents(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	task := store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5, Status: store.StatusQueued,
		Args: []byte(`{}`), MaxAttempts: 3}
	if _, err := db.PublishTasks(ctx, ws, []store.NewTask{task}, []store.OutboxMessage{{WorkspaceID: ws}}, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTask(ctx, ws, task.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete a queued task: %v; want a conflict", err)
	}
	if _, err := db.RequestCancel(ctx, ws, task.ID, "test", func(string, int) []store.OutboxMessage { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTask(ctx, ws, task.ID); err != nil {
		t.Fatal(err)
	}
	var rows, events int
	conn := pgtest.Conn(t)
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM tasks WHERE id = $1), (SELECT count(*) FROM task_events WHERE task_id = $1)`, task.ID).Scan(&rows, &events); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || events != 0 {
		t.Fatalf("after the delete: %d rows, %d events", rows, events)
	}
	if err := db.DeleteTask(ctx, ws, task.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v; want not found", err)
	}
}
