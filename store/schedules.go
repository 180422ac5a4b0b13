package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Overlap policies: what a due run does while the schedule's previous task has not ended.
const (
	OverlapAllow = "allow" // publish anyway
	OverlapSkip  = "skip"  // publish nothing; the run is recorded as skipped
)

// Missed-run policies: what a schedule does with the runs that fell due while nothing fired them
// (every process down, or behind by more than MissedAfter).
const (
	MissedRunOnce = "run_once" // one task for them all, now
	MissedSkip    = "skip"     // none; the schedule goes on at its next due time
)

// MissedAfter is how late a due run may be found and still count as on time.
const MissedAfter = time.Minute

// KeepScheduleRuns is how many of its last runs a schedule keeps.
const KeepScheduleRuns = 100

// Schedule is a periodic task: a kind, args, priority and credentials, published at each due
// time of a cron expression (in TimeZone) or of an interval (Every).
type Schedule struct {
	WorkspaceID uuid.UUID       `json:"workspace_id" db:"workspace_id"`
	ID          uuid.UUID       `json:"id" db:"id"`
	Name        string          `json:"name" db:"name"`
	Kind        string          `json:"kind" db:"kind"`
	Args        json.RawMessage `json:"args" db:"args"`
	Priority    int             `json:"priority" db:"priority"`
	Credentials []string        `json:"credentials" db:"credentials"`
	// Cron is a five-field cron expression or a descriptor (@hourly, @daily, …); empty with Every.
	Cron string `json:"cron,omitempty" db:"cron"`
	// TimeZone of Cron (an IANA name). Default UTC.
	TimeZone string `json:"time_zone" db:"time_zone"`
	// Every is the interval, from the schedule's creation; zero with Cron.
	Every     time.Duration `json:"-" db:"every"`
	Overlap   string        `json:"overlap" db:"overlap"`
	Missed    string        `json:"missed" db:"missed"`
	PausedAt  *time.Time    `json:"paused_at" db:"paused_at"`
	NextRunAt time.Time     `json:"next_run_at" db:"next_run_at"`
	LastRunAt *time.Time    `json:"last_run_at" db:"last_run_at"`
	// LastTaskID is the task of the last run that published one, LastTaskStatus its status now
	// ("" when retention has deleted it).
	LastTaskID     *uuid.UUID `json:"last_task_id" db:"last_task_id"`
	LastTaskStatus Status     `json:"last_task_status,omitempty" db:"last_task_status"`
	// Runs and Skipped count the due runs that published a task and those that did not.
	Runs        int64     `json:"runs" db:"runs"`
	Skipped     int64     `json:"skipped" db:"skipped"`
	PublishedBy uuid.UUID `json:"-" db:"published_by"`
	CreatedBy   string    `json:"created_by" db:"created_by"`
	CreatedAt   time.Time `json:"created_at" db:"created_at"`
	UpdatedAt   time.Time `json:"updated_at" db:"updated_at"`
}

// querySchedule runs sql, which returns one row of scheduleColumns: ErrNotFound when none.
func querySchedule(ctx context.Context, tx pgx.Tx, sql string, args ...any) (Schedule, error) {
	s, err := queryRow[Schedule](ctx, tx, sql, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrNotFound
	}
	return s, err
}

// CreateSchedule stores a new schedule (its NextRunAt set by the caller); a name the workspace
// already has is ErrConflict.
func (db *DB) CreateSchedule(ctx context.Context, s Schedule) (Schedule, error) {
	if s.ID == uuid.Nil {
		s.ID = newID()
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if s.Credentials == nil {
		s.Credentials = []string{}
	}
	var publishedBy *uuid.UUID
	if s.PublishedBy != uuid.Nil {
		publishedBy = &s.PublishedBy
	}
	var out Schedule
	err := db.InWorkspace(ctx, s.WorkspaceID, func(tx pgx.Tx) error {
		var err error
		out, err = querySchedule(ctx, tx, insertScheduleSQL, pgx.NamedArgs{"workspace_id": s.WorkspaceID, "id": s.ID,
			"name": s.Name, "kind": s.Kind, "args": s.Args, "priority": s.Priority, "credentials": s.Credentials,
			"cron": s.Cron, "time_zone": s.TimeZone, "every_ms": s.Every.Milliseconds(), "overlap": s.Overlap,
			"missed": s.Missed, "paused_at": s.PausedAt, "next_run_at": s.NextRunAt, "published_by": publishedBy,
			"created_by": s.CreatedBy})
		return err
	})
	if IsUniqueViolation(err) {
		return out, fmt.Errorf("schedule %q: %w", s.Name, ErrConflict)
	}
	return out, err
}

// GetSchedule reads a schedule by id or name.
func (db *DB) GetSchedule(ctx context.Context, ws uuid.UUID, ref string) (Schedule, error) {
	var out Schedule
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		out, err = querySchedule(ctx, tx, selectScheduleSQL, ws, ref)
		return err
	})
	return out, scheduleErr(ref, err)
}

// scheduleErr names the schedule a missing one was asked by.
func scheduleErr(ref string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("schedule %q: %w", ref, ErrNotFound)
	}
	return err
}

