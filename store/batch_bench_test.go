package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// BenchmarkClaimAndEnd measures the engine's path for a short task, as the pool drives it: the
// tasks are published (JetStream-first: no outbox row), then each batch of 32 is peeked (or not), and
// claimed and ended in one write (a success: no audit row, and its domain event is published by
// the pool after the commit, not queued with it). ns/op is per task, the publish excluded.
// With workspaces=200 the tasks go round-robin over 200 workspaces; with peek=false the batch is
// not peeked and each claim carries the task's columns, as a new task's first delivery sends it.
func BenchmarkClaimAndEnd(b *testing.B) {
	for _, spread := range []int{1, 200} {
		for _, peek := range []bool{true, false} {
			b.Run(fmt.Sprintf("workspaces=%d/peek=%v", spread, peek), func(b *testing.B) { benchClaimAndEnd(b, spread, peek) })
		}
	}
}

func benchClaimAndEnd(b *testing.B, spread int, peek bool) {
	ctx := context.Background()
	db := pgtest.DB(b)
	wss := make([]uuid.UUID, spread)
	for i := range wss {
		w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "bench-" + uuid.NewString()})
		if err != nil {
			b.Fatal(err)
		}
		wss[i] = w.ID
	}
	const n = 32
	batches := b.N/n + 1
	all := make([][]store.NewTask, batches)
	next := 0
	for i := range all {
		byWS := map[uuid.UUID][]store.NewTask{}
		tasks := make([]store.NewTask, n)
		for j := range tasks {
			ws := wss[next%len(wss)]
			next++
			tasks[j] = store.NewTask{WorkspaceID: ws, ID: store.NewID(), Kind: "demo.echo", Priority: 5,
				Status: store.StatusQueued, Args: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i*n+j)), MaxAttempts: 25}
			byWS[ws] = append(byWS[ws], tasks[j])
		}
		for ws, list := range byWS {
			msgs := make([]store.OutboxMessage, len(list))
			for j := range msgs {
				msgs[j] = store.OutboxMessage{WorkspaceID: ws}
			}
			if _, err := db.PublishTasks(ctx, ws, list, msgs, 0); err != nil {
				b.Fatal(err)
			}
		}
		all[i] = tasks
	}
	cpu := postgresCPU()
	b.ResetTimer()
	defer func() { b.ReportMetric((postgresCPU()-cpu).Seconds()*1e6/float64(len(all)*n), "pg-µs/task") }()
	for _, tasks := range all {
		peeks := store.BatchOps{Worker: "bench", Lease: time.Minute}
		ends := store.BatchOps{Worker: "bench", Lease: time.Minute}
		for _, t := range tasks {
			ws := t.WorkspaceID
			peeks.Peeks = append(peeks.Peeks, store.TaskRef{WorkspaceID: ws, ID: t.ID})
			ends.ClaimFinishes = append(ends.ClaimFinishes, store.ClaimFinish{
				Claim:  store.ClaimParams{Task: t, Fence: 1, MsgSeq: 1, Canonical: true, Exists: peek, StartedAt: time.Now()},
				Finish: store.Finish{Status: store.StatusSucceeded, Result: json.RawMessage(`{"n":1}`)},
			})
		}
		if peek {
			if _, err := db.RunBatch(ctx, peeks); err != nil {
				b.Fatal(err)
			}
		}
		res, err := db.RunBatch(ctx, ends)
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range res.ClaimFinishes {
			if r.Outcome != store.Claimed {
				b.Fatalf("task %d was not claimed and ended: %+v", i, r)
			}
		}
	}
}

// postgresCPU is the CPU time of this machine's PostgreSQL processes (user and system, as
// /proc counts it: those alive now).
func postgresCPU() time.Duration {
	var ticks int64
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte("(postgres)")) {
			continue
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(fields) > 12 {
			ut, _ := strconv.ParseInt(fields[11], 10, 64)
			st, _ := strconv.ParseInt(fields[12], 10, 64)
			ticks += ut + st
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
