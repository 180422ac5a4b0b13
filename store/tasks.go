package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
)

// Status (mosaictype.Status) is where a task stands.
type Status = mosaictype.Status

// Task statuses.
const (
	StatusQueued    = mosaictype.StatusQueued
	StatusScheduled = mosaictype.StatusScheduled
	StatusRunning   = mosaictype.StatusRunning
	StatusRetrying  = mosaictype.StatusRetrying
	StatusSucceeded = mosaictype.StatusSucceeded
	StatusDead      = mosaictype.StatusDead
	StatusCancelled = mosaictype.StatusCancelled
)

// ValidStatus reports whether s is a task status (s.Valid()).
func ValidStatus(s Status) bool { return s.Valid() }

// Terminal reports whether a status is final (s.Terminal()).
func Terminal(s Status) bool { return s.Terminal() }

// Task (mosaictype.Task) is a task row.
type Task = mosaictype.Task

// NewTask is a task as published.
type NewTask struct {
	WorkspaceID    uuid.UUID
	ID             uuid.UUID
	Kind           string
	Priority       int
	Status         Status // queued or scheduled
	Args           json.RawMessage
	Credentials    []string
	Metadata       map[string]string
	MaxAttempts    int
	TimeoutMS      int64
	RunAt          *time.Time
	IdempotencyKey string
	Generation     int
	// PublishedBy is the user who published the task (uuid.Nil: none, e.g. a raw NATS message):
	// the task may open that user's USER credentials.
	PublishedBy uuid.UUID
	// CreatedAt is when it was published (zero: the inserting transaction's time).
	CreatedAt time.Time
	// MsgSeq is the stream sequence of its message when JetStream accepted the message before the
	// row was written (0: not yet sent). The row keeps it, so that a cancel can take the message
	// back from the stream (its first delivery does not read the row before it runs).
	MsgSeq uint64
}

func (n *NewTask) metadata() map[string]string {
	if n.Metadata == nil {
		return map[string]string{}
	}
	return n.Metadata
}

func (n *NewTask) args() json.RawMessage {
	if len(n.Args) == 0 {
		return json.RawMessage(`{}`)
	}
	return n.Args
}

func (n *NewTask) credentials() []string {
	if n.Credentials == nil {
		return []string{}
	}
	return n.Credentials
}

// TaskEvent (mosaictype.TaskEvent) is one transition of a task.
type TaskEvent = mosaictype.TaskEvent

// OutboxMessage is a message to publish once its transaction commits.
type OutboxMessage struct {
	WorkspaceID uuid.UUID
	MsgID       string
	Subject     string
	Headers     map[string][]string
	Payload     []byte
}

// InsertTask inserts a published task, with its "published" event unless its row holds it
// (publishedInRow: a queued task); inserted is false when a task with this id (or idempotency
// key) exists already. tx must be in the task's workspace.
func InsertTask(ctx context.Context, tx pgx.Tx, t NewTask) (inserted bool, err error) {
	tag, err := tx.Exec(ctx, insertTaskSQL, t.WorkspaceID, t.ID, t.Kind, t.Priority, t.Status, t.args(),
		t.credentials(), t.metadata(), t.MaxAttempts, t.TimeoutMS, t.RunAt, t.IdempotencyKey, t.Generation)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 || t.Status == StatusQueued {
		return tag.RowsAffected() > 0, nil
	}
	return true, InsertTaskEvent(ctx, tx, t.WorkspaceID, t.ID, "published", t.Status, 0, 0, "", nil)
}

// InsertTasks publishes tasks in one statement: each row with its "published" event (unless its
// row holds it: publishedInRow) and its outbox message (msgs[i] carries tasks[i]), which the
// relay leaves alone for headStart (the publisher sends it itself after the commit). A message
// with an empty subject is one JetStream has accepted already: its task gets no outbox row. A
// task whose id or idempotency key exists already is skipped: outboxIDs[i] is the outbox row of
// tasks[i], Accepted when it was inserted without one, 0 when it was not inserted. tx must be in
// the tasks' workspace.
func InsertTasks(ctx context.Context, tx pgx.Tx, tasks []NewTask, msgs []OutboxMessage, headStart time.Duration) (outboxIDs []int64, err error) {
	args, ids, err := insertTasksArgs(tasks, msgs, headStart)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, insertTasksSQL, args...)
	if err != nil {
		return nil, err
	}
	if outboxIDs, err = readInserted(rows, ids); err != nil {
		return nil, err
	}
	return outboxIDs, fillPublishers(ctx, tx, tasks, msgs, outboxIDs)
}