// ListSchedules lists a workspace's schedules by name.
func (db *DB) ListSchedules(ctx context.Context, ws uuid.UUID) ([]Schedule, error) {
	var out []Schedule
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[Schedule](ctx, tx, listSchedulesSQL, ws)
		return err
	})
	return out, err
}

// DeleteSchedule deletes a schedule (by id or name) and its runs; its tasks stay.
func (db *DB) DeleteSchedule(ctx context.Context, ws uuid.UUID, ref string) error {
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteScheduleSQL, ws, ref)
		if err == nil && tag.RowsAffected() == 0 {
			return scheduleErr(ref, ErrNotFound)
		}
		return err
	})
}

// SetSchedulePaused pauses a schedule, or resumes it with next as its next due time (the runs
// that fell due while it was paused are not run). Pausing a paused schedule, or resuming a
// running one, changes nothing.
func (db *DB) SetSchedulePaused(ctx context.Context, ws uuid.UUID, ref string, paused bool, next func(Schedule) (time.Time, error)) (Schedule, error) {
	var out Schedule
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		cur, err := querySchedule(ctx, tx, selectScheduleSQL+" FOR UPDATE", ws, ref)
		if err != nil {
			return err
		}
		at := cur.NextRunAt
		if !paused && cur.PausedAt != nil {
			if at, err = next(cur); err != nil {
				return err
			}
		}
		out, err = querySchedule(ctx, tx, pauseScheduleSQL, ws, cur.ID.String(), paused, at)
		return err
	})
	return out, scheduleErr(ref, err)
}

// ScheduleRun (mosaictype.ScheduleRun) is one due run of a schedule: the task it published, or why
// it published none.
type ScheduleRun = mosaictype.ScheduleRun

// ScheduleRuns lists a schedule's last runs (up to limit, at most KeepScheduleRuns), newest first.
func (db *DB) ScheduleRuns(ctx context.Context, ws, schedule uuid.UUID, limit int) ([]ScheduleRun, error) {
	if limit <= 0 || limit > KeepScheduleRuns {
		limit = KeepScheduleRuns
	}
	var out []ScheduleRun
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, scheduleRunsSQL, ws, schedule, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ScheduleRun
			var status *string
			if err := rows.Scan(&r.DueAt, &r.FiredAt, &r.TaskID, &r.Skipped, &status); err != nil {
				return err
			}
			if status != nil {
				r.TaskStatus = Status(*status)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// ScheduleKey names a schedule.
type ScheduleKey struct {
	WorkspaceID, ID uuid.UUID
}

// DueSchedules finds up to limit schedules of the workspaces wss that are due at now, earliest
// first (through the batch door, in chunks of 256 workspaces).
func (db *DB) DueSchedules(ctx context.Context, wss []uuid.UUID, now time.Time, limit int) ([]ScheduleKey, error) {
	var out []ScheduleKey
	for len(wss) > 0 && len(out) < limit {
		chunk := wss[:min(len(wss), batchDoorWorkspaces)]
		wss = wss[len(chunk):]
		err := db.inWorkspaces(ctx, chunk, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, dueSchedulesSQL, now, limit-len(out))
			if err != nil {
				return err
			}
			keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ScheduleKey, error) {
				var k ScheduleKey
				return k, row.Scan(&k.WorkspaceID, &k.ID)
			})
			out = append(out, keys...)
			return err
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Firing is what a due schedule's firing decided: its runs, and its next due time.
type Firing struct {
	Runs []FiredRun
	Next time.Time
}

// FiredRun is one run of a Firing: the task it published, or why none.
type FiredRun struct {
	DueAt   time.Time
	TaskID  uuid.UUID // uuid.Nil with Skipped
	Skipped string
}

// FireSchedule fires a due schedule, unless another process is firing it or it is no longer due:
// in one transaction of its workspace it locks the row, asks decide (given the schedule, with the
// status of its last task) what to publish — decide publishes its task in tx —
// and records the runs and the next due time. fired says whether the schedule was taken.
func (db *DB) FireSchedule(ctx context.Context, key ScheduleKey, now time.Time,
	decide func(tx pgx.Tx, s Schedule) (Firing, error)) (fired bool, err error) {
	err = db.InWorkspace(ctx, key.WorkspaceID, func(tx pgx.Tx) error {
		s, err := querySchedule(ctx, tx, lockDueScheduleSQL, key.WorkspaceID, key.ID, now)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		fired = true
		f, err := decide(tx, s)
		if err != nil {
			return err
		}
		var ran, skipped int
		var lastRun *time.Time
		var lastTask *uuid.UUID
		for _, r := range f.Runs {
			var task *uuid.UUID
			if r.TaskID != uuid.Nil {
				id := r.TaskID
				task, lastTask, ran = &id, &id, ran+1
			} else {
				skipped++
			}
			due := r.DueAt
			lastRun = &due
			if _, err := tx.Exec(ctx, insertRunSQL, key.WorkspaceID, key.ID, r.DueAt, task, r.Skipped); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, scheduleFiredSQL, key.WorkspaceID, key.ID, f.Next, lastRun, lastTask, ran, skipped); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, trimRunsSQL, key.WorkspaceID, key.ID, KeepScheduleRuns)
		return err
	})
	return fired, err
}
