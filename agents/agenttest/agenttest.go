// Package agenttest runs a worker in a unit test, with no PostgreSQL and no NATS: one attempt of
// a task, with the args, attempt and restored checkpoint the test gives, recording what the
// handler does — its checkpoints, progress reports, result, error — and the fate Mosaic would
// give that error.
//
// The run is the engine's where it can be: the args go through JSON and the kind's decoding and
// Validate as they would on the wire; the handler gets a *agents.Job whose Restore, Checkpoint,
// CheckpointSeq, Progress, SetResult, Credential and Publisher behave as in a pool; a panic is
// recovered as the pool recovers it; the fate is decided by the engine's own rule. What needs the
// servers does not happen: nothing is stored or sent, CheckpointTx does not use its transaction,
// Job.Tracer is a no-op tracer, and there is no progress timeout, attempt timeout or fencing.
//
// A test of a checkpointing worker (count, of the package's example), its resumption included:
//
//	func TestCount(t *testing.T) {
//		ctx, w := context.Background(), agents.WorkFunc[CountArgs](count)
//		rec, err := agenttest.Run(ctx, w, CountArgs{To: 3}, agenttest.Options{})
//		if err != nil || rec.Fate != agents.FateSucceeded || len(rec.Checkpoints) != 3 {
//			t.Fatalf("run: %v, %v, %d checkpoints", err, rec.Fate, len(rec.Checkpoints))
//		}
//		// A second attempt, after a first that stopped having counted to 2, resumes there.
//		rec, err = agenttest.Run(ctx, w, CountArgs{To: 3}, agenttest.Options{Attempt: 2, Checkpoint: 2})
//		if err != nil || string(rec.Result) != `{"counted":1}` {
//			t.Fatalf("resumed run: %v, %s", err, rec.Result)
//		}
//	}
package agenttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/internal/jobrun"
)

// Options describe the task and the attempt Run runs. The zero value is the first attempt of a
// new task, with nothing to restore.
type Options struct {
	// Attempt counts the task's runs, this one included (Job.Attempt). Default 1.
	Attempt int
	// MaxAttempts of the task (Job.MaxAttempts), 1…1000: an error on the last attempt is
	// FateExhausted. Default 25, the default of a kind.
	MaxAttempts int
	// Checkpoint is the state an earlier attempt saved, which Job.Restore gives the handler: a
	// json.RawMessage as it is stored (Record.LastCheckpoint of an earlier run), or any other value,
	// marshalled to JSON. nil (or an empty json.RawMessage): nothing to restore.
	Checkpoint any
	// CheckpointSeq is how many checkpoints earlier attempts wrote (Job.CheckpointSeq before the
	// handler writes one). Default 1 when there is a Checkpoint, else 0.
	CheckpointSeq int64
	// CancelAtCheckpoint cancels the task as the handler writes its n-th checkpoint of this run
	// (1-based; 0: never), as when a cancel request meets a checkpoint: the checkpoint is recorded
	// and returns nil, and the handler's context ends with agents.ErrCancelled. To stop the run as
	// the pool does when it stops, cancel ctx with agents.ErrShutdown (context.WithCancelCause).
	CancelAtCheckpoint int
	// Credentials are the credentials the task declared (Job.Credentials), with the plaintexts
	// Job.Credential opens. Opening one not here fails with agents.ErrCredentialNotDeclared.
	Credentials map[string]string
	// Publisher is what Job.Publisher returns. Default uuid.Nil: none, as for a raw NATS message.
	Publisher uuid.UUID
	// WorkspaceID is Job.WorkspaceID. Default: a new random ID. (Job.ID is always new: see
	// Record.TaskID.)
	WorkspaceID uuid.UUID
	// Priority, Metadata and TraceParent are the task's, as in agents.TaskSpec: checked and
	// defaulted as a publish checks them (priority 1…10, default 5; the trace parent joins the
	// metadata).
	Priority    int
	Metadata    map[string]string
	TraceParent string
	// Generation is Job.Generation: how many times the task was replayed from the dead letters.
	Generation int
	// Logger is the base of Job.Logger, to which Run adds the pool's fields (workspace_id,
	// task_id, kind, attempt). Default: a logger that writes nothing; zerolog.NewTestWriter(t)
	// makes one that writes to the test's log.
	Logger zerolog.Logger
	// RetryPolicy gives Record.Delay for an ordinary error. Default agents.ExponentialBackoff{},
	// the pool's default (whose delays are jittered).
	RetryPolicy agents.RetryPolicy
}

// Record is what the handler did in one Run, in the order it did it.
type Record struct {
	// TaskID is the task's ID (Job.ID), new for each Run.
	TaskID uuid.UUID
	// Err is what the handler returned; a panic is an *agents.PanicError.
	Err error
	// Fate is what Mosaic would do with the task: decided by Err, and by why the handler's
	// context ended if it did (agents.ErrCancelled, agents.ErrShutdown).
	Fate agents.Fate
	// Delay is, for FateSnoozed and FateRetried, how long the task would wait before its next run.
	Delay time.Duration
	// Result is the value of the handler's last SetResult, as JSON (nil: it set none). The
	// engine stores it when the fate is FateSucceeded.
	Result json.RawMessage
	// Checkpoints are the states the handler saved, as JSON, CheckpointTx's included.
	Checkpoints []json.RawMessage
	// Progress are the handler's progress reports, as the engine keeps them: the fraction within
	// 0…1, the message cut to 512 bytes.
	Progress []Progress
	// Credentials are the names of the credentials the handler opened, once per Credential call.
	Credentials []string
}

