package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CheckpointParams is one checkpoint of a batch.
type CheckpointParams struct {
	FencedOpts
	State    json.RawMessage
	Progress float32
	Message  string
}

// FinishResult is what a batched finish wrote.
type FinishResult struct {
	Attempt int
	Fenced  bool // no row changed: a newer delivery holds the task
}

// BatchOps are the writes of many deliveries, committed together (group commit). A task appears
// at most once in a batch; finishes carry no dead letter (those go through FinishTask).
type BatchOps struct {
	Worker      string
	Lease       time.Duration
	Claims      []ClaimParams // uncapped workspaces only
	Checkpoints []CheckpointParams
	Finishes    []Finish
}

// BatchResults hold the results of BatchOps, index for index.
type BatchResults struct {
	Claims      []ClaimResult
	Checkpoints []CheckpointResult
	Finishes    []FinishResult
}

type batchGroup struct {
	claims, checkpoints, finishes []int
}

// RunBatch commits the writes of many deliveries in one transaction and one round trip: BEGIN,
// the runtime role, then for each workspace its setting (transaction-local: the same door as
// InWorkspace) and one multi-row statement per kind of write, then COMMIT. If any statement fails
// the whole batch rolls back and the error is returned: the caller retries the writes one by one.
func (db *DB) RunBatch(ctx context.Context, ops BatchOps) (BatchResults, error) {
	res := BatchResults{
		Claims:      make([]ClaimResult, len(ops.Claims)),
		Checkpoints: make([]CheckpointResult, len(ops.Checkpoints)),
		Finishes:    make([]FinishResult, len(ops.Finishes)),
	}
	groups := map[uuid.UUID]*batchGroup{}
	var order []uuid.UUID
	seen := map[[2]uuid.UUID]bool{}
	group := func(ws, id uuid.UUID) (*batchGroup, error) {
		key := [2]uuid.UUID{ws, id}
		if seen[key] {
			return nil, fmt.Errorf("store: task %s appears twice in a batch", id)
		}
		seen[key] = true
		g, ok := groups[ws]
		if !ok {
			g = &batchGroup{}
			groups[ws] = g
			order = append(order, ws)
		}
		return g, nil
	}
	for i, c := range ops.Claims {
		g, err := group(c.Task.WorkspaceID, c.Task.ID)
		if err != nil {
			return res, err
		}
		g.claims = append(g.claims, i)
	}
	for i, c := range ops.Checkpoints {
		g, err := group(c.WorkspaceID, c.ID)
		if err != nil {
			return res, err
		}
		g.checkpoints = append(g.checkpoints, i)
	}
	for i, f := range ops.Finishes {
		if f.DeadLetter != nil {
			return res, errors.New("store: a batched finish cannot carry a dead letter")
		}
		g, err := group(f.WorkspaceID, f.ID)
		if err != nil {
			return res, err
		}
		g.finishes = append(g.finishes, i)
	}

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT set_config('role', $1, true)", RuntimeRole)
	for _, ws := range order {
		g := groups[ws]
		b.Queue("SELECT set_config('mosaic.workspace_id', $1, true)", ws.String())
		if len(g.claims) > 0 {
			args, err := claimArgs(ws, ops, g.claims)
			if err != nil {
				return res, err
			}
			b.Queue(claimManySQL, args...)
		}
		if len(g.checkpoints) > 0 {
			b.Queue(checkpointManySQL, checkpointArgs(ws, ops, g.checkpoints)...)
		}
		if len(g.finishes) > 0 {
			args, err := finishArgs(ws, ops, g.finishes)
			if err != nil {
				return res, err
			}
			b.Queue(finishManySQL, args...)
		}
	}
	b.Queue("COMMIT")

	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	err = readBatch(br, order, groups, ops, &res)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if conn.Conn().PgConn().TxStatus() != 'I' {
		// A statement failed: the pipeline stopped before COMMIT. End the transaction so the
		// connection can go back to the pool.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	if err != nil {
		return res, err
	}
	return res, db.classifyUnclaimed(ctx, ops, &res)
}

