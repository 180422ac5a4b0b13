package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/internal/clip"
	"github.com/mosaicstack/mosaic/store"
)

// JobInfo is what a handler knows of its task and delivery.
type JobInfo struct {
	ID          uuid.UUID
	WorkspaceID uuid.UUID
	Kind        string
	Priority    int
	// Attempt counts the runs of this task, this one included (1 on the first run).
	Attempt     int
	MaxAttempts int
	// Generation grows with every replay of the task from the dead letters.
	Generation int
	Metadata   map[string]string
	// Credentials are the names the task declared: the ones Credential opens.
	Credentials []string
	// TraceParent is the W3C trace context the task was published with ("" when none): the
	// message's traceparent header, else the task's metadata. Give it to OpenTelemetry's
	// propagator to continue the publisher's trace.
	TraceParent string
	// Logger carries workspace_id, task_id, kind and attempt.
	Logger zerolog.Logger
}

// Job is a running task with typed Args.
type Job[T JobArgs] struct {
	JobInfo
	Args T
	d    jobDelivery
}

// jobDelivery is what a Job needs of the delivery it runs in: the engine's delivery, or the
// recording agents/agenttest runs a handler in, with no servers.
type jobDelivery interface {
	info() JobInfo
	checkpoint(ctx context.Context, tx pgx.Tx, state any) error
	restorable() json.RawMessage
	seq() int64
	setProgress(fraction float64, message string)
	setResult(raw json.RawMessage)
	credential(ctx context.Context, name string) (crypto.Secret, error)
	publisher(ctx context.Context) (uuid.UUID, error)
	tracer() trace.Tracer
}

// Checkpoint saves state (any JSON-marshalable value) so that a later attempt can Restore it,
// and counts as progress. It returns ErrFenced when a newer delivery holds the task: the handler
// must then return (its context is cancelled too).
func (j *Job[T]) Checkpoint(ctx context.Context, state any) error {
	return j.d.checkpoint(ctx, nil, state)
}

// CheckpointTx saves state inside the caller's transaction, which must be in the task's
// workspace (store.DB.InWorkspace): a business write and the checkpoint commit together or not at
// all.
func (j *Job[T]) CheckpointTx(ctx context.Context, tx pgx.Tx, state any) error {
	return j.d.checkpoint(ctx, tx, state)
}

// Restore loads the last checkpoint into state and reports whether there was one.
func (j *Job[T]) Restore(state any) (bool, error) {
	raw := j.d.restorable()
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(raw, state); err != nil {
		return false, fmt.Errorf("restore checkpoint: %w", err)
	}
	return true, nil
}

// Credential decrypts one of the credentials the task declared when it was published, resolved
// as its publisher's own USER credential first, then the workspace's, then SYSTEM. It works only
// while this delivery holds the task, records the access (credential, task, attempt, agent), and
// the plaintext is wiped when the handler returns: use it, do not keep it, never log it (it prints
// as [REDACTED] anyway).
func (j *Job[T]) Credential(ctx context.Context, name string) (crypto.Secret, error) {
	return j.d.credential(ctx, name)
}

// Publisher is the user who published the task (uuid.Nil: none, as for a raw NATS message). A
// task JetStream accepted before its row was written may start before the row exists: Publisher
// then waits for it (2 s at most).
func (j *Job[T]) Publisher(ctx context.Context) (uuid.UUID, error) { return j.d.publisher(ctx) }

// Tracer is the tracer of the pool's PoolConfig.TracerProvider (a no-op one without), for spans
// of the handler's own. The handler's ctx carries the task's mosaic.handle span: a span started
// from ctx — with this tracer, or any tracer of the same provider — joins the task's trace
// (trace.SpanFromContext(ctx).TracerProvider() is that provider too).
func (j *Job[T]) Tracer() trace.Tracer { return j.d.tracer() }

// CheckpointSeq is how many checkpoints the task has written.
func (j *Job[T]) CheckpointSeq() int64 { return j.d.seq() }

