package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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

// TaskRef names a task.
type TaskRef struct {
	WorkspaceID uuid.UUID
	ID          uuid.UUID
}

// ClaimFinish claims and ends a delivery in one write: the delivery ran its handler without
// writing anything before it returned.
type ClaimFinish struct {
	Claim  ClaimParams
	Finish Finish // its FencedOpts are ignored; no dead letter; at most one outbox message
}

// PeekResult is what a delivery reads before it runs, to decide without writing whether it may.
type PeekResult struct {
	Workspace     bool // the workspace exists
	Found         bool // the task's row exists
	state         classifyState
	Checkpoint    json.RawMessage
	CheckpointSeq int64
	TimeoutMS     int64
}

// Claim predicts what a claim by p would find: Claimed (with the attempt it would be), or why
// not. It applies the same rule as the claim statements' WHERE; the claim itself still decides.
func (r PeekResult) Claim(p ClaimParams) ClaimResult {
	if !r.Found {
		return ClaimResult{Outcome: Claimed, Attempt: 1, MaxAttempts: p.Task.MaxAttempts, TimeoutMS: p.Task.TimeoutMS}
	}
	st := r.state
	if st.fence < p.Fence && st.generation <= p.Task.Generation && !Terminal(st.status) && !st.cancel &&
		st.attempt < st.maxAttempts && (p.Canonical || st.fence > 0) {
		return ClaimResult{Outcome: Claimed, Attempt: st.attempt + 1, MaxAttempts: st.maxAttempts, Checkpoint: r.Checkpoint,
			CheckpointSeq: r.CheckpointSeq, TimeoutMS: r.TimeoutMS}
	}
	return st.classify(p)
}

// BatchOps are the writes (and reads) of many deliveries, committed together (group commit). A
// task appears at most once in a batch; finishes carry no dead letter (those go through
// FinishTask).
type BatchOps struct {
	Worker        string
	Lease         time.Duration
	Peeks         []TaskRef
	Claims        []ClaimParams // uncapped workspaces only
	Checkpoints   []CheckpointParams
	Finishes      []Finish
	ClaimFinishes []ClaimFinish
}

// BatchResults hold the results of BatchOps, index for index.
type BatchResults struct {
	Peeks         []PeekResult
	Claims        []ClaimResult
	Checkpoints   []CheckpointResult
	Finishes      []FinishResult
	ClaimFinishes []ClaimResult // Claimed: the task was claimed and ended
}

type batchGroup struct {
	peeks, claims, checkpoints, finishes, claimFinishes []int
}

