package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mosaicstack/mosaic/agents/internal/jobrun"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/events"
)

// The door for agents/agenttest, set once before any code of a test runs. A hook rather than an
// exported function: agents' own API stays what a worker or an embedding program uses.
func init() { jobrun.Run = runRecorded }

// runRecorded runs one attempt of a task as the pool does, in a recording instead of a delivery:
// the task checked by the publish edge (Client.Validate's checks) and carried as its message's
// bytes, decoded as a pool decodes a message, its args by the kind's registration; the handler run
// by runHandler; its fate decided by fateOf. What the handler writes is kept; nothing is sent or
// stored.
func runRecorded(ctx context.Context, registry any, req jobrun.Request) (jobrun.Record, error) {
	r, ok := registry.(*Registry)
	if !ok {
		return jobrun.Record{}, fmt.Errorf("agents: jobrun.Run takes an *agents.Registry, not %T", registry)
	}
	publisher := &Client{cfg: ClientConfig{Registry: r}} // its checks need no database
	task, err := publisher.prepare(TaskSpec{WorkspaceID: req.WorkspaceID, Kind: req.Kind, Priority: req.Priority,
		Args: req.Args, Credentials: slices.Sorted(maps.Keys(req.Credentials)), MaxAttempts: req.MaxAttempts, Metadata: req.Metadata,
		TraceParent: req.TraceParent, PublishedBy: req.Publisher}, time.Now())
	if err != nil {
		return jobrun.Record{}, err
	}
	msg := task.outbox
	dec, _, err := events.DecodeTask(msg.Subject, nats.Header(msg.Headers), msg.Payload, 1)
	if err != nil {
		return jobrun.Record{}, fmt.Errorf("the task's message does not decode: %w", err)
	}
	env := dec.Envelope
	reg := r.lookup(env.Kind)
	args, err := reg.decode(env.Args)
	if err != nil {
		return jobrun.Record{}, err
	}
	if req.Attempt > env.MaxAttempts {
		return jobrun.Record{}, fmt.Errorf("attempt %d is beyond the task's max attempts (%d)", req.Attempt, env.MaxAttempts)
	}
	traceParent := env.Metadata[events.MetadataTraceParent] // where a publish puts it (and its message's header)
	log := req.Logger.With().Str("workspace_id", env.WorkspaceID.String()).Str("task_id", env.ID.String()).Str("kind", env.Kind)
	if id := events.TraceID(traceParent); id != "" {
		log = log.Str("trace_id", id)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rec := &recording{
		job: JobInfo{ID: env.ID, WorkspaceID: env.WorkspaceID, Kind: env.Kind, Priority: env.Priority, Attempt: req.Attempt,
			MaxAttempts: env.MaxAttempts, Generation: req.Generation, Metadata: env.Metadata, Credentials: env.Credentials,
			TraceParent: traceParent, Logger: log.Int("attempt", req.Attempt).Logger()},
		req: req, cancel: cancel, state: req.Checkpoint, stateSeq: req.CheckpointSeq,
	}
	err = runHandler(ctx, reg, rec, args)
	cause := context.Cause(ctx) // nil unless the context ended
	out := rec.end()
	fate, delay := fateOf(err, cause, req.Attempt, env.MaxAttempts, reg.retryPolicy(req.RetryPolicy))
	out.ID, out.Err, out.Fate, out.Delay = env.ID, err, uint8(fate), delay
	return out, nil
}

// recording is a delivery with no servers behind it: checkpoints, progress and the result are
// kept in order, credentials open from the request's plaintexts, and the task is cancelled at the
// checkpoint the request names.
type recording struct {
	job    JobInfo
	req    jobrun.Request
	cancel context.CancelCauseFunc

	mu          sync.Mutex
	state       json.RawMessage
	stateSeq    int64
	result      json.RawMessage
	checkpoints []json.RawMessage
	progress    []jobrun.Progress
	opened      []string
	secrets     []crypto.Secret
	ended       bool
}

var _ jobDelivery = (*recording)(nil)

// end stops the recording as a delivery ends — later calls change nothing or get ErrNotRunning,
// opened credentials are wiped — and gives what it recorded.
func (r *recording) end() jobrun.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	for _, s := range r.secrets {
		s.Wipe()
	}
	r.secrets = nil
	return jobrun.Record{Result: r.result, Checkpoints: r.checkpoints, Progress: r.progress, Credentials: r.opened}
}

func (r *recording) info() JobInfo {
	info := r.job
	info.Credentials = slices.Clone(info.Credentials)
	return info
}

// checkpoint keeps state as the handler's next checkpoint; the transaction, if any, is not used.
func (r *recording) checkpoint(_ context.Context, _ pgx.Tx, state any) error {
	raw, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return ErrNotRunning
	}
	r.state, r.stateSeq = raw, r.stateSeq+1
	r.checkpoints = append(r.checkpoints, raw)
	cancelled := len(r.checkpoints) == r.req.CancelAtCheckpoint
	r.mu.Unlock()
	if cancelled {
		// As when the write finds a cancel request: the checkpoint stands, the handler is stopped.
		r.cancel(ErrCancelled)
	}
	return nil
}

func (r *recording) restorable() json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *recording) seq() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateSeq
}

func (r *recording) setProgress(fraction float64, message string) {
	fraction, message = progressOf(fraction, message)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ended {
		r.progress = append(r.progress, jobrun.Progress{Fraction: fraction, Message: message})
	}
}

func (r *recording) setResult(raw json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ended {
		r.result = raw
	}
}

func (r *recording) credential(_ context.Context, name string) (crypto.Secret, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return crypto.Secret{}, ErrNotRunning
	}
	if err := declared(r.job.Credentials, name); err != nil {
		return crypto.Secret{}, err
	}
	s := crypto.NewSecret(slices.Clone(r.req.Credentials[name]))
	r.secrets = append(r.secrets, s)
	r.opened = append(r.opened, name)
	return s, nil
}

func (r *recording) publisher(context.Context) (uuid.UUID, error) { return r.req.Publisher, nil }

func (r *recording) tracer() trace.Tracer { return noop.Tracer{} }
