package mosaictype

import (
	"time"

	"github.com/google/uuid"
)

// OperatorKey is a named key that acts as the operator's admin token, so that what an operator
// does is recorded under a name ("operator:<name>"), and one person's access is revoked alone.
// It is created and revoked with the admin token; only the SHA-256 of the key is stored.
type OperatorKey struct {
	ID        uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// CreateOperatorKeyRequest names the operator a key is for.
type CreateOperatorKeyRequest struct {
	Name string `json:"name"`
}

// CreatedOperatorKey is a new key, shown this once.
type CreatedOperatorKey struct {
	OperatorKey
	Key string `json:"key"`
}

// Overview answers GET /v1/overview (admin token): tasks by status over every workspace, and the
// busiest workspaces.
type Overview struct {
	At         time.Time `json:"at"`
	Workspaces int       `json:"workspaces"`
	// Totals counts every workspace's tasks by status (every status present).
	Totals map[Status]int `json:"totals"`
	// DeadLastHour counts the tasks that ended dead in the last hour.
	DeadLastHour int `json:"dead_last_hour"`
	// Busiest are the (at most) BusiestWorkspaces workspaces with the most running and queued
	// tasks, busiest first; workspaces with nothing running, queued, retrying or dead in the last
	// hour are left out.
	Busiest []WorkspaceLoad `json:"busiest"`
}

// WorkspaceLoad is what one workspace is doing.
type WorkspaceLoad struct {
	ID           uuid.UUID `json:"id"`
	Name         string    `json:"name"`
	Running      int       `json:"running"`
	Queued       int       `json:"queued"`
	Retrying     int       `json:"retrying"`
	DeadLastHour int       `json:"dead_last_hour"`
}

// Minutes is the answer of GET /v1/stats/minutes: what the worker processes measured per minute
// over the last hour (their heartbeats write it), summed over processes — per pool, stream and
// priority, and in all.
type Minutes struct {
	// Minutes are the starts of the minutes, oldest first; every series has one value per minute.
	Minutes []time.Time `json:"minutes"`
	// BoundsMS are the bucket bounds the percentiles are read from: a percentile is the bound of
	// the bucket it falls in (the last bound: longer than that).
	BoundsMS []int32        `json:"bounds_ms"`
	Total    MinuteSeries   `json:"total"`
	Series   []MinuteSeries `json:"series"`
}

// MinuteSeries is one pool, stream and priority (empty in Minutes.Total) minute by minute. A
// percentile is -1 in a minute without runs.
type MinuteSeries struct {
	Pool      string  `json:"pool,omitempty"`
	Stream    string  `json:"stream,omitempty"`
	Priority  int     `json:"priority,omitempty"`
	Succeeded []int   `json:"succeeded"`
	Failed    []int   `json:"failed"`
	WaitP50MS []int32 `json:"wait_p50_ms"`
	WaitP95MS []int32 `json:"wait_p95_ms"`
	RunP50MS  []int32 `json:"run_p50_ms"`
	RunP95MS  []int32 `json:"run_p95_ms"`
	RunP99MS  []int32 `json:"run_p99_ms"`
}
