package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// BenchmarkRunBatch measures the group-commit path: claims, then completions, of n tasks per
// transaction. ns/op is per task (one claim and one completion).
func BenchmarkRunBatch(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.DB(b)
			w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "bench-" + uuid.NewString()})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += n {
				ops := store.BatchOps{Worker: "bench", Lease: time.Minute}
				var fin store.BatchOps
				fin.Worker, fin.Lease = "bench", time.Minute
				for range n {
					t := store.NewTask{WorkspaceID: w.ID, ID: store.NewID(), Kind: "demo.echo", Priority: 5,
						Status: store.StatusQueued, Args: json.RawMessage(`{"n":1}`), MaxAttempts: 25}
					ops.Claims = append(ops.Claims, store.ClaimParams{Task: t, Fence: 1, MsgSeq: 1})
					fin.Finishes = append(fin.Finishes, store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: w.ID, ID: t.ID, Fence: 1},
						Status: store.StatusSucceeded, Result: json.RawMessage(`{"ok":true}`)})
				}
				if _, err := db.RunBatch(ctx, ops); err != nil {
					b.Fatal(err)
				}
				if _, err := db.RunBatch(ctx, fin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDoor measures one transaction through InWorkspace with one trivial statement.
func BenchmarkDoor(b *testing.B) {
	ctx := context.Background()
	db := pgtest.DB(b)
	ws := store.NewID()
	for b.Loop() {
		if err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "SELECT 1")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunBatchEvents is BenchmarkRunBatch with a domain event (outbox row) per completion,
// as the engine writes them.
func BenchmarkRunBatchEvents(b *testing.B) {
	ctx := context.Background()
	db := pgtest.DB(b)
	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "bench-" + uuid.NewString()})
	if err != nil {
		b.Fatal(err)
	}
	const n = 64
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		ops := store.BatchOps{Worker: "bench", Lease: time.Minute}
		fin := store.BatchOps{Worker: "bench", Lease: time.Minute}
		for range n {
			t := store.NewTask{WorkspaceID: w.ID, ID: store.NewID(), Kind: "demo.echo", Priority: 5,
				Status: store.StatusQueued, Args: json.RawMessage(`{"n":1}`), MaxAttempts: 25}
			ops.Claims = append(ops.Claims, store.ClaimParams{Task: t, Fence: 1, MsgSeq: 1})
			fin.Finishes = append(fin.Finishes, store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: w.ID, ID: t.ID, Fence: 1},
				Status: store.StatusSucceeded, Result: json.RawMessage(`{"ok":true}`),
				Outbox: []store.OutboxMessage{{WorkspaceID: w.ID, MsgID: t.ID.String(), Subject: "mosaic.events.x.task.succeeded", Payload: []byte(`{"type":"task.succeeded"}`)}}})
		}
		if _, err := db.RunBatch(ctx, ops); err != nil {
			b.Fatal(err)
		}
		if _, err := db.RunBatch(ctx, fin); err != nil {
			b.Fatal(err)
		}
	}
}
