package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
)

// Dead-letter reasons of the engine (the envelope's own are in package events).
const (
	ReasonMaxAttempts = "max_attempts"
	ReasonPermanent   = "permanent"
)

// DeadLetter (mosaictype.DeadLetter) is a message that ended without success: the reason, the last
// error and the original message, replayable.
type DeadLetter = mosaictype.DeadLetter

// InsertDeadLetter records a dead letter in tx (in its workspace). A zero ID gets a new one.
func InsertDeadLetter(ctx context.Context, tx pgx.Tx, d *DeadLetter) error {
	if d.ID == uuid.Nil {
		d.ID = newID()
	}
	headers := d.Headers
	if headers == nil {
		headers = map[string][]string{}
	}
	payload := d.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err := tx.Exec(ctx, insertDeadLetterSQL, d.WorkspaceID, d.ID, d.TaskID, d.Kind, d.Reason, d.Error,
		d.Subject, headers, payload, d.Attempt, d.StreamSeq)
	return err
}

// DeadLetterMessage records a message that could not become a task (invalid, unknown kind) in
// its workspace; when settle is set, the task it names is settled as dead in the same
// transaction (created first if missing). It returns ErrNotFound (wrapped) when the workspace
// does not exist.
func (db *DB) DeadLetterMessage(ctx context.Context, d DeadLetter, settle *NewTask, worker string, outbox []OutboxMessage) error {
	err := db.InWorkspace(ctx, d.WorkspaceID, func(tx pgx.Tx) error {
		if settle != nil {
			if _, err := InsertTask(ctx, tx, *settle); err != nil {
				return err
			}
			var attempt int
			var fence int64
			err := tx.QueryRow(ctx, settleTaskSQL, d.WorkspaceID, settle.ID, StatusDead, d.Error).Scan(&attempt, &fence)
			if err == nil {
				d.Attempt = attempt
				if err := InsertTaskEvent(ctx, tx, d.WorkspaceID, settle.ID, string(StatusDead), StatusDead, attempt, fence, worker,
					map[string]string{"reason": d.Reason}); err != nil {
					return err
				}
				for _, m := range outbox {
					if err := InsertOutbox(ctx, tx, m); err != nil {
						return err
					}
				}
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		return InsertDeadLetter(ctx, tx, &d)
	})
	if IsForeignKeyViolation(err) {
		return fmt.Errorf("workspace %s: %w", d.WorkspaceID, ErrNotFound)
	}
	return err
}

// UnroutedMessage (mosaictype.UnroutedMessage) is a message whose subject names no existing
// workspace.
type UnroutedMessage = mosaictype.UnroutedMessage

// InsertUnrouted records a message that belongs to no workspace (operator's view only).
func (db *DB) InsertUnrouted(ctx context.Context, m UnroutedMessage) error {
	if m.ID == uuid.Nil {
		m.ID = newID()
	}
	if m.Headers == nil {
		m.Headers = map[string][]string{}
	}
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertUnroutedSQL, m.ID, m.Reason, m.Error, m.Subject, m.Headers, m.Payload, m.StreamSeq)
		return err
	})
}

// ListUnrouted lists the newest unrouted messages.
func (db *DB) ListUnrouted(ctx context.Context, limit int) ([]UnroutedMessage, error) {
	var out []UnroutedMessage
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[UnroutedMessage](ctx, tx, listUnroutedSQL, limit)
		return err
	})
	return out, err
}

// DeadLetterFilter selects dead letters to list.
type DeadLetterFilter struct {
	Reason string
	Kind   string
	// State: DeadLetterPending (neither replayed nor discarded), DeadLetterReplayed,
	// DeadLetterDiscarded, DeadLetterAll; empty: all but the discarded.
	State  string
	Before uuid.UUID
	Limit  int // 1…500, default 50
}

// Dead-letter states a list filters by.
const (
	DeadLetterPending   = "pending"
	DeadLetterReplayed  = "replayed"
	DeadLetterDiscarded = "discarded"
	DeadLetterAll       = "all"
)

// ValidDeadLetterState says whether s is a state a list filters by (or empty).
func ValidDeadLetterState(s string) bool {
	switch s {
	case "", DeadLetterPending, DeadLetterReplayed, DeadLetterDiscarded, DeadLetterAll:
		return true
	}
	return false
}