// Progress reports how far the handler is (fraction 0…1) with a short message; it keeps the
// delivery alive as Checkpoint does, without writing state. It is recorded within a heartbeat.
func (j *Job[T]) Progress(fraction float64, message string) { j.d.setProgress(fraction, message) }

// SetResult records the task's result (JSON-marshalable), stored when the handler returns nil.
func (j *Job[T]) SetResult(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	j.d.setResult(raw)
	return nil
}

func (d *delivery) info() JobInfo {
	return JobInfo{ID: d.id, WorkspaceID: d.ws, Kind: d.kind, Priority: d.priority, Attempt: d.attempt,
		MaxAttempts: d.maxAttempts, Generation: d.generation, Metadata: d.metadata,
		Credentials: slices.Clone(d.credentials), TraceParent: d.traceParent, Logger: d.log}
}

func (d *delivery) restorable() json.RawMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

func (d *delivery) seq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stateSeq
}

func (d *delivery) setProgress(fraction float64, message string) {
	fraction, message = progressOf(fraction, message)
	d.mu.Lock()
	d.progress, d.progressMsg = float32(fraction), message
	d.mu.Unlock()
	d.touch()
}

// maxProgressMessage bounds a progress message, in bytes.
const maxProgressMessage = 512

// progressOf is a progress report as it is stored: the fraction within 0…1 (NaN: 0), the message
// cut to maxProgressMessage bytes at a character's start.
func progressOf(fraction float64, message string) (float64, string) {
	if math.IsNaN(fraction) {
		fraction = 0
	}
	fraction = math.Max(0, math.Min(1, fraction))
	return fraction, clip.Bytes(message, maxProgressMessage)
}

func (d *delivery) setResult(raw json.RawMessage) {
	d.mu.Lock()
	d.result = raw
	d.mu.Unlock()
}

func (d *delivery) tracer() trace.Tracer { return d.pool.jobTracer() }

// checkpoint writes a checkpoint, under a span of its own when the pool traces.
func (d *delivery) checkpoint(ctx context.Context, tx pgx.Tx, state any) error {
	if d.trace == nil {
		return d.writeCheckpoint(ctx, tx, state)
	}
	ctx, span := d.trace.startCheckpoint(ctx)
	err := d.writeCheckpoint(ctx, tx, state)
	endSpan(span, err)
	return err
}

func (d *delivery) writeCheckpoint(ctx context.Context, tx pgx.Tx, state any) error {
	raw, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return ErrNotRunning
	}
	progress, msg := d.progress, d.progressMsg
	d.mu.Unlock()
	if !d.isClaimed() {
		// The first write of a delivery claims the task; without a transaction of the caller's, the
		// checkpoint travels with the claim.
		var st json.RawMessage
		if tx == nil {
			st = raw
		}
		res, wrote, err := d.ensureClaimed(st, progress, msg)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if res.Outcome != store.Claimed {
			if res.Outcome == store.CancelRequested {
				return ErrCancelled
			}
			return ErrFenced
		}
		if wrote && tx == nil {
			d.touch()
			return nil
		}
	}
	f := store.FencedOpts{WorkspaceID: d.ws, ID: d.id, Fence: d.fence}
	var res store.CheckpointResult
	if tx != nil {
		err = store.CheckpointTx(ctx, tx, f, raw, progress, msg, d.pool.lease, &res)
	} else {
		res, err = d.pool.commit.checkpoint(store.CheckpointParams{FencedOpts: f, State: raw, Progress: progress, Message: msg})
		if err == nil && res.Fenced {
			err = store.ErrFenced
		}
	}
	if errors.Is(err, store.ErrFenced) {
		d.fence0()
		return ErrFenced
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	d.mu.Lock()
	d.state, d.stateSeq = raw, res.Seq
	d.mu.Unlock()
	d.touch()
	if res.CancelRequested {
		d.cancel(ErrCancelled)
	}
	return nil
}
