package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Agent is a worker process as it last reported itself.
type Agent struct {
	ID                uuid.UUID       `json:"id" db:"id"`
	Name              string          `json:"name" db:"name"`
	Host              string          `json:"host" db:"host"`
	PID               int             `json:"pid" db:"pid"`
	Version           string          `json:"version" db:"version"`
	Pools             []string        `json:"pools" db:"pools"`
	Kinds             []string        `json:"kinds" db:"kinds"`
	Concurrency       int             `json:"concurrency" db:"concurrency"`
	State             string          `json:"state" db:"state"`
	HeartbeatInterval time.Duration   `json:"heartbeat_interval_ns" db:"heartbeat_interval"`
	InFlight          int             `json:"in_flight" db:"in_flight"`
	Tasks             json.RawMessage `json:"tasks" db:"tasks"`
	DrainRequestedAt  *time.Time      `json:"drain_requested_at" db:"drain_requested_at"`
	StartedAt         time.Time       `json:"started_at" db:"started_at"`
	HeartbeatAt       time.Time       `json:"heartbeat_at" db:"heartbeat_at"`
	EndedAt           *time.Time      `json:"ended_at" db:"ended_at"`
}

// AgentEvent is a recorded transition of an agent.
type AgentEvent struct {
	At     time.Time       `json:"at"`
	Type   string          `json:"type"`
	Detail json.RawMessage `json:"detail"`
}

// PoolPause is an operator's pause of a pool.
type PoolPause struct {
	Pool        string    `json:"pool"`
	PausedUntil time.Time `json:"paused_until"`
	PausedBy    string    `json:"paused_by"`
	PausedAt    time.Time `json:"paused_at"`
}

// AgentList is the agent registry: live agents and those that ended in the last hour.
type AgentList struct {
	Agents []Agent `json:"agents"`
}

// PauseRequest pauses a pool for a while (empty: until it is resumed).
type PauseRequest struct {
	For string `json:"for,omitempty"`
}

// PoolPauseResponse says which consumers were paused or resumed.
type PoolPauseResponse struct {
	Pool        string     `json:"pool"`
	PausedUntil *time.Time `json:"paused_until,omitempty"`
	Consumers   []string   `json:"consumers"`
}