// ListDeadLetters lists a workspace's dead letters, newest first.
func (db *DB) ListDeadLetters(ctx context.Context, ws uuid.UUID, f DeadLetterFilter) (list []DeadLetter, next uuid.UUID, err error) {
	f.Limit = pageLimit(f.Limit)
	before := cursorOf(f.Before)
	err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		list, err = queryRows[DeadLetter](ctx, tx, listDeadLettersSQL, ws, before, f.Reason, f.Limit+1, f.Kind, f.State)
		return err
	})
	if err != nil {
		return nil, uuid.Nil, err
	}
	if len(list) > f.Limit {
		list = list[:f.Limit]
		next = list[len(list)-1].ID
	}
	return list, next, nil
}

// GetDeadLetter reads one dead letter.
func (db *DB) GetDeadLetter(ctx context.Context, ws, id uuid.UUID) (DeadLetter, error) {
	var d DeadLetter
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		d, err = queryRow[DeadLetter](ctx, tx, selectDeadLetterSQL, ws, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
	}
	return d, err
}

// CountDeadLetters counts a workspace's dead letters not yet replayed.
func (db *DB) CountDeadLetters(ctx context.Context, ws uuid.UUID) (int, error) {
	var n int
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, countDeadLettersSQL, ws).Scan(&n)
	})
	return n, err
}

// Replay describes what ReplayDeadLetter did.
type Replay struct {
	DeadLetter DeadLetter
	// Task is the task as re-queued (generation incremented), when the dead letter names one
	// that exists.
	Task *Task
}

// ReplayDeadLetter re-queues a dead letter in one transaction: when it names a task that has
// ended, the task goes back to queued with its generation incremented (so its new message's
// fencing tokens are larger than any before) and a fresh attempt budget; fresh drops its
// checkpoint. message builds the message to queue in the outbox from what was replayed.
func (db *DB) ReplayDeadLetter(ctx context.Context, ws, id uuid.UUID, fresh bool, by string, message func(Replay) (OutboxMessage, error)) (Replay, error) {
	var r Replay
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		r = Replay{}
		r.DeadLetter, err = queryRow[DeadLetter](ctx, tx, lockDeadLetterSQL, ws, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if r.DeadLetter.TaskID != nil {
			t, err := prepareReplay(ctx, tx, ws, *r.DeadLetter.TaskID, fresh)
			switch {
			case err == nil:
				r.Task = &t
				if err := InsertTaskEvent(ctx, tx, ws, t.ID, "replayed", StatusQueued, 0, t.Fence, "",
					map[string]any{"dead_letter": id, "generation": t.Generation, "fresh": fresh, "by": by}); err != nil {
					return err
				}
			case errors.Is(err, pgx.ErrNoRows):
				// Not ended: a conflict. No row (the task was deleted since): the dead letter's
				// message runs again, as a raw one.
				if err := taskNotIn(ctx, tx, ws, *r.DeadLetter.TaskID, "ended"); !errors.Is(err, ErrNotFound) {
					return err
				}
			default:
				return err
			}
		}
		m, err := message(r)
		if err != nil {
			return err
		}
		if err := InsertOutbox(ctx, tx, m); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, markReplayedSQL, ws, id)
		return err
	})
	return r, err
}

// taskNotIn explains why a write that applies to a task in one state (want: "ended",
// "scheduled") took no row: ErrConflict naming the state it is in, or ErrNotFound.
func taskNotIn(ctx context.Context, tx pgx.Tx, ws, id uuid.UUID, want string) error {
	var status Status
	switch err := tx.QueryRow(ctx, selectTaskStatusSQL, ws, id).Scan(&status); {
	case err == nil:
		return fmt.Errorf("task %s is %s, not %s: %w", id, status, want, ErrConflict)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("task %s: %w", id, ErrNotFound)
	default:
		return err
	}
}

// RetryTask queues an ended task (dead, cancelled or succeeded) again under a new generation,
// with its "retried" event naming who asked, its message through the outbox (message builds it
// from the re-queued row), and its dead letters that were waiting for a replay marked replayed. A
// task that has not ended is ErrConflict; fresh drops its checkpoint.
func (db *DB) RetryTask(ctx context.Context, ws, id uuid.UUID, fresh bool, by string, message func(Task) OutboxMessage) (Task, error) {
	var t Task
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		t, err = prepareReplay(ctx, tx, ws, id, fresh)
		if errors.Is(err, pgx.ErrNoRows) {
			return taskNotIn(ctx, tx, ws, id, "ended")
		}
		if err != nil {
			return err
		}
		if err := InsertTaskEvent(ctx, tx, ws, t.ID, "retried", StatusQueued, 0, t.Fence, "",
			map[string]any{"generation": t.Generation, "fresh": fresh, "by": by}); err != nil {
			return err
		}
		if err := InsertOutbox(ctx, tx, message(t)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, markTaskDeadLettersReplayedSQL, ws, id)
		return err
	})
	return t, err
}