// fillPublishers records the publisher of each task whose message JetStream had accepted and
// whose row the statement found written already: its delivery ran first and its claim wrote the
// row from the message, which does not know who published it. (A rare path: a statement of its
// own, whose snapshot sees the rows the insert waited for; not a join in the insert, whose plan
// could scan the table.)
func fillPublishers(ctx context.Context, tx pgx.Tx, tasks []NewTask, msgs []OutboxMessage, outboxIDs []int64) error {
	for i, t := range tasks {
		if lacksPublisher(t, msgs[i], outboxIDs[i]) {
			if _, err := tx.Exec(ctx, fillPublisherSQL, t.WorkspaceID, t.ID, t.PublishedBy); err != nil {
				return err
			}
		}
	}
	return nil
}

// PublishTasks is InsertTasks in a transaction of its own in workspace ws, sent as one pipeline
// (BEGIN, the door's settings, the statement, COMMIT: one round trip), for the publish path
// where every round trip is latency.
func (db *DB) PublishTasks(ctx context.Context, ws uuid.UUID, tasks []NewTask, msgs []OutboxMessage, headStart time.Duration) (outboxIDs []int64, err error) {
	args, ids, err := insertTasksArgs(tasks, msgs, headStart)
	if err != nil {
		return nil, err
	}
	// A delivery that ran before this insert writes its task's row itself, and may then hold it
	// (ending or claiming it) while it waits to insert another row of this very insert, which
	// waits for it in turn on ON CONFLICT: a deadlock, which PostgreSQL breaks after a second by
	// failing one of the two — this insert, all or nothing, is then simply tried again. (Skipping
	// the rows the insert's snapshot sees would avoid most of them, but its lookups, planned on a
	// young table's statistics, made the publish several times dearer.)
	for try := 1; ; try++ {
		b := workspaceBatch(ws)
		b.Queue(insertTasksSQL, args...).Query(func(rows pgx.Rows) error {
			var err error
			outboxIDs, err = readInserted(rows, ids)
			return err
		})
		if err = db.pipeline(ctx, b); err == nil {
			break
		}
		if try == 3 || !hasCode(err, pgerrcode.DeadlockDetected) {
			return nil, err
		}
	}
	for i, t := range tasks {
		if lacksPublisher(t, msgs[i], outboxIDs[i]) {
			return outboxIDs, db.InWorkspace(ctx, ws, func(tx pgx.Tx) error { return fillPublishers(ctx, tx, tasks, msgs, outboxIDs) })
		}
	}
	return outboxIDs, nil
}

// lacksPublisher says whether task t's row was found written (not inserted) although its message
// had been accepted by JetStream (empty subject): its delivery wrote the row, without a publisher.
func lacksPublisher(t NewTask, m OutboxMessage, outboxID int64) bool {
	return outboxID == 0 && m.Subject == "" && t.IdempotencyKey == "" && t.PublishedBy != uuid.Nil
}

