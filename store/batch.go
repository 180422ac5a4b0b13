package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	if st.claimable(p) {
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
	Claims        []ClaimParams
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

// RunBatch commits the writes of many deliveries, of any number of workspaces, in one transaction
// and one round trip: BEGIN, the batch door (the runtime role, and the batch's workspaces in
// mosaic.workspace_ids, transaction-local: RLS admits those workspaces and no other), one
// multi-row statement per kind of write, COMMIT. If any statement fails the whole batch rolls back
// and the error is returned: the caller retries the writes one by one.
func (db *DB) RunBatch(ctx context.Context, ops BatchOps) (BatchResults, error) {
	res := BatchResults{
		Peeks:         make([]PeekResult, len(ops.Peeks)),
		Claims:        make([]ClaimResult, len(ops.Claims)),
		Checkpoints:   make([]CheckpointResult, len(ops.Checkpoints)),
		Finishes:      make([]FinishResult, len(ops.Finishes)),
		ClaimFinishes: make([]ClaimResult, len(ops.ClaimFinishes)),
	}
	seen := map[TaskRef]bool{}
	var workspaces []uuid.UUID
	inBatch := map[uuid.UUID]bool{}
	add := func(ws, id uuid.UUID) error {
		ref := TaskRef{ws, id}
		if seen[ref] {
			return fmt.Errorf("store: task %s appears twice in a batch", id)
		}
		seen[ref] = true
		if !inBatch[ws] {
			inBatch[ws] = true
			workspaces = append(workspaces, ws)
		}
		return nil
	}
	for _, r := range ops.Peeks {
		if err := add(r.WorkspaceID, r.ID); err != nil {
			return res, err
		}
	}
	for _, c := range ops.Claims {
		if err := add(c.Task.WorkspaceID, c.Task.ID); err != nil {
			return res, err
		}
	}
	for _, c := range ops.ClaimFinishes {
		if c.Finish.DeadLetter != nil || len(c.Finish.Outbox) > 1 {
			return res, errors.New("store: a batched claim-and-finish carries no dead letter and at most one outbox message")
		}
		if err := add(c.Claim.Task.WorkspaceID, c.Claim.Task.ID); err != nil {
			return res, err
		}
	}
	for _, c := range ops.Checkpoints {
		if err := add(c.WorkspaceID, c.ID); err != nil {
			return res, err
		}
	}
	for _, f := range ops.Finishes {
		if f.DeadLetter != nil {
			return res, errors.New("store: a batched finish cannot carry a dead letter")
		}
		if err := add(f.WorkspaceID, f.ID); err != nil {
			return res, err
		}
	}
	if len(workspaces) == 0 {
		return res, nil
	}

	// Each statement takes its rows in one order, (workspace, id), as the publisher's insert does:
	// two statements that lock or insert some of the same rows wait for each other in turn. The
	// batch's statements together make no one order: holding a row one of them took, another may
	// wait for a row a publish's insert holds, which waits for the first — a deadlock, which
	// PostgreSQL breaks after deadlock_timeout (1 s) by failing the publish's insert (it waited
	// first), which PublishTasks tries again. The results still go to the callers' indices (at).
	sorted := ops
	sorted.Claims = byTask(ops.Claims, claimRef)
	sorted.ClaimFinishes = byTask(ops.ClaimFinishes, claimFinishRef)
	sorted.Checkpoints = byTask(ops.Checkpoints, checkpointRef)
	sorted.Finishes = byTask(ops.Finishes, finishRef)

	// Claims in workspaces with a cap go in a statement of their own, after the lock of their
	// workspaces' limits rows, which comes before any task row is taken.
	var uncapped, capped []ClaimParams
	var cappedWS []uuid.UUID
	for _, c := range sorted.Claims {
		if c.MaxConcurrency <= 0 {
			uncapped = append(uncapped, c)
			continue
		}
		if len(capped) == 0 || capped[len(capped)-1].Task.WorkspaceID != c.Task.WorkspaceID {
			cappedWS = append(cappedWS, c.Task.WorkspaceID)
		}
		capped = append(capped, c)
	}

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(setBatchDoorSQL, RuntimeRole, joinIDs(workspaces))
	if len(cappedWS) > 0 {
		b.Queue(lockLimitsSQL, pgUUIDs(cappedWS))
	}
	// Each statement's rows go to the callback queued with it (pgx runs them in order).
	if len(ops.Peeks) > 0 {
		ws, ids := make([]uuid.UUID, len(ops.Peeks)), make([]uuid.UUID, len(ops.Peeks))
		for i, r := range ops.Peeks {
			ws[i], ids[i] = r.WorkspaceID, r.ID
		}
		at := indexOf(ops.Peeks, func(r TaskRef) TaskRef { return r })
		b.Queue(peekManySQL, pgUUIDs(ws), pgUUIDs(ids)).Query(func(rows pgx.Rows) error { return readPeeks(rows, at, res.Peeks) })
	}
	if len(ops.Claims) > 0 {
		at := indexOf(ops.Claims, claimRef)
		for i := range res.Claims {
			res.Claims[i].Outcome = unclassified
		}
		found := func(ref TaskRef, c ClaimResult) { res.Claims[at[ref]] = c }
		for _, q := range []struct {
			sql    string
			claims []ClaimParams
		}{{claimManySQL, uncapped}, {claimCappedSQL, capped}} {
			if len(q.claims) == 0 {
				continue
			}
			args, err := claimArgs(q.claims, ops.Worker, ops.Lease)
			if err != nil {
				return res, err
			}
			b.Queue(q.sql, args...).Query(func(rows pgx.Rows) error { return readClaims(rows, found) })
		}
	}
	if len(ops.ClaimFinishes) > 0 {
		args, err := claimFinishArgs(sorted)
		if err != nil {
			return res, err
		}
		at := indexOf(ops.ClaimFinishes, claimFinishRef)
		for i := range res.ClaimFinishes {
			res.ClaimFinishes[i].Outcome = unclassified
		}
		b.Queue(claimFinishManySQL, args...).Query(func(rows pgx.Rows) error {
			return readRows(rows, func(ref TaskRef, attempt int) {
				res.ClaimFinishes[at[ref]] = ClaimResult{Outcome: Claimed, Attempt: attempt}
			})
		})
	}
	if len(ops.Checkpoints) > 0 {
		at := indexOf(ops.Checkpoints, checkpointRef)
		for i := range res.Checkpoints {
			res.Checkpoints[i].Fenced = true
		}
		b.Queue(checkpointManySQL, checkpointArgs(sorted)...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var ref TaskRef
				var c CheckpointResult
				if err := rows.Scan(&ref.WorkspaceID, &ref.ID, &c.Seq, &c.CancelRequested); err != nil {
					return err
				}
				res.Checkpoints[at[ref]] = c
			}
			return rows.Err()
		})
	}
	if len(ops.Finishes) > 0 {
		args, err := finishArgs(sorted)
		if err != nil {
			return res, err
		}
		at := indexOf(ops.Finishes, finishRef)
		for i := range res.Finishes {
			res.Finishes[i].Fenced = true
		}
		b.Queue(finishManySQL, args...).Query(func(rows pgx.Rows) error {
			return readRows(rows, func(ref TaskRef, attempt int) { res.Finishes[at[ref]] = FinishResult{Attempt: attempt} })
		})
	}
	if err := db.pipeline(ctx, b); err != nil {
		return res, err
	}
	if err := db.classifyUnclaimed(ctx, ops, &res); err != nil {
		return res, err
	}
	return res, db.claimRaced(ctx, ops, &res)
}