// prepareReplay makes an ended task ready to run again (a new generation, queued; fresh drops
// its checkpoint). A succeeded task's row first gives up what belongs to its last run: the trail
// it holds is written out (keepTrailSQL), and, when it succeeded a moment ago, its task.succeeded
// is queued again (recentSuccess). No row: not ended.
func prepareReplay(ctx context.Context, tx pgx.Tx, ws, id uuid.UUID, fresh bool) (Task, error) {
	var (
		kind    string
		attempt int
		fence   int64
		recent  bool
	)
	err := tx.QueryRow(ctx, lockSucceededSQL, ws, id, recentSuccess.Milliseconds()).Scan(&kind, &attempt, &fence, &recent)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // not a success
	case err != nil:
		return Task{}, err
	default:
		if _, err := tx.Exec(ctx, keepTrailSQL, ws, id); err != nil {
			return Task{}, err
		}
		if recent {
			if err := InsertOutbox(ctx, tx, SucceededEvent(ws, id, kind, attempt, fence)); err != nil {
				return Task{}, err
			}
		}
	}
	return queryRow[Task](ctx, tx, prepareReplaySQL, ws, id, fresh)
}

// recentSuccess: a task that succeeded this recently may not have had its task.succeeded sent
// yet — a pool sends it after the end's commit, and when the process stops in between, the
// message's redelivery sends it; but a redelivery that comes after a replay finds a newer
// generation and sends nothing. So the replay queues it, with the end's id, which JetStream drops
// as a duplicate if the first copy went out. Half the default duplicate window: the outbox's copy
// lands within it. (Past it, a lost event stays lost only if no worker ran for that long too.)
const recentSuccess = events.DefaultDuplicateWindow / 2

// DiscardDeadLetter marks a dead letter discarded by by: kept, out of the default list and the
// count of those waiting. One already discarded is ErrConflict.
func (db *DB) DiscardDeadLetter(ctx context.Context, ws, id uuid.UUID, by string) (DeadLetter, error) {
	var d DeadLetter
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		d, err = queryRow[DeadLetter](ctx, tx, lockDeadLetterSQL, ws, id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
		case err != nil:
			return err
		case d.DiscardedAt != nil:
			return fmt.Errorf("dead letter %s was discarded already: %w", id, ErrConflict)
		}
		d, err = queryRow[DeadLetter](ctx, tx, discardDeadLetterSQL, ws, id, by)
		return err
	})
	return d, err
}

// RunTaskNow makes a scheduled task due now: queued, run_at now, a "run_now" event naming who
// asked, and its message through the outbox (message builds it from the row). Its schedule
// message still fires at the old time; that delivery finds the task taken or ended and is acked.
// A task that is not scheduled is ErrConflict.
func (db *DB) RunTaskNow(ctx context.Context, ws, id uuid.UUID, by string, message func(Task) OutboxMessage) (Task, error) {
	var t Task
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		t, err = queryRow[Task](ctx, tx, runTaskNowSQL, ws, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return taskNotIn(ctx, tx, ws, id, "scheduled")
		}
		if err != nil {
			return err
		}
		if err := InsertTaskEvent(ctx, tx, ws, t.ID, "run_now", StatusQueued, t.Attempt, t.Fence, "", map[string]any{"by": by}); err != nil {
			return err
		}
		return InsertOutbox(ctx, tx, message(t))
	})
	return t, err
}

// DeleteTask deletes an ended task (succeeded, dead or cancelled) and its events; its dead
// letters stay (a record of what failed; replaying one runs its message again). A task that has
// not ended is ErrConflict.
func (db *DB) DeleteTask(ctx context.Context, ws, id uuid.UUID) error {
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteTaskSQL, ws, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return taskNotIn(ctx, tx, ws, id, "ended")
		}
		_, err = tx.Exec(ctx, deleteTaskEventsSQL, ws, id)
		return err
	})
}

