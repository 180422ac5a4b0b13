package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// CreateScheduleRequest is the body of POST /v1/workspaces/{ws}/schedules: a periodic task.
type CreateScheduleRequest struct {
	// Name: lower-case letters, digits, '.', '_' and '-', up to 64; unique in the workspace.
	Name string `json:"name"`
	// Kind, Args, Priority (default 5) and Credentials of each run's task, as in a publish.
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args,omitempty"`
	Priority    int             `json:"priority,omitempty"`
	Credentials []string        `json:"credentials,omitempty"`
	// Cron (five fields, or @hourly, @daily, …) in TimeZone (IANA, default UTC), or Every (a Go
	// duration, at least 1s, whole seconds; the first run one interval after creation): one of them.
	Cron     string `json:"cron,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Every    string `json:"every,omitempty"`
	// Overlap: "allow" (default) publishes while the previous run's task has not ended; "skip"
	// publishes nothing then.
	Overlap string `json:"overlap,omitempty"`
	// Missed: what a run found later than a minute after its due time does (every process was
	// down): "run_once" (default) publishes one task for all such runs, "skip" none.
	Missed string `json:"missed,omitempty"`
	// Paused creates the schedule paused.
	Paused bool `json:"paused,omitempty"`
}

// Schedule is a schedule as the API shows it: a periodic task, its kind, args, priority and
// credentials published at each due time of a cron expression (in TimeZone) or of an interval
// (Every).
type Schedule struct {
	WorkspaceID uuid.UUID       `json:"workspace_id"`
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args"`
	Priority    int             `json:"priority"`
	Credentials []string        `json:"credentials"`
	// Cron is a five-field cron expression or a descriptor (@hourly, @daily, …); empty with Every.
	Cron string `json:"cron,omitempty"`
	// TimeZone of Cron (an IANA name). Default UTC.
	TimeZone  string     `json:"time_zone"`
	Overlap   string     `json:"overlap"`
	Missed    string     `json:"missed"`
	PausedAt  *time.Time `json:"paused_at"`
	NextRunAt time.Time  `json:"next_run_at"`
	LastRunAt *time.Time `json:"last_run_at"`
	// LastTaskID is the task of the last run that published one, LastTaskStatus its status now
	// ("" when retention has deleted it).
	LastTaskID     *uuid.UUID `json:"last_task_id"`
	LastTaskStatus Status     `json:"last_task_status,omitempty"`
	// Runs and Skipped count the due runs that published a task and those that did not.
	Runs      int64     `json:"runs"`
	Skipped   int64     `json:"skipped"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Every is the interval as a Go duration ("" with a cron expression).
	Every string `json:"every,omitempty"`
	// NextRuns are the next due times (five), none while paused.
	NextRuns []time.Time `json:"next_runs"`
	// LastRuns are its last runs, newest first (GET of one schedule only: the last 20).
	LastRuns []ScheduleRun `json:"last_runs,omitempty"`
}

// ScheduleList is the answer of GET /v1/workspaces/{ws}/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}

// ScheduleRun is one due run of a schedule: the task it published, or why it published none.
type ScheduleRun struct {
	DueAt   time.Time  `json:"due_at"`
	FiredAt time.Time  `json:"fired_at"`
	TaskID  *uuid.UUID `json:"task_id,omitempty"`
	// TaskStatus is the task's status now ("" when retention has deleted it, or with no task).
	TaskStatus Status `json:"task_status,omitempty"`
	// Skipped says why no task was published: "overlap", "missed", or the publish's error.
	Skipped string `json:"skipped,omitempty"`
}