// claimAgain is p for a second claim of a row that now exists. A claim that knew the row existed
// cannot race with its insert: that is an error, and also what bounds the retries to one.
func claimAgain(p ClaimParams) (ClaimParams, error) {
	if p.Exists {
		return p, fmt.Errorf("store: the claim of task %s found its row claimable and did not take it", p.Task.ID)
	}
	p.Exists = true
	return p, nil
}

// claimRaced claims again, now that their rows are there, the claims of a batch that raced with
// the insert of their task's row (Raced). The rows exist, so the second claim sends none of the
// creation columns; it races with nothing.
func (db *DB) claimRaced(ctx context.Context, ops BatchOps, res *BatchResults) error {
	again := BatchOps{Worker: ops.Worker, Lease: ops.Lease}
	var claims, claimFinishes []int
	for i, c := range res.Claims {
		if c.Outcome == Raced {
			p, err := claimAgain(ops.Claims[i])
			if err != nil {
				return err
			}
			again.Claims, claims = append(again.Claims, p), append(claims, i)
		}
	}
	for i, c := range res.ClaimFinishes {
		if c.Outcome == Raced {
			cf := ops.ClaimFinishes[i]
			var err error
			if cf.Claim, err = claimAgain(cf.Claim); err != nil {
				return err
			}
			again.ClaimFinishes, claimFinishes = append(again.ClaimFinishes, cf), append(claimFinishes, i)
		}
	}
	if len(claims)+len(claimFinishes) == 0 {
		return nil
	}
	r, err := db.RunBatch(ctx, again)
	if err != nil {
		return err
	}
	for j, i := range claims {
		res.Claims[i] = r.Claims[j]
	}
	for j, i := range claimFinishes {
		res.ClaimFinishes[i] = r.ClaimFinishes[j]
	}
	return nil
}

