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

// TestListingMergesStatusesNewestFirst: the unfiltered list, read from the status index one
// status at a time and merged, pages through a workspace's tasks newest first (ties by id), as
// one ordered scan would, whatever their statuses; and the filtered lists agree with it.
func TestListingMergesStatusesNewestFirst(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	statuses := store.TaskStatuses()
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	var tasks []store.NewTask
	for i := range 40 {
		tasks = append(tasks, store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: fmt.Sprintf("list.k%d", i%3), Priority: 5,
			Status: store.StatusQueued, Args: json.RawMessage(`{}`), MaxAttempts: 3,
			CreatedAt: base.Add(time.Duration(i/2) * time.Second)}) // pairs share a creation time: ties by id
	}
	msgs := make([]store.OutboxMessage, len(tasks))
	for i := range msgs {
		msgs[i] = store.OutboxMessage{WorkspaceID: ws}
	}
	if _, err := db.PublishTasks(ctx, ws, tasks, msgs, 0); err != nil {
		t.Fatal(err)
	}
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		for i, task := range tasks {
			if _, err := tx.Exec(ctx, `UPDATE tasks SET status = $3 WHERE workspace_id = $1 AND id = $2`, ws, task.ID, statuses[(i*5)%len(statuses)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(tasks)
	slices.SortFunc(want, func(a, b store.NewTask) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return slices.Compare(b.ID[:], a.ID[:])
	})
	pages := func(f store.TaskFilter) []uuid.UUID {
		var got []uuid.UUID
		for page := 0; ; page++ {
			list, next, err := db.ListTasks(ctx, ws, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range list {
				got = append(got, task.ID)
			}
			if next == uuid.Nil || page > 10 {
				return got
			}
			f.Before = next
		}
	}
	var wantIDs []uuid.UUID
	for _, task := range want {
		wantIDs = append(wantIDs, task.ID)
	}
	if got := pages(store.TaskFilter{Limit: 7}); !slices.Equal(got, wantIDs) {
		t.Fatalf("newest first, ties by id, 7 a page:\n%v\nwant\n%v", got, wantIDs)
	}
	oldestFirst := slices.Clone(wantIDs)
	slices.Reverse(oldestFirst)
	if got := pages(store.TaskFilter{Limit: 7, Oldest: true}); !slices.Equal(got, oldestFirst) {
		t.Fatalf("oldest first, 7 a page:\n%v\nwant\n%v", got, oldestFirst)
	}
	var kind0 []uuid.UUID
	for _, id := range oldestFirst {
		if tasks[slices.IndexFunc(tasks, func(x store.NewTask) bool { return x.ID == id })].Kind == "list.k0" {
			kind0 = append(kind0, id)
		}
	}
	if got := pages(store.TaskFilter{Kind: "list.k0", Limit: 4, Oldest: true}); !slices.Equal(got, kind0) {
		t.Fatalf("one kind, oldest first, 4 a page:\n%v\nwant\n%v", got, kind0)
	}
	for _, st := range statuses {
		list, _, err := db.ListTasks(ctx, ws, store.TaskFilter{Status: st, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var wantSt []uuid.UUID
		for i, task := range want {
			if statusOf := statuses[(slices.IndexFunc(tasks, func(x store.NewTask) bool { return x.ID == task.ID })*5)%len(statuses)]; statusOf == st {
				wantSt = append(wantSt, want[i].ID)
			}
		}
		var gotSt []uuid.UUID
		for _, task := range list {
			gotSt = append(gotSt, task.ID)
		}
		if !slices.Equal(gotSt, wantSt) {
			t.Fatalf("status %s: %v, want %v", st, gotSt, wantSt)
		}
	}
}

// TestListFiltersFindWork: the system's own tasks are left out of a list unless asked for (or
// their kind is), and a list filters by creation time, idempotency key, a field of the args, and
// finds a task by id or by its key.
func TestListFiltersFindWork(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	mk := func(kind, args, key string, at time.Duration) store.NewTask {
		return store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: kind, Priority: 5, Status: store.StatusQueued,
			Args: json.RawMessage(args), MaxAttempts: 3, IdempotencyKey: key, CreatedAt: base.Add(at)}
	}
	order := mk("shop.order", `{"customer":{"id":42},"total":"9.50"}`, "order-7", 0)
	other := mk("shop.order", `{"customer":{"id":43}}`, "", time.Minute)
	index := mk("knowledge.index", `{}`, "", 2*time.Minute)
	rotate := mk("credentials.rotate", `{}`, "", 3*time.Minute)
	keyed := mk("shop.refund", `{}`, order.ID.String(), 4*time.Minute) // a key that is another task's id
	all := []store.NewTask{order, other, index, rotate, keyed}
	msgs := make([]store.OutboxMessage, len(all))
	for i := range msgs {
		msgs[i] = store.OutboxMessage{WorkspaceID: ws}
	}
	if _, err := db.PublishTasks(ctx, ws, all, msgs, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    store.TaskFilter
		want []store.NewTask
	}{
		{"default hides the system's tasks", store.TaskFilter{}, []store.NewTask{keyed, other, order}},
		{"internal shows them", store.TaskFilter{Internal: true}, []store.NewTask{keyed, rotate, index, other, order}},
		{"a kind shows its own", store.TaskFilter{Kind: "knowledge.index"}, []store.NewTask{index}},
		{"a status hides them too", store.TaskFilter{Status: store.StatusQueued}, []store.NewTask{keyed, other, order}},
		{"since", store.TaskFilter{Since: base.Add(time.Minute), Internal: true}, []store.NewTask{keyed, rotate, index, other}},
		{"until", store.TaskFilter{Until: base.Add(time.Minute)}, []store.NewTask{order}},
		{"idempotency key", store.TaskFilter{IdempotencyKey: "order-7"}, []store.NewTask{order}},
		{"an args field", store.TaskFilter{Args: json.RawMessage(`{"customer":{"id":42}}`)}, []store.NewTask{order}},
		{"an args field with a status", store.TaskFilter{Status: store.StatusQueued, Args: json.RawMessage(`{"total":"9.50"}`)}, []store.NewTask{order}},
		{"an args field nobody has", store.TaskFilter{Args: json.RawMessage(`{"customer":{"id":44}}`)}, nil},
		{"by id: the task and the one keyed by it", store.TaskFilter{ID: order.ID}, []store.NewTask{keyed, order}},
		{"by id of a system task", store.TaskFilter{ID: index.ID}, []store.NewTask{index}},
	} {
		got, _, err := db.ListTasks(ctx, ws, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var gotIDs, wantIDs []uuid.UUID
		for _, x := range got {
			gotIDs = append(gotIDs, x.ID)
		}
		for _, x := range c.want {
			wantIDs = append(wantIDs, x.ID)
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s: got %v; want %v", c.name, gotIDs, wantIDs)
		}
	}
}

// TestInternalKindsAreEventsNamespaces: the kinds a list leaves out are the namespaces events
// routes to the system's own streams.
func TestInternalKindsAreEventsNamespaces(t *testing.T) {
	if got, want := store.InternalKinds(), []string{events.CredentialsNamespace, events.KnowledgeNamespace}; !slices.Equal(got, want) {
		t.Fatalf("store's internal kinds %q; events' namespaces %q", got, want)
	}
}

// TestListSortedByOtherKeys: the orders other than creation page through the tasks in their own
// order (ties by id), each direction, and the finished order lists only tasks that ended.
func TestListSortedByOtherKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	ws := newWorkspace(t, db)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	type row struct {
		id       uuid.UUID
		priority int
		created  time.Time
		updated  time.Time
		finished *time.Time
	}
	var rows []row
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		for i := range 24 {
			r := row{id: store.NewID(), priority: 1 + i%4, created: base.Add(time.Duration(i) * time.Second),
				updated: base.Add(time.Duration((i*7)%24) * time.Minute)}
			status := store.StatusQueued
			if i%3 == 0 {
				f := base.Add(time.Duration((i*5)%24)*time.Minute + time.Second)
				r.finished, status = &f, store.StatusSucceeded
			}
			if _, err := tx.Exec(ctx, `INSERT INTO tasks (workspace_id, id, kind, priority, status, created_at, updated_at, finished_at)
				VALUES ($1, $2, 'sort.k', $3, $4, $5, $6, $7)`, ws, r.id, r.priority, status, r.created, r.updated, r.finished); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := func(sort string, oldest bool) []uuid.UUID {
		var rs []row
		for _, r := range rows {
			if sort != store.SortFinished || r.finished != nil {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b row) int {
			var c int
			switch sort {
			case store.SortUpdated:
				c = a.updated.Compare(b.updated)
			case store.SortFinished:
				c = a.finished.Compare(*b.finished)
			case store.SortPriority:
				if c = a.priority - b.priority; c == 0 {
					c = a.created.Compare(b.created)
				}
				c = -c // most urgent, then oldest, first: the reverse of "newest first"
			}
			if c == 0 {
				c = slices.Compare(a.id[:], b.id[:])
			}
			if !oldest {
				c = -c
			}
			return c
		})
		var ids []uuid.UUID
		for _, r := range rs {
			ids = append(ids, r.id)
		}
		return ids
	}
	for _, sort := range []string{store.SortUpdated, store.SortFinished, store.SortPriority} {
		for _, oldest := range []bool{false, true} {
			var got []uuid.UUID
			var cursor uuid.UUID
			for range 20 {
				page, next, err := db.ListTasks(ctx, ws, store.TaskFilter{Sort: sort, Oldest: oldest, Before: cursor, Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				for _, task := range page {
					got = append(got, task.ID)
				}
				if next == uuid.Nil {
					break
				}
				cursor = next
			}
			if w := want(sort, oldest); !slices.Equal(got, w) {
				t.Errorf("sort %s, oldest %v: %d tasks %v; want %d %v", sort, oldest, len(got), got, len(w), w)
			}
		}
	}
	if _, _, err := db.ListTasks(ctx, ws, store.TaskFilter{Sort: "size"}); err == nil {
		t.Fatal("an unknown order was accepted")
	}

	// The cursor task changes (progress moves its updated_at) or goes (the cleaner) between two
	// pages: with its key as the first page showed it, the second goes on from there.
	for _, sort := range []string{store.SortUpdated, store.SortCreated} {
		first, next, err := db.ListTasks(ctx, ws, store.TaskFilter{Sort: sort, Limit: 5})
		if err != nil || next == uuid.Nil {
			t.Fatalf("%s, first page: %v", sort, err)
		}
		key := store.TaskSortKey(first[len(first)-1], sort)
		err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			if sort == store.SortUpdated {
				_, err := tx.Exec(ctx, `UPDATE tasks SET updated_at = now() WHERE workspace_id = $1 AND id = $2`, ws, next)
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM tasks WHERE workspace_id = $1 AND id = $2`, ws, next)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		second, _, err := db.ListTasks(ctx, ws, store.TaskFilter{Sort: sort, Before: next, BeforeKey: key, Limit: 5})
		if err != nil || len(second) != 5 {
			t.Fatalf("%s, second page after its cursor task moved: %d tasks, %v", sort, len(second), err)
		}
		if sort == store.SortUpdated {
			if w := want(sort, false)[5:10]; !slices.Equal(ids(second), w) {
				t.Errorf("updated, second page: %v; want %v", ids(second), w)
			}
		}
		if sort == store.SortCreated {
			// Without the key, a cursor whose task is gone says so.
			if _, _, err := db.ListTasks(ctx, ws, store.TaskFilter{Before: next, Limit: 5}); !errors.Is(err, store.ErrCursorGone) {
				t.Errorf("a bare cursor whose task is gone: %v; want ErrCursorGone", err)
			}
		}
	}
}

func ids(tasks []store.Task) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	return out
}