// OutboxRow is a queued message as the relay reads it.
type OutboxRow struct {
	WorkspaceID uuid.UUID
	ID          int64
	MsgID       string
	Subject     string
	Headers     map[string][]string
	Payload     []byte
}

// DrainOutbox hands up to limit of the due messages of the given workspaces (oldest first) to
// publish, which returns the ids it published; those rows are deleted, the others marked with the
// error. Rows another relay holds are skipped. It returns how many rows it saw. One transaction
// through the batch door, whatever the number of workspaces.
func (db *DB) DrainOutbox(ctx context.Context, wss []uuid.UUID, limit int, publish func([]OutboxRow) (published []int64, err error)) (int, error) {
	seen := 0
	ws := pgUUIDs(wss)
	err := db.inWorkspaces(ctx, wss, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, claimOutboxSQL, ws, limit)
		if err != nil {
			return err
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxRow, error) {
			var o OutboxRow
			return o, r.Scan(&o.WorkspaceID, &o.ID, &o.MsgID, &o.Subject, &o.Headers, &o.Payload)
		})
		if err != nil || len(batch) == 0 {
			return err
		}
		seen = len(batch)
		done, pubErr := publish(batch)
		published := make(map[int64]bool, len(done))
		for _, id := range done {
			published[id] = true
		}
		var doneWS, failedWS []uuid.UUID
		var doneIDs, failedIDs []int64
		for _, o := range batch {
			if published[o.ID] {
				doneWS, doneIDs = append(doneWS, o.WorkspaceID), append(doneIDs, o.ID)
			} else {
				failedWS, failedIDs = append(failedWS, o.WorkspaceID), append(failedIDs, o.ID)
			}
		}
		if len(doneIDs) > 0 {
			if _, err := tx.Exec(ctx, deleteOutboxSQL, pgUUIDs(doneWS), doneIDs); err != nil {
				return err
			}
		}
		if pubErr != nil && len(failedIDs) > 0 {
			msg, _ := json.Marshal(pubErr.Error())
			if _, err := tx.Exec(ctx, failOutboxSQL, pgUUIDs(failedWS), failedIDs, string(msg)); err != nil {
				return err
			}
		}
		return nil
	})
	return seen, err
}

// Dead-letter reasons from JetStream advisories: a message that failed outside a worker's own path.
const (
	ReasonMaxDeliveries = "max_deliveries"
	ReasonTerminated    = "terminated"
)

// RecordAdvisoryDeadLetter records d unless a dead letter of the same message (subject and stream
// sequence) exists already — the worker's own path records first, then terminates — and queues
// outbox with it. It says whether it recorded.
func (db *DB) RecordAdvisoryDeadLetter(ctx context.Context, d DeadLetter, outbox []OutboxMessage) (bool, error) {
	recorded := false
	err := db.InWorkspace(ctx, d.WorkspaceID, func(tx pgx.Tx) error {
		var seen bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dead_letters WHERE workspace_id = $1 AND subject = $2 AND stream_seq = $3)`,
			d.WorkspaceID, d.Subject, d.StreamSeq).Scan(&seen); err != nil || seen {
			return err
		}
		if err := InsertDeadLetter(ctx, tx, &d); err != nil {
			return err
		}
		for _, m := range outbox {
			if err := InsertOutbox(ctx, tx, m); err != nil {
				return err
			}
		}
		recorded = true
		return nil
	})
	if IsForeignKeyViolation(err) {
		return false, fmt.Errorf("workspace %s: %w", d.WorkspaceID, ErrNotFound)
	}
	return recorded, err
}

// DeadLetterGroup (mosaictype.DeadLetterGroup) counts a workspace's dead letters of one reason and
// kind.
type DeadLetterGroup = mosaictype.DeadLetterGroup

// DeadLetterSummary groups a workspace's dead letters by reason and kind, the most first.
func (db *DB) DeadLetterSummary(ctx context.Context, ws uuid.UUID) ([]DeadLetterGroup, error) {
	var out []DeadLetterGroup
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT reason, COALESCE(kind, ''), count(*), count(replayed_at), count(discarded_at), min(created_at), max(created_at)
			FROM dead_letters WHERE workspace_id = $1 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`, ws)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetterGroup, error) {
			var g DeadLetterGroup
			err := r.Scan(&g.Reason, &g.Kind, &g.Count, &g.Replayed, &g.Discarded, &g.Oldest, &g.Newest)
			return g, err
		})
		return err
	})
	return out, err
}