// Progress is one progress report (Job.Progress).
type Progress struct {
	Fraction float64
	Message  string
}

// LastCheckpoint is the state the handler saved last (nil: none): the Options.Checkpoint of a
// run that resumes this one.
func (r *Record) LastCheckpoint() json.RawMessage {
	if len(r.Checkpoints) == 0 {
		return nil
	}
	return r.Checkpoints[len(r.Checkpoints)-1]
}

// Run runs w on one attempt of a task with args, as a pool would, and records what its handler
// did. The handler's error is in the Record; Run's own error says that the task could not have
// run: a kind that is not valid, a task a publish would refuse (agents.ErrInvalidSpec), args
// that do not survive the wire (agents.ErrInvalidArgs: they do not marshal, or are refused by the
// envelope's limits, the kind's decoding or its Validate), or options out of range.
//
// ctx is the handler's context's parent: cancelling it stops the handler as cancelling the task
// or stopping the pool would, according to its cause.
func Run[T agents.JobArgs](ctx context.Context, w agents.Worker[T], args T, opts Options) (*Record, error) {
	reg := agents.NewRegistry()
	if err := agents.AddWorkerSafely(reg, w, agents.WorkerConfig{}); err != nil {
		return nil, fmt.Errorf("agenttest: %w", err)
	}
	kind := args.Kind()
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("agenttest: %w for %s: %v", agents.ErrInvalidArgs, kind, err)
	}
	req, err := opts.request(kind, raw)
	if err != nil {
		return nil, err
	}
	out, err := jobrun.Run(ctx, reg, req)
	if err != nil {
		return nil, fmt.Errorf("agenttest: %w", err)
	}
	rec := &Record{TaskID: out.ID, Err: out.Err, Fate: agents.Fate(out.Fate), Delay: out.Delay, Result: out.Result,
		Checkpoints: out.Checkpoints, Credentials: out.Credentials}
	for _, p := range out.Progress {
		rec.Progress = append(rec.Progress, Progress(p))
	}
	return rec, nil
}

// request is the task and the attempt these options describe, with the defaults that are not a
// publish's to set; an option out of range is named.
func (o Options) request(kind string, args json.RawMessage) (jobrun.Request, error) {
	req := jobrun.Request{Kind: kind, Args: args, WorkspaceID: o.WorkspaceID, Priority: o.Priority,
		MaxAttempts: o.MaxAttempts, Metadata: o.Metadata, TraceParent: o.TraceParent, Publisher: o.Publisher,
		Attempt: o.Attempt, Generation: o.Generation, Logger: o.Logger, CheckpointSeq: o.CheckpointSeq,
		CancelAtCheckpoint: o.CancelAtCheckpoint, RetryPolicy: o.RetryPolicy}
	if req.WorkspaceID == uuid.Nil {
		req.WorkspaceID = uuid.New()
	}
	if req.Attempt == 0 {
		req.Attempt = 1
	}
	if req.RetryPolicy == nil {
		req.RetryPolicy = agents.ExponentialBackoff{}
	}
	if o.Credentials != nil {
		req.Credentials = make(map[string][]byte, len(o.Credentials))
		for name, value := range o.Credentials {
			req.Credentials[name] = []byte(value)
		}
	}
	var errs []error
	switch cp := o.Checkpoint.(type) {
	case nil:
	case json.RawMessage:
		if len(cp) > 0 && !json.Valid(cp) {
			errs = append(errs, errors.New("Options.Checkpoint is not valid JSON"))
		}
		req.Checkpoint = cp
	default:
		raw, err := json.Marshal(cp)
		if err != nil {
			errs = append(errs, fmt.Errorf("Options.Checkpoint does not marshal: %w", err))
		}
		req.Checkpoint = raw
	}
	if len(req.Checkpoint) > 0 && req.CheckpointSeq == 0 {
		req.CheckpointSeq = 1
	}
	if req.Attempt < 1 {
		errs = append(errs, fmt.Errorf("Options.Attempt must be positive (got %d)", o.Attempt))
	}
	if o.CheckpointSeq < 0 {
		errs = append(errs, fmt.Errorf("Options.CheckpointSeq must not be negative (got %d)", o.CheckpointSeq))
	}
	if o.CancelAtCheckpoint < 0 {
		errs = append(errs, fmt.Errorf("Options.CancelAtCheckpoint must not be negative (got %d)", o.CancelAtCheckpoint))
	}
	if o.Generation < 0 {
		errs = append(errs, fmt.Errorf("Options.Generation must not be negative (got %d)", o.Generation))
	}
	if err := errors.Join(errs...); err != nil {
		return jobrun.Request{}, fmt.Errorf("agenttest: %w", err)
	}
	return req, nil
}
