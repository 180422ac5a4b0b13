// Package jobrun is the door through which agents/agenttest runs a worker with no servers: one
// attempt of a task, its args as they travel, in a delivery that records what the handler does.
// Package agents sets Run when it loads; only agenttest calls it.
package jobrun

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
)

// Run publishes a task of req.Kind to the worker registry holds, as far as bytes on the wire, and
// runs one attempt of it, recording what its handler did. registry is an *agents.Registry (this
// package cannot name it: agents imports it). The error is the run's own (a task a publish would
// refuse, an attempt out of range), never the handler's, which is in the Record.
var Run func(ctx context.Context, registry any, req Request) (Record, error)

// Request is the task, as its publisher would give it, and the attempt to run. Package agents
// checks and defaults the task as a publish would.
type Request struct {
	Kind        string
	Args        json.RawMessage
	WorkspaceID uuid.UUID
	Priority    int
	MaxAttempts int
	Metadata    map[string]string
	TraceParent string
	// Credentials are the declared credentials and their plaintexts.
	Credentials map[string][]byte
	Publisher   uuid.UUID

	Attempt    int
	Generation int
	Logger     zerolog.Logger
	// Checkpoint is the state earlier attempts saved (nil: none), CheckpointSeq how many
	// checkpoints they wrote.
	Checkpoint    json.RawMessage
	CheckpointSeq int64
	// CancelAtCheckpoint: the task is cancelled as its n-th checkpoint of this run is written
	// (0: never).
	CancelAtCheckpoint int
	// RetryPolicy is an agents.RetryPolicy.
	RetryPolicy interface {
		NextRetry(attempt int, err error) time.Duration
	}
}

// Record is what the handler did, in the order it did it.
type Record struct {
	ID          uuid.UUID // the task's
	Err         error
	Fate        uint8 // an agents.Fate
	Delay       time.Duration
	Result      json.RawMessage
	Checkpoints []json.RawMessage
	Progress    []Progress
	Credentials []string // opened, in order
}

// Progress is one progress report, as the engine stores it.
type Progress struct {
	Fraction float64
	Message  string
}
