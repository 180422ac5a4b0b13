package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Status is where a task stands.
type Status string

// Task statuses.
const (
	StatusQueued    Status = "queued"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusRetrying  Status = "retrying"
	StatusSucceeded Status = "succeeded"
	StatusDead      Status = "dead"
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is a task status.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusScheduled, StatusRunning, StatusRetrying, StatusSucceeded, StatusDead, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether a status is final: succeeded, dead or cancelled.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusDead || s == StatusCancelled
}

// Task is a task row.
type Task struct {
	WorkspaceID       uuid.UUID         `json:"workspace_id" db:"workspace_id"`
	ID                uuid.UUID         `json:"id" db:"id"`
	Kind              string            `json:"kind" db:"kind"`
	Priority          int               `json:"priority" db:"priority"`
	Status            Status            `json:"status" db:"status"`
	Args              json.RawMessage   `json:"args" db:"args"`
	Credentials       []string          `json:"credentials" db:"credentials"`
	Metadata          map[string]string `json:"metadata" db:"metadata"`
	MaxAttempts       int               `json:"max_attempts" db:"max_attempts"`
	TimeoutMS         int64             `json:"timeout_ms" db:"timeout_ms"`
	RunAt             *time.Time        `json:"run_at" db:"run_at"`
	IdempotencyKey    *string           `json:"idempotency_key" db:"idempotency_key"`
	Attempt           int               `json:"attempt" db:"attempt"`
	Generation        int               `json:"generation" db:"generation"`
	Fence             int64             `json:"fence" db:"fence"`
	Worker            *string           `json:"worker" db:"worker"` // holds it while it runs; once succeeded, ran it
	LeaseUntil        *time.Time        `json:"lease_until" db:"lease_until"`
	Progress          float32           `json:"progress" db:"progress"`
	ProgressMessage   *string           `json:"progress_message" db:"progress_message"`
	Checkpoint        json.RawMessage   `json:"checkpoint" db:"checkpoint"`
	CheckpointSeq     int64             `json:"checkpoint_seq" db:"checkpoint_seq"`
	Result            json.RawMessage   `json:"result" db:"result"`
	LastError         *string           `json:"last_error" db:"last_error"`
	CancelRequestedAt *time.Time        `json:"cancel_requested_at" db:"cancel_requested_at"`
	CreatedAt         time.Time         `json:"created_at" db:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at" db:"updated_at"`
	StartedAt         *time.Time        `json:"started_at" db:"started_at"`
	FinishedAt        *time.Time        `json:"finished_at" db:"finished_at"`
}

// TaskEvent is one transition of a task.
type TaskEvent struct {
	ID      int64           `json:"id" db:"id"`
	TaskID  uuid.UUID       `json:"task_id" db:"task_id"`
	At      time.Time       `json:"at" db:"at"`
	Type    string          `json:"type" db:"type"`
	Status  Status          `json:"status,omitempty" db:"status"`
	Attempt int             `json:"attempt" db:"attempt"`
	Fence   int64           `json:"fence" db:"fence"`
	Worker  string          `json:"worker,omitempty" db:"worker"`
	Detail  json.RawMessage `json:"detail,omitempty" db:"detail"`
}

// PublishRequest is the body of POST /v1/workspaces/{ws}/tasks.
type PublishRequest struct {
	Kind string `json:"kind"`
	// Priority: 1 (most urgent) … 10; 0 or absent: 5.
	Priority int             `json:"priority,omitempty"`
	Args     json.RawMessage `json:"args,omitempty"`
	// Credentials the task may open when it runs.
	Credentials []string `json:"credentials,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
	// Timeout of one attempt, a Go duration ("90s").
	Timeout string `json:"timeout,omitempty"`
	// RunAt (RFC 3339) or Delay (a Go duration), not both.
	RunAt          *time.Time        `json:"run_at,omitempty"`
	Delay          string            `json:"delay,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// PublishResponse answers a publish: 202 for a new task, 200 for a duplicate (same id or
// idempotency key), with the existing task's status.
type PublishResponse struct {
	ID        uuid.UUID `json:"id"`
	Status    Status    `json:"status"`
	Duplicate bool      `json:"duplicate"`
}

// TaskList is a page of tasks.
type TaskList struct {
	Tasks      []Task `json:"tasks"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ReplayRequest is the (optional) body of POST …/dead-letters/{id}/replay.
type ReplayRequest struct {
	// Fresh drops the task's last checkpoint: the replay starts from the beginning.
	Fresh bool `json:"fresh"`
}

// ReplayResponse says what was re-queued.
type ReplayResponse struct {
	DeadLetterID uuid.UUID  `json:"dead_letter_id"`
	TaskID       *uuid.UUID `json:"task_id"`
	Generation   int        `json:"generation"`
}

// RetryResponse says which generation of the task was queued.
type RetryResponse struct {
	TaskID     uuid.UUID `json:"task_id"`
	Status     Status    `json:"status"`
	Generation int       `json:"generation"`
}

// DeadLetterList is a page of dead letters.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  string       `json:"next_cursor,omitempty"`
}

// DeadLetter is a message that ended without success: the reason, the last error and the
// original message, replayable.
type DeadLetter struct {
	WorkspaceID uuid.UUID           `json:"workspace_id" db:"workspace_id"`
	ID          uuid.UUID           `json:"id" db:"id"`
	TaskID      *uuid.UUID          `json:"task_id" db:"task_id"`
	Kind        string              `json:"kind,omitempty" db:"kind"`
	Reason      string              `json:"reason" db:"reason"`
	Error       string              `json:"error" db:"error"`
	Subject     string              `json:"subject" db:"subject"`
	Headers     map[string][]string `json:"headers" db:"headers"`
	Payload     []byte              `json:"payload" db:"payload"`
	Attempt     int                 `json:"attempt" db:"attempt"`
	StreamSeq   *int64              `json:"stream_seq" db:"stream_seq"`
	CreatedAt   time.Time           `json:"created_at" db:"created_at"`
	ReplayedAt  *time.Time          `json:"replayed_at" db:"replayed_at"`
	ReplayCount int                 `json:"replay_count" db:"replay_count"`
	DiscardedAt *time.Time          `json:"discarded_at,omitempty" db:"discarded_at"`
	DiscardedBy string              `json:"discarded_by,omitempty" db:"discarded_by"`
}

// DeadLetterGroup counts a workspace's dead letters of one reason and kind.
type DeadLetterGroup struct {
	Reason    string    `json:"reason"`
	Kind      string    `json:"kind"`
	Count     int       `json:"count"`
	Replayed  int       `json:"replayed"`  // of Count, replayed at least once
	Discarded int       `json:"discarded"` // of Count, discarded
	Oldest    time.Time `json:"oldest"`
	Newest    time.Time `json:"newest"`
}

// UnroutedMessage is a message whose subject names no existing workspace.
type UnroutedMessage struct {
	ID        uuid.UUID           `json:"id" db:"id"`
	Reason    string              `json:"reason" db:"reason"`
	Error     string              `json:"error" db:"error"`
	Subject   string              `json:"subject" db:"subject"`
	Headers   map[string][]string `json:"headers" db:"headers"`
	Payload   []byte              `json:"payload" db:"payload"`
	StreamSeq *int64              `json:"stream_seq" db:"stream_seq"`
	CreatedAt time.Time           `json:"created_at" db:"created_at"`
}