// The task each kind of batched write is about (byTask, indexOf).
func claimRef(c ClaimParams) TaskRef           { return TaskRef{c.Task.WorkspaceID, c.Task.ID} }
func claimFinishRef(c ClaimFinish) TaskRef     { return TaskRef{c.Claim.Task.WorkspaceID, c.Claim.Task.ID} }
func checkpointRef(c CheckpointParams) TaskRef { return TaskRef{c.WorkspaceID, c.ID} }
func finishRef(f Finish) TaskRef               { return TaskRef{f.WorkspaceID, f.ID} }

// byTask is items ordered by their task (workspace, then id), in a copy; items already in that
// order are returned as they are.
func byTask[T any](items []T, ref func(T) TaskRef) []T {
	less := func(a, b T) int { return compareRefs(ref(a), ref(b)) }
	if slices.IsSortedFunc(items, less) {
		return items
	}
	out := slices.Clone(items)
	slices.SortFunc(out, less)
	return out
}

func compareRefs(a, b TaskRef) int {
	if c := bytes.Compare(a.WorkspaceID[:], b.WorkspaceID[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// indexOf maps each item's task to the item's index.
func indexOf[T any](items []T, ref func(T) TaskRef) map[TaskRef]int {
	at := make(map[TaskRef]int, len(items))
	for i, it := range items {
		at[ref(it)] = i
	}
	return at
}

// setBatchDoorSQL is the batch door: the runtime role, no single workspace, the batch's workspaces.
const setBatchDoorSQL = `SELECT set_config('role', $1, true), set_config('mosaic.workspace_id', '', true),
	set_config('mosaic.user_id', '', true), set_config('mosaic.workspace_ids', $2, true), ` + genericPlans

// joinIDs is workspace ids as mosaic.workspace_ids holds them: canonical UUID text, comma-separated.
func joinIDs(ids []uuid.UUID) string {
	b := make([]byte, 0, len(ids)*37)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, id.String()...)
	}
	return string(b)
}

// pipeline sends a transaction in one round trip: b starts with BEGIN, and pipeline queues the
// COMMIT (checked). Each statement's result goes to the callback queued with it (pgx QueuedQuery);
// one without a callback only has to succeed. When a statement fails the pipeline stops before
// COMMIT: the transaction is rolled back so the connection can go back to the pool.
func (db *DB) pipeline(ctx context.Context, b *pgx.Batch) error {
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("store: pipeline ended with %q, not COMMIT", tag.String())
		}
		return nil
	})
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = conn.SendBatch(ctx, b).Close()
	if conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return err
}

func readPeeks(rows pgx.Rows, at map[TaskRef]int, out []PeekResult) error {
	for rows.Next() {
		var ref TaskRef
		var exists bool
		var status *string
		var fence, attempt, maxAttempts, generation, checkpointSeq, timeoutMS *int64
		var cancel *bool
		var lastError *string
		var seq *int64
		var checkpoint []byte
		if err := rows.Scan(&ref.WorkspaceID, &ref.ID, &exists, &status, &fence, &seq, &attempt, &maxAttempts, &generation,
			&cancel, &lastError, &checkpoint, &checkpointSeq, &timeoutMS); err != nil {
			return err
		}
		p := PeekResult{Workspace: exists, Found: status != nil}
		if p.Found {
			p.state = classifyState{status: Status(*status), fence: *fence, seq: seq, attempt: int(*attempt), maxAttempts: int(*maxAttempts),
				generation: int(*generation), cancel: *cancel, lastError: *lastError}
			p.Checkpoint, p.CheckpointSeq, p.TimeoutMS = checkpoint, *checkpointSeq, *timeoutMS
		}
		out[at[ref]] = p
	}
	return rows.Err()
}