func insertTasksArgs(tasks []NewTask, msgs []OutboxMessage, headStart time.Duration) ([]any, []uuid.UUID, error) {
	if len(tasks) != len(msgs) {
		return nil, nil, errors.New("store: InsertTasks needs one outbox message per task")
	}
	var err error
	n := len(tasks)
	var (
		ws, ids                    = make([]uuid.UUID, n), make([]uuid.UUID, n)
		kinds, statuses, keys      = make([]string, n), make([]string, n), make([]string, n)
		msgIDs, subjects           = make([]string, n), make([]string, n)
		prios                      = make([]int16, n)
		args, creds, meta, headers = make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
		maxAttempts, generations   = make([]int32, n), make([]int32, n)
		timeouts                   = make([]int64, n)
		runAt                      = make([]*time.Time, n)
		payloads                   = make([][]byte, n)
		publishers                 = make([]*uuid.UUID, n)
		created                    = make([]*time.Time, n)
		seqs                       = make([]int64, n)
	)
	// The rows go in (workspace, id) order, as each of the engine's statements takes theirs
	// (RunBatch): a claim that inserts a row its publisher is inserting too waits for it.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return compareRefs(TaskRef{tasks[a].WorkspaceID, tasks[a].ID}, TaskRef{tasks[b].WorkspaceID, tasks[b].ID})
	})
	for i, k := range order {
		t := tasks[k]
		ws[i], ids[i], kinds[i], prios[i], statuses[i] = t.WorkspaceID, t.ID, t.Kind, int16(t.Priority), string(t.Status)
		args[i] = t.args()
		if creds[i], err = json.Marshal(t.credentials()); err != nil {
			return nil, nil, err
		}
		if meta[i], err = json.Marshal(t.metadata()); err != nil {
			return nil, nil, err
		}
		h := msgs[k].Headers
		if h == nil {
			h = map[string][]string{}
		}
		if headers[i], err = json.Marshal(h); err != nil {
			return nil, nil, err
		}
		maxAttempts[i], timeouts[i], runAt[i], keys[i], generations[i] = int32(t.MaxAttempts), t.TimeoutMS, t.RunAt, t.IdempotencyKey, int32(t.Generation)
		msgIDs[i], subjects[i], payloads[i] = msgs[k].MsgID, msgs[k].Subject, msgs[k].Payload
		publishers[i], seqs[i] = nilUUID(t.PublishedBy), int64(t.MsgSeq)
		if !t.CreatedAt.IsZero() {
			created[i] = &t.CreatedAt
		}
	}
	inOrder := make([]uuid.UUID, n) // the callers' order, for readInserted
	for i, t := range tasks {
		inOrder[i] = t.ID
	}
	return []any{pgUUIDs(ws), pgUUIDs(ids), kinds, prios, statuses, args, creds, meta, maxAttempts,
		timeouts, runAt, keys, generations, msgIDs, subjects, headers, payloads, headStart.Milliseconds(), publishers, created, seqs}, inOrder, nil
}

// Accepted is the outbox "row" of a task inserted without one: its message was on the stream
// before its row was written.
const Accepted int64 = -1