func readBatch(br pgx.BatchResults, order []uuid.UUID, groups map[uuid.UUID]*batchGroup, ops BatchOps, res *BatchResults) error {
	for range 2 { // BEGIN, role
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	for _, ws := range order {
		g := groups[ws]
		if _, err := br.Exec(); err != nil { // workspace setting
			return err
		}
		if len(g.claims) > 0 {
			byID := map[uuid.UUID]int{}
			for _, i := range g.claims {
				byID[ops.Claims[i].Task.ID] = i
				res.Claims[i].Outcome = unclassified
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id uuid.UUID
				var c ClaimResult
				if err := rows.Scan(&id, &c.Attempt, &c.MaxAttempts, &c.Checkpoint, &c.CheckpointSeq, &c.TimeoutMS); err != nil {
					rows.Close()
					return err
				}
				c.Outcome = Claimed
				res.Claims[byID[id]] = c
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(g.checkpoints) > 0 {
			byID := map[uuid.UUID]int{}
			for _, i := range g.checkpoints {
				byID[ops.Checkpoints[i].ID] = i
				res.Checkpoints[i].Fenced = true
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id uuid.UUID
				var c CheckpointResult
				if err := rows.Scan(&id, &c.Seq, &c.CancelRequested); err != nil {
					rows.Close()
					return err
				}
				res.Checkpoints[byID[id]] = c
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(g.finishes) > 0 {
			byID := map[uuid.UUID]int{}
			for _, i := range g.finishes {
				byID[ops.Finishes[i].ID] = i
				res.Finishes[i].Fenced = true
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id uuid.UUID
				var attempt int
				if err := rows.Scan(&id, &attempt); err != nil {
					rows.Close()
					return err
				}
				res.Finishes[byID[id]] = FinishResult{Attempt: attempt}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	tag, err := br.Exec()
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("store: batch ended with %q, not COMMIT", tag.String())
	}
	return nil
}

// unclassified marks a claim the batch did not take; classifyUnclaimed says why.
const unclassified ClaimOutcome = -1

// classifyUnclaimed reads, after the batch, why the claims it did not take were not taken.
func (db *DB) classifyUnclaimed(ctx context.Context, ops BatchOps, res *BatchResults) error {
	byWS := map[uuid.UUID][]int{}
	for i, c := range res.Claims {
		if c.Outcome == unclassified {
			ws := ops.Claims[i].Task.WorkspaceID
			byWS[ws] = append(byWS[ws], i)
		}
	}
	for ws, idx := range byWS {
		ids := make([]uuid.UUID, len(idx))
		byID := map[uuid.UUID]int{}
		for j, i := range idx {
			ids[j] = ops.Claims[i].Task.ID
			byID[ids[j]] = i
		}
		err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, classifyManySQL, ws, ids)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id uuid.UUID
				var st classifyState
				if err := rows.Scan(&id, &st.status, &st.fence, &st.seq, &st.attempt, &st.maxAttempts, &st.generation,
					&st.cancel, &st.lastError); err != nil {
					return err
				}
				i := byID[id]
				res.Claims[i] = st.classify(ops.Claims[i])
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, i := range idx {
			if res.Claims[i].Outcome == unclassified {
				// The row vanished (its workspace was deleted): nothing to run.
				res.Claims[i].Outcome = Finished
			}
		}
	}
	return nil
}

type classifyState struct {
	status               string
	fence                int64
	seq                  *int64
	attempt, maxAttempts int
	generation           int
	cancel               bool
	lastError            string
}

// classify says why a claim was not taken, from the task's row.
func (st classifyState) classify(p ClaimParams) ClaimResult {
	res := ClaimResult{Status: st.status, Attempt: st.attempt, MaxAttempts: st.maxAttempts, LastError: st.lastError}
	switch {
	case Terminal(st.status):
		res.Outcome = Finished
	case st.generation > p.Task.Generation:
		res.Outcome = Duplicate // a message of an earlier generation
	case st.seq != nil && uint64(*st.seq) != p.MsgSeq && p.Fence <= st.fence:
		res.Outcome = Duplicate
	case p.Fence <= st.fence:
		res.Outcome = Stale
	case st.cancel:
		res.Outcome = CancelRequested
	default:
		res.Outcome = Exhausted
	}
	return res
}

func claimArgs(ws uuid.UUID, ops BatchOps, idx []int) ([]any, error) {
	n := len(idx)
	ids, kinds, keys := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	prios := make([]int16, n)
	args, creds, meta := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	maxAttempts, gens := make([]int32, n), make([]int32, n)
	timeouts, fences, seqs := make([]int64, n), make([]int64, n), make([]int64, n)
	runAt := make([]*time.Time, n)
	for j, i := range idx {
		c := ops.Claims[i]
		t := c.Task
		ids[j], kinds[j], prios[j], args[j] = t.ID, t.Kind, int16(t.Priority), t.args()
		var err error
		if creds[j], err = json.Marshal(t.credentials()); err != nil {
			return nil, err
		}
		if meta[j], err = json.Marshal(t.metadata()); err != nil {
			return nil, err
		}
		maxAttempts[j], timeouts[j], runAt[j], keys[j], gens[j] = int32(t.MaxAttempts), t.TimeoutMS, t.RunAt, t.IdempotencyKey, int32(t.Generation)
		fences[j], seqs[j] = c.Fence, int64(c.MsgSeq)
	}
	return []any{ws, ids, kinds, prios, args, creds, meta, maxAttempts, timeouts, runAt, keys, gens, fences, seqs,
		ops.Worker, ops.Lease.Milliseconds()}, nil
}

func checkpointArgs(ws uuid.UUID, ops BatchOps, idx []int) []any {
	n := len(idx)
	ids, fences := make([]uuid.UUID, n), make([]int64, n)
	states, progress, messages := make([][]byte, n), make([]float32, n), make([]string, n)
	for j, i := range idx {
		c := ops.Checkpoints[i]
		ids[j], fences[j], states[j], progress[j], messages[j] = c.ID, c.Fence, c.State, c.Progress, c.Message
	}
	return []any{ws, ids, fences, states, progress, messages, ops.Lease.Milliseconds()}
}

func finishArgs(ws uuid.UUID, ops BatchOps, idx []int) ([]any, error) {
	n := len(idx)
	ids, fences := make([]uuid.UUID, n), make([]int64, n)
	statuses, errs, msgIDs, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	results, details, payloads := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	extra := make([]int32, n)
	runAt := make([]*time.Time, n)
	for j, i := range idx {
		f := ops.Finishes[i]
		ids[j], fences[j], statuses[j], errs[j], extra[j], runAt[j] = f.ID, f.Fence, f.Status, f.Error, int32(f.ExtraAttempts), f.RunAt
		if len(f.Result) > 0 {
			results[j] = f.Result
		}
		if f.Detail != nil {
			var err error
			if details[j], err = json.Marshal(f.Detail); err != nil {
				return nil, err
			}
		}
		if len(f.Outbox) > 1 {
			return nil, errors.New("store: a batched finish carries at most one outbox message")
		}
		if len(f.Outbox) == 1 {
			msgIDs[j], subjects[j], payloads[j] = f.Outbox[0].MsgID, f.Outbox[0].Subject, f.Outbox[0].Payload
		}
	}
	return []any{ws, ids, fences, statuses, results, errs, extra, runAt, details, msgIDs, subjects, payloads, ops.Worker}, nil
}