// RunBatch commits the writes of many deliveries in one transaction and one round trip: BEGIN,
// the runtime role, then for each workspace its setting (transaction-local: the same door as
// InWorkspace) and one multi-row statement per kind of write, then COMMIT. If any statement fails
// the whole batch rolls back and the error is returned: the caller retries the writes one by one.
func (db *DB) RunBatch(ctx context.Context, ops BatchOps) (BatchResults, error) {
	res := BatchResults{
		Peeks:         make([]PeekResult, len(ops.Peeks)),
		Claims:        make([]ClaimResult, len(ops.Claims)),
		Checkpoints:   make([]CheckpointResult, len(ops.Checkpoints)),
		Finishes:      make([]FinishResult, len(ops.Finishes)),
		ClaimFinishes: make([]ClaimResult, len(ops.ClaimFinishes)),
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
	for i, r := range ops.Peeks {
		g, err := group(r.WorkspaceID, r.ID)
		if err != nil {
			return res, err
		}
		g.peeks = append(g.peeks, i)
	}
	for i, c := range ops.Claims {
		g, err := group(c.Task.WorkspaceID, c.Task.ID)
		if err != nil {
			return res, err
		}
		g.claims = append(g.claims, i)
	}
	for i, c := range ops.ClaimFinishes {
		if c.Finish.DeadLetter != nil || len(c.Finish.Outbox) > 1 {
			return res, errors.New("store: a batched claim-and-finish carries no dead letter and at most one outbox message")
		}
		g, err := group(c.Claim.Task.WorkspaceID, c.Claim.Task.ID)
		if err != nil {
			return res, err
		}
		g.claimFinishes = append(g.claimFinishes, i)
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
		if len(g.peeks) > 0 {
			ids := make([]uuid.UUID, len(g.peeks))
			for j, i := range g.peeks {
				ids[j] = ops.Peeks[i].ID
			}
			b.Queue(workspaceExistsSQL, ws)
			b.Queue(peekManySQL, ws, pgUUIDs(ids))
		}
		if len(g.claims) > 0 {
			claims := make([]ClaimParams, len(g.claims))
			for j, i := range g.claims {
				claims[j] = ops.Claims[i]
			}
			args, err := claimArgs(ws, claims, ops.Worker, ops.Lease)
			if err != nil {
				return res, err
			}
			b.Queue(claimManySQL, args...)
		}
		if len(g.claimFinishes) > 0 {
			args, err := claimFinishArgs(ws, ops, g.claimFinishes)
			if err != nil {
				return res, err
			}
			b.Queue(claimFinishManySQL, args...)
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

	if err := db.pipeline(ctx, b, func(br pgx.BatchResults) error { return readBatch(br, order, groups, ops, &res) }); err != nil {
		return res, err
	}
	return res, db.classifyUnclaimed(ctx, ops, &res)
}

// pipeline sends a batch that opens a transaction (BEGIN first) and ends it (COMMIT last) in one
// round trip; read takes the results of every statement but the COMMIT, which pipeline checks.
// When a statement fails the pipeline stops before COMMIT: the transaction is rolled back so the
// connection can go back to the pool.
func (db *DB) pipeline(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	br := conn.SendBatch(ctx, b)
	err = read(br)
	if err == nil {
		var tag pgconn.CommandTag
		if tag, err = br.Exec(); err == nil && tag.String() != "COMMIT" {
			err = fmt.Errorf("store: pipeline ended with %q, not COMMIT", tag.String())
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return err
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
		if len(g.peeks) > 0 {
			var exists bool
			if err := br.QueryRow().Scan(&exists); err != nil {
				return err
			}
			byID := map[uuid.UUID]int{}
			for _, i := range g.peeks {
				byID[ops.Peeks[i].ID] = i
				res.Peeks[i].Workspace = exists
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
				var id uuid.UUID
				p := PeekResult{Workspace: exists, Found: true}
				st := &p.state
				if err := rows.Scan(&id, &st.status, &st.fence, &st.seq, &st.attempt, &st.maxAttempts, &st.generation,
					&st.cancel, &st.lastError, &p.Checkpoint, &p.CheckpointSeq, &p.TimeoutMS); err != nil {
					rows.Close()
					return err
				}
				res.Peeks[byID[id]] = p
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(g.claims) > 0 {
			byID := map[uuid.UUID]int{}
			for _, i := range g.claims {
				byID[ops.Claims[i].Task.ID] = i
				res.Claims[i].Outcome = unclassified
			}
			if err := readClaims(br, func(id uuid.UUID, c ClaimResult) { res.Claims[byID[id]] = c }); err != nil {
				return err
			}
		}
		if len(g.claimFinishes) > 0 {
			byID := map[uuid.UUID]int{}
			for _, i := range g.claimFinishes {
				byID[ops.ClaimFinishes[i].Claim.Task.ID] = i
				res.ClaimFinishes[i].Outcome = unclassified
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
				res.ClaimFinishes[byID[id]] = ClaimResult{Outcome: Claimed, Attempt: attempt}
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
	return nil
}

func readClaims(br pgx.BatchResults, found func(uuid.UUID, ClaimResult)) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var c ClaimResult
		if err := rows.Scan(&id, &c.Attempt, &c.MaxAttempts, &c.Checkpoint, &c.CheckpointSeq, &c.TimeoutMS); err != nil {
			return err
		}
		c.Outcome = Claimed
		found(id, c)
	}
	return rows.Err()
}

// unclassified marks a claim the batch did not take; classifyUnclaimed says why.
const unclassified ClaimOutcome = -1

// classifyUnclaimed reads, after the batch, why the claims it did not take were not taken.
type pending struct {
	result *ClaimResult
	params ClaimParams
}

func (db *DB) classifyUnclaimed(ctx context.Context, ops BatchOps, res *BatchResults) error {
	byWS := map[uuid.UUID][]pending{}
	for i := range res.Claims {
		if res.Claims[i].Outcome == unclassified {
			p := ops.Claims[i]
			byWS[p.Task.WorkspaceID] = append(byWS[p.Task.WorkspaceID], pending{&res.Claims[i], p})
		}
	}
	for i := range res.ClaimFinishes {
		if res.ClaimFinishes[i].Outcome == unclassified {
			p := ops.ClaimFinishes[i].Claim
			byWS[p.Task.WorkspaceID] = append(byWS[p.Task.WorkspaceID], pending{&res.ClaimFinishes[i], p})
		}
	}
	return db.classify(ctx, byWS)
}

func (db *DB) classify(ctx context.Context, byWS map[uuid.UUID][]pending) error {
	for ws, list := range byWS {
		ids := make([]uuid.UUID, len(list))
		byID := map[uuid.UUID]pending{}
		for j, p := range list {
			ids[j] = p.params.Task.ID
			byID[ids[j]] = p
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
				p := byID[id]
				*p.result = st.classify(p.params)
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, p := range list {
			if p.result.Outcome == unclassified {
				// No row: another task holds the idempotency key, or the workspace was deleted.
				p.result.Outcome = Duplicate
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
	case !p.Canonical && st.seq == nil && st.fence == 0:
		res.Outcome = Duplicate // a twin of a task Mosaic published: its own message runs it
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

// claimColumns are the unnest arrays shared by claimManySQL and claimFinishManySQL ($2…$14).
func claimColumns(claims []ClaimParams) ([]any, error) {
	n := len(claims)
	ids, kinds, keys := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	prios := make([]int16, n)
	args, creds, meta := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	maxAttempts, gens := make([]int32, n), make([]int32, n)
	timeouts, fences, seqs := make([]int64, n), make([]int64, n), make([]int64, n)
	runAt := make([]*time.Time, n)
	for j, c := range claims {
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
	return []any{pgUUIDs(ids), kinds, prios, args, creds, meta, maxAttempts, timeouts, runAt, keys, gens, fences, seqs}, nil
}

func claimArgs(ws uuid.UUID, claims []ClaimParams, worker string, lease time.Duration) ([]any, error) {
	cols, err := claimColumns(claims)
	if err != nil {
		return nil, err
	}
	n := len(claims)
	started := make([]*time.Time, n)
	states, progress, messages := make([][]byte, n), make([]float32, n), make([]string, n)
	canonical := make([]bool, n)
	for j, c := range claims {
		canonical[j] = c.Canonical
		if !c.StartedAt.IsZero() {
			started[j] = &claims[j].StartedAt
		}
		if len(c.State) > 0 {
			states[j] = c.State
		}
		progress[j], messages[j] = c.Progress, c.Message
	}
	out := append([]any{ws}, cols...)
	return append(out, worker, lease.Milliseconds(), started, states, progress, messages, canonical), nil
}

func claimFinishArgs(ws uuid.UUID, ops BatchOps, idx []int) ([]any, error) {
	claims := make([]ClaimParams, len(idx))
	for j, i := range idx {
		claims[j] = ops.ClaimFinishes[i].Claim
	}
	cols, err := claimColumns(claims)
	if err != nil {
		return nil, err
	}
	n := len(idx)
	started := make([]time.Time, n)
	statuses, errs, msgIDs, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	results, details, payloads := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	extra := make([]int32, n)
	nextRun := make([]*time.Time, n)
	for j, i := range idx {
		cf := ops.ClaimFinishes[i]
		f := cf.Finish
		started[j] = cf.Claim.StartedAt
		if started[j].IsZero() {
			started[j] = time.Now()
		}
		statuses[j], errs[j], extra[j], nextRun[j] = f.Status, f.Error, int32(f.ExtraAttempts), f.RunAt
		if len(f.Result) > 0 {
			results[j] = f.Result
		}
		if f.Detail != nil {
			if details[j], err = json.Marshal(f.Detail); err != nil {
				return nil, err
			}
		}
		if len(f.Outbox) == 1 {
			msgIDs[j], subjects[j], payloads[j] = f.Outbox[0].MsgID, f.Outbox[0].Subject, f.Outbox[0].Payload
		}
	}
	out := append([]any{ws}, cols...)
	return append(out, ops.Worker, started, statuses, results, errs, extra, nextRun, details, msgIDs, subjects, payloads), nil
}

func checkpointArgs(ws uuid.UUID, ops BatchOps, idx []int) []any {
	n := len(idx)
	ids, fences := make([]uuid.UUID, n), make([]int64, n)
	states, progress, messages := make([][]byte, n), make([]float32, n), make([]string, n)
	for j, i := range idx {
		c := ops.Checkpoints[i]
		ids[j], fences[j], states[j], progress[j], messages[j] = c.ID, c.Fence, c.State, c.Progress, c.Message
	}
	return []any{ws, pgUUIDs(ids), fences, states, progress, messages, ops.Lease.Milliseconds()}
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
	return []any{ws, pgUUIDs(ids), fences, statuses, results, errs, extra, runAt, details, msgIDs, subjects, payloads, ops.Worker}, nil
}

// pgUUIDs passes ids in pgx's binary UUID form (uuid.UUID goes through its text form).
func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}