// readInserted reads insertTasksSQL's rows: the outbox row of each task inserted (Accepted: none),
// 0 for the others.
func readInserted(rows pgx.Rows, ids []uuid.UUID) ([]int64, error) {
	defer rows.Close()
	got := map[uuid.UUID]int64{}
	for rows.Next() {
		var id uuid.UUID
		var ob int64
		if err := rows.Scan(&id, &ob); err != nil {
			return nil, err
		}
		got[id] = ob
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	outboxIDs := make([]int64, len(ids))
	for i, id := range ids {
		outboxIDs[i] = got[id]
		delete(got, id) // a second copy of the same id in one call is not inserted
	}
	return outboxIDs, nil
}

// DeleteOutbox removes published outbox rows of a workspace (one pipelined transaction).
func (db *DB) DeleteOutbox(ctx context.Context, ws uuid.UUID, ids []int64) error {
	b := workspaceBatch(ws)
	wss := make([]uuid.UUID, len(ids))
	for i := range wss {
		wss[i] = ws
	}
	b.Queue(deleteOutboxSQL, pgUUIDs(wss), ids)
	return db.pipeline(ctx, b)
}

// FindTask finds the task with this id, or else the one holding this idempotency key.
func FindTask(ctx context.Context, tx pgx.Tx, ws, id uuid.UUID, idempotencyKey string) (uuid.UUID, Status, error) {
	var status Status
	err := tx.QueryRow(ctx, findTaskSQL, ws, id, idempotencyKey).Scan(&id, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, "", fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return id, status, err
}

// InsertTaskEvent records a transition. detail may be nil.
func InsertTaskEvent(ctx context.Context, tx pgx.Tx, ws, task uuid.UUID, typ string, status Status, attempt int, fence int64, worker string, detail any) error {
	var raw []byte
	if detail != nil {
		var err error
		if raw, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, insertTaskEventSQL, ws, task, typ, nullIfEmpty(string(status)), attempt, fence, nullIfEmpty(worker), raw)
	return err
}

// InsertOutbox queues a message for the relay; it is published after tx commits.
func InsertOutbox(ctx context.Context, tx pgx.Tx, m OutboxMessage) error {
	headers := m.Headers
	if headers == nil {
		headers = map[string][]string{}
	}
	_, err := tx.Exec(ctx, insertOutboxSQL, m.WorkspaceID, m.MsgID, m.Subject, headers, m.Payload)
	return err
}

// SucceededEvent is events.SucceededEvent as an outbox message: what a pool publishes after a
// success's commit, and what a replay queues for a success that may not have had it sent.
func SucceededEvent(ws, task uuid.UUID, kind string, attempt int, fence int64) OutboxMessage {
	ev := events.SucceededEvent(ws, task, kind, attempt, fence)
	payload, _ := json.Marshal(ev) // uuids, strings, ints and a time: cannot fail
	return OutboxMessage{WorkspaceID: ws, MsgID: ev.ID.String(), Subject: events.EventSubject(ws, ev.Type), Payload: payload}
}

// QueueOutbox queues one outbox message in a transaction of its own.
func (db *DB) QueueOutbox(ctx context.Context, m OutboxMessage) error {
	return db.InWorkspace(ctx, m.WorkspaceID, func(tx pgx.Tx) error { return InsertOutbox(ctx, tx, m) })
}

// ClaimParams describe a delivery that wants to run a task.
type ClaimParams struct {
	Task   NewTask // the task as the message describes it: the row is created from it if missing
	Fence  int64
	MsgSeq uint64
	Worker string
	// Lease is how long the claim holds without renewal (counted by concurrency caps).
	Lease time.Duration
	// MaxConcurrency, when > 0, is the workspace's cap on running tasks across all workers.
	MaxConcurrency int
	// Canonical: the message is the task's own (published by Mosaic: its Nats-Msg-Id is the
	// task's, or the task's schedule delivered it). Another message may not take a task Mosaic
	// published before any delivery has claimed it.
	Canonical bool
	// StartedAt is when the handler started (zero: now). A delivery that ran before claiming
	// claims with its first write, and records when it really started.
	StartedAt time.Time
	// State, when set, is the delivery's first checkpoint, written with the claim (with Progress
	// and Message).
	State    json.RawMessage
	Progress float32
	Message  string
	// Exists: a peek found the task's row. The claim then sends only what it changes, not the
	// columns a missing row would be created from (should the row be gone after all, the claim
	// finds nothing to take and says why).
	Exists bool
}

// ClaimOutcome says what a claim found.
type ClaimOutcome int

// Claim outcomes.
const (
	// Claimed: this delivery holds the task.
	Claimed ClaimOutcome = iota
	// Finished: the task is already succeeded, dead or cancelled: ack the message.
	Finished
	// Duplicate: another message (or an older generation) is this task: ack this one.
	Duplicate
	// Stale: a newer delivery of this same message holds the task: do not ack.
	Stale
	// AtCapacity: the workspace runs as many tasks as its cap allows: try later.
	AtCapacity
	// CancelRequested: the task was asked to stop before this delivery ran it.
	CancelRequested
	// Exhausted: the task used every attempt (its last worker was lost).
	Exhausted
	// Raced: the task's row was inserted while the claim ran, too late for it to see: claim
	// again. The store does, so its callers never see this outcome.
	Raced
)

// String names the outcome as logs and traces show it: claimed, finished, duplicate, stale,
// at_capacity, cancel_requested, exhausted, raced.
func (o ClaimOutcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Finished:
		return "finished"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	case AtCapacity:
		return "at_capacity"
	case CancelRequested:
		return "cancel_requested"
	case Exhausted:
		return "exhausted"
	case Raced:
		return "raced"
	}
	return fmt.Sprintf("ClaimOutcome(%d)", int(o))
}

// ClaimResult is what a claim found.
type ClaimResult struct {
	Outcome       ClaimOutcome
	Attempt       int
	MaxAttempts   int
	Checkpoint    json.RawMessage
	CheckpointSeq int64
	TimeoutMS     int64
	Status        Status // when not claimed
	LastError     string // when exhausted
	Fence         int64  // when not claimed: the row's fencing token (that of the delivery that holds or ended it)
	// EndedHere: Finished by a delivery of this same message (the row holds its stream
	// sequence): a redelivery after that delivery committed its end and before it acked, whose
	// after-commit work (the success's domain event) may not have been done.
	EndedHere bool
}

// Claim takes a task for a delivery, creating its row if the publisher did not: a batch of one
// claim (RunBatch), the path every claim takes. The returned error wraps ErrNotFound when the
// workspace does not exist.
func (db *DB) Claim(ctx context.Context, p ClaimParams) (ClaimResult, error) {
	res, err := db.RunBatch(ctx, BatchOps{Worker: p.Worker, Lease: p.Lease, Claims: []ClaimParams{p}})
	if err != nil {
		return claimFailed(p, err)
	}
	return res.Claims[0], nil
}

// ClaimFinish claims and ends, in one transaction, a delivery that ran without claiming: a batch
// of one. Not claimed: the result says why.
func (db *DB) ClaimFinish(ctx context.Context, cf ClaimFinish, worker string) (ClaimResult, error) {
	res, err := db.RunBatch(ctx, BatchOps{Worker: worker, ClaimFinishes: []ClaimFinish{cf}})
	if err != nil {
		return claimFailed(cf.Claim, err)
	}
	return res.ClaimFinishes[0], nil
}

// claimFailed says what a claim of one task that failed found: a workspace that does not exist
// (its row's foreign key), or an idempotency key another task took while the claim inserted the
// row (a duplicate, as a batch's claim would classify it had it seen that task).
func claimFailed(p ClaimParams, err error) (ClaimResult, error) {
	switch {
	case IsForeignKeyViolation(err):
		return ClaimResult{}, fmt.Errorf("workspace %s: %w", p.Task.WorkspaceID, ErrNotFound)
	case IsUniqueViolation(err):
		return ClaimResult{Outcome: Duplicate}, nil
	}
	return ClaimResult{}, err
}

// FencedOpts locate a delivery's hold on a task.
type FencedOpts struct {
	WorkspaceID uuid.UUID
	ID          uuid.UUID
	Fence       int64
}

// CheckpointResult is what a checkpoint wrote.
type CheckpointResult struct {
	Seq             int64
	CancelRequested bool
	Fenced          bool // batched checkpoints only: no row changed (CheckpointTx returns ErrFenced)
}

// Checkpoint saves a delivery's state (JSON) and progress and renews its lease. It returns
// ErrFenced when a newer delivery holds the task.
func (db *DB) Checkpoint(ctx context.Context, f FencedOpts, state json.RawMessage, progress float32, message string, lease time.Duration) (CheckpointResult, error) {
	var res CheckpointResult
	err := db.InWorkspace(ctx, f.WorkspaceID, func(tx pgx.Tx) error {
		return CheckpointTx(ctx, tx, f, state, progress, message, lease, &res)
	})
	return res, err
}

// CheckpointTx is Checkpoint inside the caller's transaction (in the task's workspace), so that a
// handler's business write and its checkpoint commit together.
func CheckpointTx(ctx context.Context, tx pgx.Tx, f FencedOpts, state json.RawMessage, progress float32, message string, lease time.Duration, res *CheckpointResult) error {
	err := tx.QueryRow(ctx, checkpointSQL, f.WorkspaceID, f.ID, f.Fence, state, lease.Milliseconds(), progress, message).
		Scan(&res.Seq, &res.CancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrFenced
	}
	return err
}

// Lease is one running delivery whose lease is renewed.
type Lease struct {
	ID       uuid.UUID
	Fence    int64
	Progress float32
	Message  string
}

// LeaseStatus is what a renewal found for one delivery.
type LeaseStatus struct {
	Fenced          bool // a newer delivery holds the task (or it is no longer running)
	CancelRequested bool
}

// RenewLeases renews the leases of running deliveries of one workspace and records their
// progress, in one statement.
func (db *DB) RenewLeases(ctx context.Context, ws uuid.UUID, leases []Lease, lease time.Duration) (map[uuid.UUID]LeaseStatus, error) {
	ids := make([]uuid.UUID, len(leases))
	fences := make([]int64, len(leases))
	progress := make([]float32, len(leases))
	messages := make([]string, len(leases))
	out := make(map[uuid.UUID]LeaseStatus, len(leases))
	for i, l := range leases {
		ids[i], fences[i], progress[i], messages[i] = l.ID, l.Fence, l.Progress, l.Message
		out[l.ID] = LeaseStatus{Fenced: true}
	}
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, renewLeasesSQL, ws, ids, lease.Milliseconds(), fences, progress, messages)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			var cancel bool
			if err := rows.Scan(&id, &cancel); err != nil {
				return err
			}
			out[id] = LeaseStatus{CancelRequested: cancel}
		}
		return rows.Err()
	})
	return out, err
}