// readRows reads statement rows of (workspace, id, attempt).
func readRows(rows pgx.Rows, found func(TaskRef, int)) error {
	for rows.Next() {
		var ref TaskRef
		var attempt int
		if err := rows.Scan(&ref.WorkspaceID, &ref.ID, &attempt); err != nil {
			return err
		}
		found(ref, attempt)
	}
	return rows.Err()
}

func readClaims(rows pgx.Rows, found func(TaskRef, ClaimResult)) error {
	for rows.Next() {
		var ref TaskRef
		var c ClaimResult
		var atCapacity bool
		if err := rows.Scan(&ref.WorkspaceID, &ref.ID, &c.Attempt, &c.MaxAttempts, &c.Checkpoint, &c.CheckpointSeq, &c.TimeoutMS,
			&atCapacity); err != nil {
			return err
		}
		c.Outcome = Claimed
		if atCapacity {
			c = ClaimResult{Outcome: AtCapacity}
		}
		found(ref, c)
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

// classify reads the rows of claims that took nothing, in one transaction through the batch door
// (generic plans: a custom plan for an array of ids cost more to plan than to run).
func (db *DB) classify(ctx context.Context, byWS map[uuid.UUID][]pending) error {
	if len(byWS) == 0 {
		return nil
	}
	wss := make([]uuid.UUID, 0, len(byWS))
	for ws := range byWS {
		wss = append(wss, ws)
	}
	err := db.inWorkspaces(ctx, wss, func(tx pgx.Tx) error {
		for ws, list := range byWS {
			ids := make([]uuid.UUID, len(list))
			byID := map[uuid.UUID]pending{}
			for j, p := range list {
				ids[j] = p.params.Task.ID
				byID[ids[j]] = p
			}
			rows, err := tx.Query(ctx, classifyManySQL, ws, ids)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id uuid.UUID
				var st classifyState
				if err := rows.Scan(&id, &st.status, &st.fence, &st.seq, &st.attempt, &st.maxAttempts, &st.generation,
					&st.cancel, &st.lastError); err != nil {
					rows.Close()
					return err
				}
				p := byID[id]
				*p.result = st.classify(p.params)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, list := range byWS {
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
	status               Status
	fence                int64
	seq                  *int64
	attempt, maxAttempts int
	generation           int
	cancel               bool
	lastError            string
}

// claimable is claimRule in Go: whether a claim by p may take the task whose row is st.
func (st classifyState) claimable(p ClaimParams) bool {
	return st.fence < p.Fence && st.generation <= p.Task.Generation && !Terminal(st.status) && !st.cancel &&
		st.attempt < st.maxAttempts && (p.Canonical || st.fence > 0)
}

// classify says why a claim was not taken, from the task's row as read after the claim.
func (st classifyState) classify(p ClaimParams) ClaimResult {
	res := ClaimResult{Status: st.status, Attempt: st.attempt, MaxAttempts: st.maxAttempts, LastError: st.lastError,
		Fence: st.fence}
	switch {
	case st.claimable(p):
		// The row was committed after the claim statement began (a publisher that wrote it
		// after JetStream accepted its message): the claim statement neither saw it nor could
		// insert it. Claiming again takes it.
		res.Outcome = Raced
	case Terminal(st.status):
		res.Outcome = Finished
		res.EndedHere = st.seq != nil && uint64(*st.seq) == p.MsgSeq
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

// claimColumns are the unnest arrays shared by claimManySQL and claimFinishManySQL ($1…$15).
func claimColumns(claims []ClaimParams) ([]any, error) {
	n := len(claims)
	ws, ids, keys := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]string, n)
	prios := make([]int16, n)
	args, creds, meta := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	maxAttempts, gens := make([]int32, n), make([]int32, n)
	timeouts, fences, seqs := make([]int64, n), make([]int64, n), make([]int64, n)
	runAt := make([]*time.Time, n)
	canonical := make([]bool, n)
	kindOrNull := make([]*string, n)
	for j, c := range claims {
		t := c.Task
		ws[j], ids[j], gens[j] = t.WorkspaceID, t.ID, int32(t.Generation)
		fences[j], seqs[j], canonical[j] = c.Fence, int64(c.MsgSeq), c.Canonical
		if c.Exists {
			continue // the row is there: no columns to create it from (a NULL kind skips the insert)
		}
		kindOrNull[j] = &claims[j].Task.Kind
		prios[j], args[j] = int16(t.Priority), t.args()
		var err error
		if creds[j], err = json.Marshal(t.credentials()); err != nil {
			return nil, err
		}
		if meta[j], err = json.Marshal(t.metadata()); err != nil {
			return nil, err
		}
		maxAttempts[j], timeouts[j], runAt[j], keys[j] = int32(t.MaxAttempts), t.TimeoutMS, t.RunAt, t.IdempotencyKey
	}
	return []any{pgUUIDs(ws), pgUUIDs(ids), kindOrNull, prios, args, creds, meta, maxAttempts, timeouts, runAt, keys, gens, fences, seqs, canonical}, nil
}

func claimArgs(claims []ClaimParams, worker string, lease time.Duration) ([]any, error) {
	out, err := claimColumns(claims)
	if err != nil {
		return nil, err
	}
	n := len(claims)
	started := make([]*time.Time, n)
	states, progress, messages := make([][]byte, n), make([]float32, n), make([]string, n)
	for j, c := range claims {
		if !c.StartedAt.IsZero() {
			started[j] = &claims[j].StartedAt
		}
		if len(c.State) > 0 {
			states[j] = c.State
		}
		progress[j], messages[j] = c.Progress, c.Message
	}
	return append(out, worker, lease.Milliseconds(), started, states, progress, messages), nil
}

func claimFinishArgs(ops BatchOps) ([]any, error) {
	claims := make([]ClaimParams, len(ops.ClaimFinishes))
	for j, cf := range ops.ClaimFinishes {
		claims[j] = cf.Claim
	}
	out, err := claimColumns(claims)
	if err != nil {
		return nil, err
	}
	n := len(claims)
	started := make([]time.Time, n)
	statuses, errs, msgIDs, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	results, details, payloads := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	extra := make([]int32, n)
	nextRun := make([]*time.Time, n)
	for j, cf := range ops.ClaimFinishes {
		f := cf.Finish
		started[j] = cf.Claim.StartedAt
		if started[j].IsZero() {
			started[j] = time.Now()
		}
		statuses[j], errs[j], extra[j], nextRun[j] = string(f.Status), f.Error, int32(f.ExtraAttempts), f.RunAt
		if len(f.Result) > 0 {
			results[j] = f.Result
		}
		if d := f.eventDetail(); d != nil {
			if details[j], err = json.Marshal(d); err != nil {
				return nil, err
			}
		}
		if len(f.Outbox) == 1 {
			msgIDs[j], subjects[j], payloads[j] = f.Outbox[0].MsgID, f.Outbox[0].Subject, f.Outbox[0].Payload
		}
	}
	return append(out, ops.Worker, started, statuses, results, errs, extra, nextRun, details, msgIDs, subjects, payloads), nil
}

func checkpointArgs(ops BatchOps) []any {
	n := len(ops.Checkpoints)
	ws, ids, fences := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]int64, n)
	states, progress, messages := make([][]byte, n), make([]float32, n), make([]string, n)
	for j, c := range ops.Checkpoints {
		ws[j], ids[j], fences[j], states[j], progress[j], messages[j] = c.WorkspaceID, c.ID, c.Fence, c.State, c.Progress, c.Message
	}
	return []any{pgUUIDs(ws), pgUUIDs(ids), fences, states, progress, messages, ops.Lease.Milliseconds()}
}

func finishArgs(ops BatchOps) ([]any, error) {
	n := len(ops.Finishes)
	ws, ids, fences := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]int64, n)
	statuses, errs, msgIDs, subjects := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	results, details, payloads := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	extra := make([]int32, n)
	runAt := make([]*time.Time, n)
	for j, f := range ops.Finishes {
		ws[j], ids[j], fences[j], statuses[j], errs[j], extra[j], runAt[j] = f.WorkspaceID, f.ID, f.Fence, string(f.Status), f.Error, int32(f.ExtraAttempts), f.RunAt
		if len(f.Result) > 0 {
			results[j] = f.Result
		}
		if d := f.eventDetail(); d != nil {
			var err error
			if details[j], err = json.Marshal(d); err != nil {
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
	return []any{pgUUIDs(ws), pgUUIDs(ids), fences, statuses, results, errs, extra, runAt, details, msgIDs, subjects, payloads, ops.Worker}, nil
}

// pgUUIDs passes ids in pgx's binary UUID form (uuid.UUID goes through its text form).
func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}
