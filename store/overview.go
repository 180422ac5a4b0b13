package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TaskCounts are a workspace's tasks by status (every status present, zero when none) and those
// that ended dead in the last hour.
type TaskCounts struct {
	ByStatus     map[Status]int `json:"by_status"`
	DeadLastHour int            `json:"dead_last_hour"`
}

// TaskStatuses returns the task statuses, in the order of a task's life.
func TaskStatuses() []Status {
	return []Status{StatusQueued, StatusScheduled, StatusRunning, StatusRetrying, StatusSucceeded, StatusDead, StatusCancelled}
}

// CountTasks counts a workspace's tasks by status in one statement, inside the workspace's door.
func (db *DB) CountTasks(ctx context.Context, ws uuid.UUID) (TaskCounts, error) {
	c := TaskCounts{ByStatus: map[Status]int{}}
	for _, s := range TaskStatuses() {
		c.ByStatus[s] = 0
	}
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, countTasksSQL, ws)
		if err != nil {
			return err
		}
		var status Status
		var n, deadLastHour int
		_, err = pgx.ForEachRow(rows, []any{&status, &n, &deadLastHour}, func() error {
			c.ByStatus[status] = n
			c.DeadLastHour += deadLastHour
			return nil
		})
		return err
	})
	return c, err
}

// CountTasksOfWorkspaces counts the tasks of every workspace of wss by status, in one read-only
// transaction at REPEATABLE READ through the engine's batch door, 256 workspaces a statement: the
// counts are of one moment (one snapshot), as an operator's overview needs — a walk workspace by
// workspace adds up counts taken at different moments, so that a task that moves meanwhile is
// counted twice or not at all. Every workspace of wss has an entry.
func (db *DB) CountTasksOfWorkspaces(ctx context.Context, wss []uuid.UUID) (map[uuid.UUID]TaskCounts, error) {
	out := make(map[uuid.UUID]TaskCounts, len(wss))
	for _, ws := range wss {
		c := TaskCounts{ByStatus: map[Status]int{}}
		for _, s := range TaskStatuses() {
			c.ByStatus[s] = 0
		}
		out[ws] = c
	}
	if len(wss) == 0 {
		return out, nil
	}
	begin := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('role', '" + RuntimeRole + "', true)"
	err := db.run(ctx, begin, func(tx pgx.Tx) error {
		for start := 0; start < len(wss); start += batchDoorWorkspaces {
			chunk := wss[start:min(start+batchDoorWorkspaces, len(wss))]
			// The door's list, for this statement's chunk (the policies read it per statement).
			if _, err := tx.Exec(ctx, `SELECT set_config('mosaic.workspace_ids', $1, true)`, joinIDs(chunk)); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, countTasksOfWorkspacesSQL, chunk)
			if err != nil {
				return err
			}
			var ws uuid.UUID
			var status Status
			var n, deadLastHour int
			_, err = pgx.ForEachRow(rows, []any{&ws, &status, &n, &deadLastHour}, func() error {
				c := out[ws]
				c.ByStatus[status] = n
				c.DeadLastHour += deadLastHour
				out[ws] = c
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// batchDoorWorkspaces is how many workspaces one statement through the batch door lists: its
// policies compare each row's workspace with every listed one.
const batchDoorWorkspaces = 256

// DeadLetterCount is how many of a workspace's dead letters, not yet replayed, came from one
// subject for one reason.
type DeadLetterCount struct {
	Subject string
	Reason  string
	Count   int
}

// CountDeadLettersBySubject counts a workspace's dead letters not yet replayed by subject and
// reason, in one statement inside the workspace's door. The subject is the message's: it names
// the stream, and on TASKS the band, so a caller can match it against consumers' filters.
func (db *DB) CountDeadLettersBySubject(ctx context.Context, ws uuid.UUID) ([]DeadLetterCount, error) {
	var out []DeadLetterCount
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, countDeadLettersBySubjectSQL, ws)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetterCount, error) {
			var d DeadLetterCount
			return d, r.Scan(&d.Subject, &d.Reason, &d.Count)
		})
		return err
	})
	return out, err
}