// Finish ends a delivery's hold on a task: a terminal status, or a retry. With it, in the same
// transaction: the task event, an optional dead letter and the outbox messages (domain events).
type Finish struct {
	FencedOpts
	Status Status // succeeded, dead, cancelled or retrying
	Result json.RawMessage
	Error  string
	// ExtraAttempts is added to max_attempts (a snooze or an interrupted attempt does not count).
	ExtraAttempts int
	// RunAt is when a retry will run (nil for none).
	RunAt      *time.Time
	Worker     string
	Detail     any
	DeadLetter *DeadLetter
	Outbox     []OutboxMessage
}

// eventDetail is what the end's audit row holds: the finish's detail and, when the attempt
// failed, its error. The task row keeps only the last error; the events keep each attempt's, so
// that a task that succeeded after failures still shows them.
func (f Finish) eventDetail() any {
	if f.Error == "" {
		return f.Detail
	}
	d := map[string]any{"error": f.Error}
	switch v := f.Detail.(type) {
	case nil:
	case map[string]any:
		for k, x := range v {
			if k != "error" {
				d[k] = x
			}
		}
	default:
		d["detail"] = v
	}
	return d
}

// FinishTask writes a Finish. It returns ErrFenced when a newer delivery holds the task.
func (db *DB) FinishTask(ctx context.Context, f Finish) (attempt int, err error) {
	err = db.InWorkspace(ctx, f.WorkspaceID, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, finishTaskSQL, f.WorkspaceID, f.ID, f.Fence, f.Status, f.Result, f.Error,
			f.ExtraAttempts, f.RunAt).Scan(&attempt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrFenced
		}
		if err != nil {
			return err
		}
		return writeAfterEffects(ctx, tx, f.WorkspaceID, f.ID, f.Status, attempt, f.Fence, f.Worker, f.eventDetail(), f.DeadLetter, f.Outbox)
	})
	return attempt, err
}

