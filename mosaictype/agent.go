package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Agent is a worker process as it last reported itself.
type Agent struct {
	ID                uuid.UUID       `json:"id"`
	Name              string          `json:"name"`
	Host              string          `json:"host"`
	PID               int             `json:"pid"`
	Version           string          `json:"version"`
	Pools             []string        `json:"pools"`
	Kinds             []string        `json:"kinds"`
	Concurrency       int             `json:"concurrency"`
	State             string          `json:"state"`
	HeartbeatInterval time.Duration   `json:"heartbeat_interval_ns"`
	InFlight          int             `json:"in_flight"`
	Tasks             json.RawMessage `json:"tasks"`
	DrainRequestedAt  *time.Time      `json:"drain_requested_at"`
	StartedAt         time.Time       `json:"started_at"`
	HeartbeatAt       time.Time       `json:"heartbeat_at"`
	EndedAt           *time.Time      `json:"ended_at"`
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