// SettleTask ends a task that no delivery holds (cancelled before it ran, out of attempts after a
// lost worker, or invalid), with its event, dead letter and outbox messages. It returns false
// when the task does not exist or is already finished.
func (db *DB) SettleTask(ctx context.Context, ws, id uuid.UUID, status Status, errText, worker string, detail any, dl *DeadLetter, outbox []OutboxMessage) (bool, error) {
	settled := false
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var attempt int
		var fence int64
		err := tx.QueryRow(ctx, settleTaskSQL, ws, id, status, errText).Scan(&attempt, &fence)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		settled = true
		return writeAfterEffects(ctx, tx, ws, id, status, attempt, fence, worker, detail, dl, outbox)
	})
	return settled, err
}

func writeAfterEffects(ctx context.Context, tx pgx.Tx, ws, id uuid.UUID, status Status, attempt int, fence int64, worker string, detail any, dl *DeadLetter, outbox []OutboxMessage) error {
	if err := InsertTaskEvent(ctx, tx, ws, id, string(status), status, attempt, fence, worker, detail); err != nil {
		return err
	}
	if dl != nil {
		dl.WorkspaceID, dl.Attempt = ws, attempt
		if dl.TaskID == nil {
			dl.TaskID = &id
		}
		if err := InsertDeadLetter(ctx, tx, dl); err != nil {
			return err
		}
	}
	for _, m := range outbox {
		if err := InsertOutbox(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

// ScheduleTask records that a task waits for its run_at (creating the row if missing) and queues
// its schedule message, in one transaction.
func (db *DB) ScheduleTask(ctx context.Context, t NewTask, schedule OutboxMessage) error {
	return db.InWorkspace(ctx, t.WorkspaceID, func(tx pgx.Tx) error {
		var status Status
		err := tx.QueryRow(ctx, scheduleTaskSQL, t.WorkspaceID, t.ID, t.Kind, t.Priority, t.args(), t.credentials(),
			t.metadata(), t.MaxAttempts, t.TimeoutMS, t.RunAt, t.IdempotencyKey, t.Generation).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // already running or finished: nothing to schedule
		}
		if err != nil {
			return err
		}
		if err := InsertTaskEvent(ctx, tx, t.WorkspaceID, t.ID, "scheduled", StatusScheduled, 0, 0, "", map[string]any{"run_at": t.RunAt}); err != nil {
			return err
		}
		return InsertOutbox(ctx, tx, schedule)
	})
}

// CancelResult says what a cancel request did.
type CancelResult struct {
	Status     Status // cancelled, or running (the worker is told to stop)
	Kind       string
	WasRunning bool
}

// RequestCancel cancels a task that has not started (at once) or asks a running one to stop. It
// returns ErrNotFound for an unknown task and ErrConflict for a finished one. outbox builds the
// messages to queue when the task is cancelled at once (its domain event). withdraw, when set,
// takes a queued task's message back from its stream (seq: the row's msg_seq), under the row's
// lock, before the cancel commits: a new task's first delivery runs without reading its row, so
// the message must not reach a worker once the cancel has answered. Its failure fails the cancel
// (nothing changes); a cancel that fails after it leaves a queued task without a message, which
// the stranded-task sweep sends again.
func (db *DB) RequestCancel(ctx context.Context, ws, id uuid.UUID, by string, outbox func(kind string, attempt int) []OutboxMessage,
	withdraw func(kind string, seq uint64) error) (CancelResult, error) {
	var res CancelResult
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var attempt int
		var fence int64
		var queuedSeq *int64 // the message of a task that was queued
		err := tx.QueryRow(ctx, requestCancelSQL, ws, id).Scan(&res.Status, &res.Kind, &attempt, &fence, &queuedSeq)
		if errors.Is(err, pgx.ErrNoRows) {
			var status Status
			if err := tx.QueryRow(ctx, `SELECT status FROM tasks WHERE workspace_id = $1 AND id = $2`, ws, id).Scan(&status); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("task %s: %w", id, ErrNotFound)
			} else if err != nil {
				return err
			}
			return fmt.Errorf("task %s is already %s: %w", id, status, ErrConflict)
		}
		if err != nil {
			return err
		}
		if queuedSeq != nil && withdraw != nil {
			if err := withdraw(res.Kind, uint64(*queuedSeq)); err != nil {
				return fmt.Errorf("take task %s's message back from the stream: %w", id, err)
			}
		}
		res.WasRunning = res.Status == StatusRunning
		if res.WasRunning {
			return InsertTaskEvent(ctx, tx, ws, id, "cancel_requested", StatusRunning, attempt, fence, "", map[string]string{"by": by})
		}
		if err := InsertTaskEvent(ctx, tx, ws, id, string(StatusCancelled), StatusCancelled, attempt, fence, "", map[string]string{"by": by}); err != nil {
			return err
		}
		if outbox != nil {
			for _, m := range outbox(res.Kind, attempt) {
				if err := InsertOutbox(ctx, tx, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return res, err
}

// GetTask reads a task.
func (db *DB) GetTask(ctx context.Context, ws, id uuid.UUID) (Task, error) {
	var t Task
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		t, err = queryRow[Task](ctx, tx, selectTaskSQL, ws, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Task{}, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return t, err
}

// TaskFilter selects tasks to list. Empty fields do not filter.
// SortKey is where a task stands in a list's order: At is its creation, last change or end
// time (by the order), Priority its priority (with At its creation) for the priority order.
type SortKey struct {
	At       time.Time
	Priority int
}

// TaskSortKey is t's key in the order sort ("" is SortCreated).
func TaskSortKey(t Task, sort string) SortKey {
	switch sort {
	case SortUpdated:
		return SortKey{At: t.UpdatedAt}
	case SortFinished:
		if t.FinishedAt != nil {
			return SortKey{At: *t.FinishedAt}
		}
		return SortKey{}
	case SortPriority:
		return SortKey{At: t.CreatedAt, Priority: t.Priority}
	}
	return SortKey{At: t.CreatedAt}
}

// ErrCursorGone: a page's cursor names a task that is gone (or, in the finished order, that is no
// longer finished), and carries no sort key to go on from.
var ErrCursorGone = errors.New("the cursor's task is gone: list again from the start")

// Task list orders (TaskFilter.Sort).
const (
	SortCreated  = "created"  // creation time (the default)
	SortUpdated  = "updated"  // the last change of the task (a transition, a checkpoint, progress)
	SortFinished = "finished" // when it ended; only tasks that have ended
	SortPriority = "priority" // most urgent first, then oldest first
)

// TaskSorts lists the task list's orders.
func TaskSorts() []string { return []string{SortCreated, SortUpdated, SortFinished, SortPriority} }

type TaskFilter struct {
	Status Status
	Kind   string
	// Internal shows the system's own tasks too (kinds "credentials.…" and "knowledge.…"), which
	// a list without a kind leaves out otherwise.
	Internal bool
	// Since and Until bound the creation time (Since included, Until not); zero for no bound.
	Since, Until time.Time
	// Args: only tasks whose args contain this JSON (jsonb @>), e.g. {"customer":{"id":42}}.
	Args json.RawMessage
	// ID finds the task with this id, or with this text as its idempotency key; IdempotencyKey
	// the task holding this key. Either is a lookup: the other filters and paging do not apply.
	ID             uuid.UUID
	IdempotencyKey string
	// Sort is what the list is ordered by: SortCreated (default), SortUpdated, SortFinished or
	// SortPriority.
	Sort string
	// Oldest lists oldest first (default: newest first); with SortPriority, least urgent first
	// (default: most urgent first, and within a priority the oldest first, as workers take them).
	Oldest bool
	// Before pages: tasks after this one in the list's order. BeforeKey is that task's sort key
	// as the previous page showed it (TaskSortKey): the page goes on from there even when the
	// task has changed or gone since. Without it, the task's current key is read (and a task
	// that is gone is ErrCursorGone).
	Before    uuid.UUID
	BeforeKey SortKey
	// Limit is 1…500; default 50.
	Limit int
}

// ListTasks lists a workspace's tasks, newest first (oldest first with f.Oldest). next is the cursor of the following page
// (uuid.Nil at the end).
func (db *DB) ListTasks(ctx context.Context, ws uuid.UUID, f TaskFilter) (tasks []Task, next uuid.UUID, err error) {
	f.Limit = pageLimit(f.Limit)
	before := cursorOf(f.Before)
	err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var rows pgx.Rows
		var err error
		if before != nil && f.BeforeKey.At.IsZero() {
			var t Task
			err := tx.QueryRow(ctx, `SELECT created_at, updated_at, finished_at, priority FROM tasks WHERE workspace_id = $1 AND id = $2`,
				ws, f.Before).Scan(&t.CreatedAt, &t.UpdatedAt, &t.FinishedAt, &t.Priority)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrCursorGone
			} else if err != nil {
				return err
			}
			if f.BeforeKey = TaskSortKey(t, f.Sort); f.BeforeKey.At.IsZero() {
				return ErrCursorGone
			}
		}
		beforeAt, beforePriority := f.BeforeKey.At, f.BeforeKey.Priority
		var since, until *time.Time
		if !f.Since.IsZero() {
			since = &f.Since
		}
		if !f.Until.IsZero() {
			until = &f.Until
		}
		var args []byte
		if len(f.Args) > 0 {
			args = f.Args
		}
		order := 0
		if f.Oldest {
			order = 1
		}
		switch {
		case f.ID != uuid.Nil:
			rows, err = tx.Query(ctx, findTasksSQL, ws, f.ID, f.ID.String())
		case f.IdempotencyKey != "":
			rows, err = tx.Query(ctx, findTasksSQL, ws, nil, f.IdempotencyKey)
		case f.Sort != "" && f.Sort != SortCreated:
			q, ok := listTasksSortedSQL[sortKey{f.Sort, f.Oldest}]
			if !ok {
				return fmt.Errorf("sort %q is not one of %v", f.Sort, TaskSorts())
			}
			params := []any{ws, before, f.Status, f.Kind, f.Limit + 1, f.Internal, since, until, args, beforeAt}
			if f.Sort == SortPriority {
				params = append(params, beforePriority)
			}
			rows, err = tx.Query(ctx, q, params...)
		case f.Status == "" && f.Kind == "":
			rows, err = tx.Query(ctx, listAllTasksSQL[order], ws, before, f.Limit+1, f.Internal, since, until, args, beforeAt)
		default:
			rows, err = tx.Query(ctx, listTasksSQL[order], ws, before, f.Status, f.Kind, f.Limit+1, f.Internal, since, until, args, beforeAt)
		}
		if err != nil {
			return err
		}
		tasks, err = pgx.CollectRows(rows, pgx.RowToStructByName[Task])
		return err
	})
	if err != nil {
		return nil, uuid.Nil, err
	}
	if len(tasks) > f.Limit {
		tasks = tasks[:f.Limit]
		next = tasks[len(tasks)-1].ID
	}
	return tasks, next, nil
}

// TaskEvents lists a task's transitions in order.
func (db *DB) TaskEvents(ctx context.Context, ws, id uuid.UUID) ([]TaskEvent, error) {
	var out []TaskEvent
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[TaskEvent](ctx, tx, selectTaskEventsSQL, ws, id)
		return err
	})
	return out, err
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
