package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/clip"
	"github.com/mosaicstack/mosaic/store"
)

// delivery is one delivery of a task message to this pool: its claim, its handler run and its end.
type delivery struct {
	pool            *Pool
	msg             jetstream.Msg
	ws, id          uuid.UUID
	kind            string
	priority        int
	fence           int64
	generation      int
	attempt         int
	maxAttempts     int
	metadata        map[string]string
	credentials     []string
	traceParent     string         // W3C trace context of the task ("" when none)
	trace           *deliveryTrace // its spans; nil without tracing
	progressTimeout time.Duration
	retryPolicy     RetryPolicy // the kind's (WorkerConfig.RetryPolicy), else the pool's
	log             zerolog.Logger
	cancelFn        context.CancelCauseFunc
	params          store.ClaimParams // the claim this delivery makes (at once, or with its first write)
	startedAt       time.Time
	// rowPending: the handler started before the publisher wrote the task's row (JetStream
	// accepted the message first); what only the row knows (its publisher) is read after it.
	rowPending bool

	claimMu        sync.Mutex // serialises the lazy claim (handler's first write, heartbeat)
	mu             sync.Mutex
	phase          claimPhase         // where it stands with its task; moved by setPhase only
	refusal        *store.ClaimResult // with phase refused: why its lazy claim was refused
	secrets        []crypto.Secret    // opened credentials, wiped when the delivery ends
	state          json.RawMessage
	stateSeq       int64
	progress       float32
	progressMsg    string
	result         json.RawMessage
	lastTouch      time.Time
	lastInProgress time.Time
	ended          bool // the handler has returned: no claim starts, no write but the end
}

// claimPhase is where a delivery stands with its task. It starts unclaimed (a lazy claim: the
// delivery runs and claims with its first write) or claimed; it ends refused or fenced at most.
type claimPhase uint8

const (
	unclaimed claimPhase = iota // running on a lazy claim: nothing written yet
	claimed                     // its claim is committed: it holds the task
	refused                     // its lazy claim was refused (refusal says why): it stops
	fenced                      // a write found a newer delivery holding the task: it stops, no ack
)

// setPhase moves d to phase to, under d.mu, if that is a move a delivery makes: unclaimed →
// claimed, refused or fenced; claimed → fenced; fenced → refused (a lazy claim's refusal, which
// says why, outranks a fence met before it answered). Refused is final. It reports whether d
// moved.
func (d *delivery) setPhase(to claimPhase) bool {
	switch {
	case d.phase == to:
		return false
	case d.phase == unclaimed, d.phase == claimed && to == fenced, d.phase == fenced && to == refused:
		d.phase = to
		return true
	}
	return false
}

// maxErrorText bounds an error message kept in a task row or a dead letter.
const maxErrorText = 4096

// bookkeeping bounds one write of the engine's own state (claims, results, dead letters).
const bookkeeping = 30 * time.Second

// deliver runs one message to its end; the caller holds a handler slot for it, which is given
// back as soon as the handler returns: writing the end of the attempt and acking need no slot.
// held says the message waited in this pool for a slot (longer than heldFor) after it left the
// stream. meta is msg's metadata as the pull parsed it (nil: parsed here).
func (p *Pool) deliver(msg jetstream.Msg, meta *jetstream.MsgMetadata, held bool) {
	defer p.deliveries.Done()
	var once sync.Once
	release := func() { once.Do(func() { <-p.slots }) }
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
	defer cancel()

	if p.runCtx.Err() != nil {
		_ = msg.Nak() // stopping: another worker takes it now
		return
	}
	var err error
	if meta == nil {
		meta, err = msg.Metadata()
	}
	if err != nil {
		p.log.Error().Err(err).Str("subject", msg.Subject()).Msg("message without JetStream metadata")
		_ = msg.Term()
		return
	}
	dec, addr, err := events.DecodeTask(msg.Subject(), msg.Headers(), msg.Data(), meta.Sequence.Stream)
	if err != nil {
		var ee *events.EnvelopeError
		reason := events.ReasonInvalidEnvelope
		if errors.As(err, &ee) {
			reason = ee.Reason
		}
		p.reject(ctx, msg, meta, addr.Workspace, reason, err.Error(), nil)
		return
	}
	env := dec.Envelope
	reg := p.cfg.Registry.lookup(env.Kind)
	if reg == nil {
		p.reject(ctx, msg, meta, env.WorkspaceID, events.ReasonUnknownKind,
			fmt.Sprintf("no worker for kind %q in pool %s (kinds: %v)", env.Kind, p.cfg.Name, p.cfg.Registry.Kinds()), &dec)
		return
	}
	args, err := reg.decode(env.Args)
	if err != nil {
		p.reject(ctx, msg, meta, env.WorkspaceID, events.ReasonInvalidArgs, err.Error(), &dec)
		return
	}
	if env.RunAt != nil && env.RunAt.After(time.Now().Add(time.Second)) {
		p.scheduleLater(ctx, msg, &dec)
		return
	}

	d := &delivery{
		pool: p, msg: msg, ws: env.WorkspaceID, id: env.ID, kind: env.Kind, priority: env.Priority,
		fence: events.Fence(dec.Generation, meta.NumDelivered), generation: dec.Generation,
		metadata: env.Metadata, credentials: env.Credentials, progressTimeout: reg.cfg.ProgressTimeout,
		retryPolicy: reg.retryPolicy(p.cfg.RetryPolicy),
	}
	d.traceParent = msg.Headers().Get(events.HeaderTraceParent)
	if !events.ValidTraceParent(d.traceParent) {
		d.traceParent = env.Metadata[events.MetadataTraceParent]
	}
	params := store.ClaimParams{
		Task: envelopeTask(&env, dec.Generation), Fence: d.fence, MsgSeq: meta.Sequence.Stream,
		Worker: p.cfg.WorkerName, Lease: p.lease, MaxConcurrency: p.caps.get(ctx, d.ws),
	}
	if params.MaxConcurrency == store.Paused {
		// The workspace is paused: leave the task as it is and look again later.
		_ = msg.NakWithDelay(min(p.cfg.CapacityDelay<<min(meta.NumDelivered-1, 6), 30*time.Second))
		return
	}
	if p.tracer != nil {
		d.trace = p.startTrace(d, meta.Timestamp)
		defer d.trace.end()
	}
	logCtx := p.log.With().Str("workspace_id", d.ws.String()).Str("task_id", d.id.String()).Str("kind", d.kind)
	if sc := d.trace.spanContext(); sc.IsValid() {
		logCtx = logCtx.Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String())
	} else if id := events.TraceID(d.traceParent); id != "" {
		logCtx = logCtx.Str("trace_id", id)
	}
	d.log = logCtx.Logger() // until the attempt is known; logCtx gets it below without a copy
	var claim store.ClaimResult
	// The task's own message: the one Mosaic published (JetStream drops a copy within its
	// duplicate window), or the one its schedule delivered.
	params.Canonical = msg.Headers().Get(nats.MsgIdHdr) == events.MsgID(d.ws, d.id, dec.Generation) ||
		msg.Headers().Get(events.HeaderScheduler) == events.DelayedSubject(d.kind, d.ws, d.id)
	// Claiming lazily is for the common case only: the first delivery of the task's own message, in
	// a workspace without a cap. A redelivery, or another message for the task, claims at once: a
	// twin must not run the handler beside it.
	lazy := params.MaxConcurrency == 0 && meta.NumDelivered == 1 && params.Canonical
	follows := meta.NumDelivered == 1 && msg.Headers().Get(events.HeaderRowFollows) != ""
	if follows && !lazy {
		_, _ = p.awaitRow(d, store.PeekResult{Workspace: true}, nil) // then claim, whatever it found
	}
	if !lazy {
		if params.MaxConcurrency > 0 {
			// A capped workspace's claim counts its running tasks under the workspace's lock: the
			// same claim (store.RunBatch), in a transaction of its own, so that waiting for another
			// process's hold on that lock holds up no other workspace's writes in a group commit.
			claim, err = p.cfg.DB.Claim(ctx, params)
		} else {
			claim, err = p.commit.claim(params)
		}
		if err == nil && claim.Outcome == store.Claimed {
			d.setPhase(claimed) // not yet shared: no lock needed
		}
	} else {
		// Read, do not write: the delivery claims with its first write — its first checkpoint,
		// or its end — so that a task that finishes before checkpointing costs one write.
		var peek store.PeekResult
		if follows && !held && p.known.has(d.ws) {
			// The first delivery of a new task's own message, which JetStream accepted before its
			// row was written: the row, if written yet, holds nothing that could stop it or that
			// it resumes from (attempt 0, no checkpoint, no claim: a message that is not the
			// task's own may not take a row no delivery has claimed) — save a cancel, and a cancel
			// takes the message back from the stream before it answers (the row keeps the
			// message's sequence: Client.Cancel), so a cancelled task's message is not delivered;
			// one issued while the message is on its way races the handler's start, as it would
			// after a read (a message that waited here for a slot, out of the cancel's reach, is
			// read first). It runs without reading the row; its claim, with its first write,
			// applies the claim rule as for any delivery (a cancelled row refuses it).
			peek = store.PeekResult{Workspace: true}
		} else {
			peek, err = p.commit.peek(store.TaskRef{WorkspaceID: d.ws, ID: d.id})
			if err == nil && peek.Workspace {
				p.known.add(d.ws)
			}
		}
		// A message JetStream accepted before its row: the handler does not wait for the row (its
		// claim writes it if the publisher has not yet), unless it asks for its publisher
		// (Job.Publisher), which waits for it then.
		d.rowPending = follows && err == nil && !peek.Found
		if err == nil && !peek.Workspace {
			err = fmt.Errorf("workspace %s: %w", d.ws, store.ErrNotFound)
		}
		claim = peek.Claim(params)
		params.Exists = peek.Found
	}
	d.trace.claimed(claim, lazy, err)
	d.params = params
	if errors.Is(err, store.ErrNotFound) {
		p.reject(ctx, msg, meta, uuid.Nil, events.ReasonUnknownWorkspace, err.Error(), nil)
		return
	}
	if store.IsDataException(err) {
		// A value PostgreSQL cannot hold (a number out of range, a lone surrogate): it will never
		// claim, so it is dead-lettered (without a task row, which could not be written either)
		// rather than retried forever.
		p.reject(ctx, msg, meta, env.WorkspaceID, events.ReasonInvalidEnvelope, "PostgreSQL cannot store this task: "+err.Error(), nil)
		return
	}
	if err != nil {
		d.log.Warn().Err(err).Msg("claim failed; the message will come back")
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if claim.Outcome == store.AtCapacity {
		delay := min(p.cfg.CapacityDelay<<min(meta.NumDelivered-1, 6), 30*time.Second)
		_ = msg.NakWithDelay(delay)
		return
	}
	if claim.Outcome != store.Claimed {
		p.unclaimed(ctx, d, claim, meta)
		return
	}
	d.attempt, d.maxAttempts = claim.Attempt, claim.MaxAttempts
	d.state, d.stateSeq = claim.Checkpoint, claim.CheckpointSeq
	// Appended to logCtx's buffer (past the end of the logger above, which keeps its length), not
	// to a copy: a With per delivery was half a kilobyte.
	d.log = logCtx.Int("attempt", d.attempt).Logger()
	p.execute(d, reg, args, time.Duration(claim.TimeoutMS)*time.Millisecond, meta, release)
}

// rowWait bounds how long a delivery of a message accepted before its row waits for the row.
const rowWait = 2 * time.Second

// heldFor is how long a message may wait in the pool for a slot and still start without reading
// its row: a cancel takes a message back from the stream, not from a pool that holds it.
const heldFor = 100 * time.Millisecond

// workspaceSet remembers workspaces a peek found, so that a new task's first delivery need not
// read the row to know its workspace exists (the engine never deletes a workspace's row).
// Bounded: past max entries it starts again empty.
const knownWorkspaces = 100_000

type workspaceSet struct {
	mu  sync.Mutex
	m   map[uuid.UUID]struct{}
	max int
}

func (s *workspaceSet) has(ws uuid.UUID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[ws]
	return ok
}

func (s *workspaceSet) add(ws uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= s.max {
		s.m = make(map[uuid.UUID]struct{})
	}
	s.m[ws] = struct{}{}
}

// awaitRow peeks again, a little later each time, until the task's row is there: the publisher
// of a message that JetStream accepted first writes the row right after. A claim made at once
// waits for it (it would otherwise insert the row without its publisher), and so does a handler
// that asks for its publisher. After rowWait the message runs as a raw one (its row written by
// the claim): a publisher that died in between, or a header set by hand.
func (p *Pool) awaitRow(d *delivery, peek store.PeekResult, err error) (store.PeekResult, error) {
	deadline := time.Now().Add(rowWait)
	for wait := 500 * time.Microsecond; err == nil && !peek.Found && peek.Workspace && time.Now().Before(deadline); wait = min(2*wait, 100*time.Millisecond) {
		if !p.pause(wait) {
			break
		}
		peek, err = p.commit.peek(store.TaskRef{WorkspaceID: d.ws, ID: d.id})
	}
	return peek, err
}

// publisher is the user who published the task (uuid.Nil: none). A handler that started before
// its row was written waits for the row (rowWait at most): the publisher writes it right after
// JetStream accepted the message.
func (d *delivery) publisher(ctx context.Context) (uuid.UUID, error) {
	d.mu.Lock()
	pending := d.rowPending
	d.mu.Unlock()
	if pending {
		peek, err := d.pool.awaitRow(d, store.PeekResult{Workspace: true}, nil)
		if err != nil {
			return uuid.Nil, err
		}
		d.mu.Lock()
		d.rowPending = !peek.Found
		d.mu.Unlock()
	}
	return d.pool.cfg.DB.TaskPublisher(ctx, d.ws, d.id)
}

// unclaimed settles a delivery whose task it may not run: acked when the task is done or the
// message a duplicate, left alone when a newer delivery of it holds the task, cancelled or
// dead-lettered when the task was cancelled or has used every attempt.
func (p *Pool) unclaimed(ctx context.Context, d *delivery, claim store.ClaimResult, meta *jetstream.MsgMetadata) {
	msg := d.msg
	switch claim.Outcome {
	case store.Finished, store.Duplicate:
		if claim.EndedHere && claim.Status == store.StatusSucceeded && !p.publishSucceeded(d, claim.Attempt, claim.Fence) {
			return
		}
		d.log.Debug().Stringer("outcome", claim.Outcome).Str("status", string(claim.Status)).Msg("already done or a duplicate: acked")
		_ = msg.Ack()
	case store.Stale:
		d.log.Info().Int64("fence", d.fence).Msg("a newer delivery holds the task: this one stops without ack")
	case store.CancelRequested:
		p.settle(ctx, d, store.StatusCancelled, "cancelled before it ran", nil, "task.cancelled")
	case store.Exhausted:
		lastErr := fmt.Sprintf("attempt %d of %d ended without a result (worker lost); last error: %s",
			claim.Attempt, claim.MaxAttempts, claim.LastError)
		p.settle(ctx, d, store.StatusDead, lastErr, &store.DeadLetter{
			Reason: store.ReasonMaxAttempts, Error: lastErr, Kind: d.kind, Subject: msg.Subject(),
			Headers: msg.Headers(), Payload: msg.Data(), StreamSeq: seqPtr(meta),
		}, "task.dead")
	default:
		d.log.Warn().Stringer("outcome", claim.Outcome).Msg("unexpected claim outcome; the message will come back")
		_ = msg.NakWithDelay(time.Second)
	}
}

func (p *Pool) execute(d *delivery, reg *registered, args any, timeout time.Duration, meta *jetstream.MsgMetadata, release func()) {
	jobCtx, cancel := context.WithCancelCause(p.runCtx)
	defer cancel(nil)
	if timeout > 0 {
		var stop context.CancelFunc
		jobCtx, stop = context.WithTimeoutCause(jobCtx, timeout, ErrAttemptTimeout)
		defer stop()
	}
	now := time.Now()
	d.cancelFn, d.lastTouch, d.lastInProgress, d.startedAt = cancel, now, now, now
	d.params.StartedAt = now
	key := taskKey{d.ws, d.id}
	p.mu.Lock()
	p.inflight[key] = d
	p.mu.Unlock()
	d.log.Debug().Msg("running")

	err := runHandler(d.trace.handling(jobCtx), reg, d, args)
	d.trace.handled(err)
	end := time.Now()
	var wait time.Duration
	if meta != nil {
		wait = now.Sub(meta.Timestamp)
	}
	p.minutes.record(end, d.priority, wait, end.Sub(now), err == nil)
	if p.cfg.Observe != nil {
		p.cfg.Observe(HandlerDone{Pool: p.cfg.Name, Stream: p.cfg.Stream, Kind: d.kind, Duration: end.Sub(now), Err: err})
	}
	// The handler is done: its slot goes to the next message while the end is written, bounded
	// by the finishing tokens (2 per slot) so that a slow database holds the pool back.
	p.finishing <- struct{}{}
	defer func() { <-p.finishing }()
	release()

	// A lazy claim under way (the heartbeat's) settles first, and none starts once ended is set:
	// otherwise this end could go as a claim-and-end while that claim commits, and find the task
	// claimed by its own delivery (refused: the message would wait for its redelivery).
	d.claimMu.Lock()
	d.mu.Lock()
	d.ended = true
	phase, result, refusal := d.phase, d.result, d.refusal
	for _, s := range d.secrets {
		s.Wipe()
	}
	d.secrets = nil
	d.mu.Unlock()
	d.claimMu.Unlock()
	p.mu.Lock()
	if p.inflight[key] == d {
		delete(p.inflight, key)
	}
	p.mu.Unlock()
	cause := context.Cause(jobCtx)
	switch {
	case phase == refused:
		// The delivery's first write found it may not run the task after all.
		ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
		defer cancel()
		d.trace.ended(outcomeRefused)
		p.unclaimed(ctx, d, *refusal, meta)
	case phase == fenced:
		d.trace.ended(outcomeFenced)
		d.log.Warn().Msg("fenced: a newer delivery holds the task; stopping without ack")
	case phase == unclaimed && errors.Is(cause, ErrShutdown):
		d.trace.ended(outcomeRequeued)
		_ = d.msg.Nak() // nothing was written: the task is as it was; another worker takes it now
	default:
		p.finish(d, err, cause, result, meta, phase == claimed)
	}
}

func runHandler(ctx context.Context, reg *registered, d jobDelivery, args any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: string(debug.Stack())}
		}
	}()
	return reg.work(ctx, d, args)
}

// finish records how the attempt ended, then acks, naks or terminates the message.
func (p *Pool) finish(d *delivery, err error, cause error, result json.RawMessage, meta *jetstream.MsgMetadata, claimed bool) {
	f := store.Finish{FencedOpts: store.FencedOpts{WorkspaceID: d.ws, ID: d.id, Fence: d.fence}, Worker: p.cfg.WorkerName}
	var (
		panicked  *PanicError
		ack       func() error
		eventType string
	)
	if err != nil && cause != nil && !errors.Is(err, cause) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		err = fmt.Errorf("%w: %w", cause, err) // name why the context ended
	}
	fate, delay := fateOf(err, cause, d.attempt, d.maxAttempts, d.retryPolicy)
	switch fate {
	case FateSucceeded:
		f.Status, f.Result = store.StatusSucceeded, result
		if len(f.Result) == 0 {
			f.Result = json.RawMessage(`null`)
		}
		ack, eventType = d.msg.Ack, "task.succeeded"
	case FateCancelled:
		f.Status, f.Error = store.StatusCancelled, errText(err)
		ack, eventType = d.msg.Ack, "task.cancelled"
	case FateRequeued:
		// Interrupted by a stop: back to the queue at once; the attempt does not count.
		f.Status, f.Error, f.ExtraAttempts = store.StatusRetrying, errText(err), 1
		ack = d.msg.Nak
	case FateSnoozed:
		runAt := time.Now().Add(delay)
		f.Status, f.ExtraAttempts, f.RunAt, f.Detail = store.StatusRetrying, 1, &runAt, map[string]any{"snoozed": delay.String()}
		ack = func() error { return d.msg.NakWithDelay(delay) }
	case FatePermanent:
		f.Status, f.Error = store.StatusDead, errText(err)
		f.DeadLetter = p.deadLetter(d, store.ReasonPermanent, f.Error, meta)
		ack, eventType = func() error { return d.msg.TermWithReason(store.ReasonPermanent) }, "task.dead"
	case FateExhausted:
		f.Status, f.Error = store.StatusDead, errText(err)
		f.DeadLetter = p.deadLetter(d, store.ReasonMaxAttempts, f.Error, meta)
		ack, eventType = func() error { return d.msg.TermWithReason(store.ReasonMaxAttempts) }, "task.dead"
	default: // FateRetried
		runAt := time.Now().Add(delay)
		f.Status, f.Error, f.RunAt = store.StatusRetrying, errText(err), &runAt
		ack, eventType = func() error { return d.msg.NakWithDelay(delay) }, "task.failed"
	}
	if errors.As(err, &panicked) {
		d.log.Error().Str("panic", fmt.Sprint(panicked.Value)).Str("stack", panicked.Stack).Msg("handler panicked")
	}
	// A success's domain event is published once its end is committed, before the message is
	// acked (publishSucceeded); the other ends' go through the outbox with the end.
	if eventType != "" && fate != FateSucceeded {
		f.Outbox = []store.OutboxMessage{domainEvent(d.ws, d.id, d.kind, eventType, d.attempt, f.Error)}
	}
	d.trace.ended(string(f.Status))
	if !claimed && f.DeadLetter == nil && len(f.Outbox) <= 1 {
		// Claim and end in one write.
		res, err := p.writeClaimFinish(d, f)
		if err != nil {
			d.trace.failed(err)
			d.log.Error().Err(err).Str("status", string(f.Status)).Msg("cannot record the end of the attempt; the message will be redelivered")
			return
		}
		if res.Outcome != store.Claimed {
			ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
			defer cancel()
			d.trace.ended(outcomeRefused)
			p.unclaimed(ctx, d, res, meta)
			return
		}
		d.trace.claimWritten(false, true)
		p.acked(d, f, res.Attempt, ack) // the attempt written (d.attempt was the peek's prediction)
		return
	}
	if !claimed {
		// A dead letter goes with a claimed task: claim first.
		res, _, err := d.ensureClaimed(nil, 0, "")
		if err != nil {
			d.trace.failed(err)
			d.log.Error().Err(err).Msg("cannot claim the task to end it; the message will be redelivered")
			return
		}
		if res.Outcome != store.Claimed {
			ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
			defer cancel()
			d.trace.ended(outcomeRefused)
			p.unclaimed(ctx, d, res, meta)
			return
		}
	}
	if err := p.writeFinish(f); err != nil {
		if errors.Is(err, store.ErrFenced) {
			d.trace.ended(outcomeFenced)
			d.log.Warn().Str("status", string(f.Status)).Msg("fenced at completion: a newer delivery holds the task; no ack")
			return
		}
		d.trace.failed(err)
		d.log.Error().Err(err).Str("status", string(f.Status)).Msg("cannot record the end of the attempt; the message will be redelivered")
		return
	}
	p.acked(d, f, d.attempt, ack)
}

// acked settles the message once the end of its attempt is committed (a success's domain event
// published first).
func (p *Pool) acked(d *delivery, f store.Finish, attempt int, ack func() error) {
	if f.Status == store.StatusSucceeded && !p.publishSucceeded(d, attempt, d.fence) {
		return
	}
	if err := ack(); err != nil {
		d.log.Warn().Err(err).Msg("ack failed; the redelivery will find the task finished")
	}
	ev := d.log.Debug() // a success per task is too many lines at thousands a second
	if f.Status != store.StatusSucceeded {
		ev = d.log.Warn().Str("error", f.Error)
	}
	ev.Str("status", string(f.Status)).Msg("attempt ended")
}

// writeClaimFinish claims and ends a delivery that ran without claiming, retrying through a
// passing database outage like writeFinish.
func (p *Pool) writeClaimFinish(d *delivery, f store.Finish) (store.ClaimResult, error) {
	var res store.ClaimResult
	var err error
	for i := 0; i < 5; i++ {
		if res, err = p.commit.claimFinish(store.ClaimFinish{Claim: d.params, Finish: f}); err == nil {
			return res, nil
		}
		if !p.pause(time.Duration(200<<i) * time.Millisecond) {
			break
		}
	}
	return res, err
}

// pause waits d between two tries of a bookkeeping write, unless the pool is stopping hard: then
// it returns false at once, and the message, not acked, comes back (to this or another worker)
// rather than hold the stop for seconds while the database is away.
func (p *Pool) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.runCtx.Done():
		return false
	}
}

// writeFinish records the end of an attempt, retrying a few times through a passing database
// outage: the alternative, a redelivery, would run the handler again.
func (p *Pool) writeFinish(f store.Finish) error {
	var err error
	for i := 0; i < 5; i++ {
		if f.DeadLetter == nil && len(f.Outbox) <= 1 {
			var r store.FinishResult
			if r, err = p.commit.finish(f); err == nil && r.Fenced {
				err = store.ErrFenced
			}
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
			_, err = p.cfg.DB.FinishTask(ctx, f)
			cancel()
		}
		if err == nil || errors.Is(err, store.ErrFenced) {
			return err
		}
		if !p.pause(time.Duration(200<<i) * time.Millisecond) {
			break
		}
	}
	return err
}

func (p *Pool) deadLetter(d *delivery, reason, errText string, meta *jetstream.MsgMetadata) *store.DeadLetter {
	return &store.DeadLetter{Reason: reason, Error: errText, Kind: d.kind, Subject: d.msg.Subject(),
		Headers: d.msg.Headers(), Payload: d.msg.Data(), StreamSeq: seqPtr(meta)}
}

// settle ends a task no delivery runs (cancelled before it ran, out of attempts) and acks.
func (p *Pool) settle(ctx context.Context, d *delivery, status store.Status, errText string, dl *store.DeadLetter, eventType string) {
	out := []store.OutboxMessage{domainEvent(d.ws, d.id, d.kind, eventType, d.attempt, errText)}
	if _, err := p.cfg.DB.SettleTask(ctx, d.ws, d.id, status, errText, p.cfg.WorkerName, nil, dl, out); err != nil {
		d.log.Warn().Err(err).Msg("cannot settle the task; the message will come back")
		_ = d.msg.NakWithDelay(time.Second)
		return
	}
	d.log.Info().Str("status", string(status)).Msg("settled without running")
	if status == store.StatusDead {
		_ = d.msg.TermWithReason(dl.Reason)
		return
	}
	_ = d.msg.Ack()
}

// reject dead-letters a message that cannot become a task: in its workspace when the subject
// names one that exists, else among the unrouted messages. The task it names (if it could be
// read) is settled as dead.
func (p *Pool) reject(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, ws uuid.UUID, reason, errText string, dec *events.DecodedTask) {
	log := p.log.With().Str("subject", msg.Subject()).Str("reason", reason).Logger()
	dl := store.DeadLetter{WorkspaceID: ws, Reason: reason, Error: truncate(errText), Subject: msg.Subject(),
		Headers: msg.Headers(), Payload: msg.Data(), StreamSeq: seqPtr(meta)}
	var settle *store.NewTask
	var out []store.OutboxMessage
	if dec != nil {
		t := envelopeTask(&dec.Envelope, dec.Generation)
		settle, dl.TaskID, dl.Kind = &t, &t.ID, t.Kind
		out = []store.OutboxMessage{domainEvent(ws, t.ID, t.Kind, "task.dead", 0, dl.Error)}
	}
	unrouted := func(reason string) error {
		return p.cfg.DB.InsertUnrouted(ctx, store.UnroutedMessage{Reason: reason, Error: dl.Error, Subject: dl.Subject,
			Headers: dl.Headers, Payload: dl.Payload, StreamSeq: dl.StreamSeq})
	}
	var err error
	if ws == uuid.Nil {
		err = unrouted(reason)
	} else if err = p.cfg.DB.DeadLetterMessage(ctx, dl, settle, p.cfg.WorkerName, out); errors.Is(err, store.ErrNotFound) {
		reason = events.ReasonUnknownWorkspace
		err = unrouted(reason)
	}
	if err != nil {
		log.Warn().Err(err).Msg("cannot record the dead letter; the message will come back")
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	log.Warn().Str("error", dl.Error).Msg("message dead-lettered")
	_ = msg.TermWithReason(reason)
}

// scheduleLater parks a task whose run_at is ahead (it came as a raw message): its row says
// scheduled, and a schedule message will bring it back at run_at.
func (p *Pool) scheduleLater(ctx context.Context, msg jetstream.Msg, dec *events.DecodedTask) {
	env := dec.Envelope
	if err := p.cfg.DB.ScheduleTask(ctx, envelopeTask(&env, dec.Generation), TaskMessage(&env, dec.Generation)); err != nil {
		p.log.Warn().Err(err).Str("task_id", env.ID.String()).Msg("cannot schedule; the message will come back")
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// publishSucceeded publishes the task.succeeded event of the attempt whose end the delivery d
// committed (or, on a redelivery of the message that ended it, found committed: EndedHere), with
// the Nats-Msg-Id of that attempt's end, so that JetStream keeps one however often it is sent
// within its duplicate window. It is sent after the commit and before the ack, rather than
// through an outbox row with the end (a row to insert, read, delete and notify per batch: about
// a sixth of PostgreSQL's time per short task): a process lost in between leaves the message
// unacked, and its redelivery sends the event again. When JetStream does not take it, it goes
// through the outbox after all; when neither can take it, the message is not acked (false): its
// redelivery tries again.
func (p *Pool) publishSucceeded(d *delivery, attempt int, fence int64) bool {
	ev := store.SucceededEvent(d.ws, d.id, d.kind, attempt, fence)
	err := publishAcked(p.cfg.JS, &nats.Msg{Subject: ev.Subject, Data: ev.Payload, Header: nats.Header{nats.MsgIdHdr: {ev.MsgID}}}, eventPublishWait)
	if err == nil {
		return true
	}
	d.log.Warn().Err(err).Msg("cannot publish task.succeeded; it goes through the outbox")
	ctx, cancel := context.WithTimeout(context.Background(), bookkeeping)
	defer cancel()
	if err = p.cfg.DB.QueueOutbox(ctx, ev); err == nil {
		return true
	}
	d.log.Error().Err(err).Msg("cannot queue task.succeeded either; the message is not acked, its redelivery sends it")
	return false
}

// publishAcked publishes msg and waits up to wait for JetStream's acknowledgement: one message,
// one timer (outbox.PublishMessages, for any number of rows, costs a delivery a context, a map
// and a second timer more).
func publishAcked(js jetstream.JetStream, msg *nats.Msg, wait time.Duration) error {
	f, err := js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	case <-t.C:
		return fmt.Errorf("publish %s: no acknowledgement within %s", msg.Subject, wait)
	}
}

// eventPublishWait bounds the wait for JetStream's acknowledgement of a success's event: past it
// (NATS away, an EVENTS leader being elected) the event takes the outbox, rather than hold the
// delivery's slot while its ack wait runs out.
const eventPublishWait = 3 * time.Second

// domainEvent is a task's domain event (events.DomainEvent), to go out through the outbox.
func domainEvent(ws, task uuid.UUID, kind, typ string, attempt int, errText string) store.OutboxMessage {
	ev := events.DomainEvent{ID: store.NewID(), Type: typ, WorkspaceID: ws, TaskID: task, Kind: kind, Attempt: attempt,
		Error: errText, At: time.Now().UTC()}
	payload, _ := json.Marshal(ev)
	return store.OutboxMessage{WorkspaceID: ws, MsgID: ev.ID.String(), Subject: events.EventSubject(ws, typ), Payload: payload}
}

func (d *delivery) isClaimed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.phase == claimed
}

// ensureClaimed claims the task if this delivery has not yet, with state as its first checkpoint
// when given. wrote says whether this call made the claim (and wrote the state). A refused claim
// is kept in d.refusal and stops the handler: cancelled with ErrCancelled when the task was
// cancelled, else with ErrFenced.
func (d *delivery) ensureClaimed(state json.RawMessage, progress float32, message string) (res store.ClaimResult, wrote bool, err error) {
	return d.claimLazily(state, progress, message, false)
}

// heartbeatClaim claims a delivery that has run for a heartbeat without writing, so that its task
// shows running and its lease counts; unless its handler has returned meanwhile: its end claims
// and ends the task in one write.
func (d *delivery) heartbeatClaim() { _, _, _ = d.claimLazily(nil, 0, "", true) }

func (d *delivery) claimLazily(state json.RawMessage, progress float32, message string, unlessEnded bool) (res store.ClaimResult, wrote bool, err error) {
	d.claimMu.Lock()
	defer d.claimMu.Unlock()
	d.mu.Lock()
	phase, refusal, ended := d.phase, d.refusal, d.ended
	d.mu.Unlock()
	if phase == claimed {
		return store.ClaimResult{Outcome: store.Claimed}, false, nil
	}
	if ended && unlessEnded {
		return res, false, nil // the heartbeat's call, which reads no result: the end claims
	}
	if refusal != nil {
		return *refusal, false, nil
	}
	p := d.params
	p.State, p.Progress, p.Message = state, progress, message
	res, err = d.pool.commit.claim(p)
	if err != nil {
		return res, false, err
	}
	d.mu.Lock()
	if res.Outcome == store.Claimed {
		d.setPhase(claimed)
		if state != nil {
			d.state, d.stateSeq = state, res.CheckpointSeq
		}
		d.mu.Unlock()
		d.trace.claimWritten(unlessEnded, ended)
		return res, true, nil
	}
	if d.setPhase(refused) {
		d.refusal = &res
	}
	d.mu.Unlock()
	if res.Outcome == store.CancelRequested {
		d.cancel(ErrCancelled)
	} else {
		d.cancel(ErrFenced)
	}
	return res, true, nil
}

func (d *delivery) cancel(cause error) {
	d.mu.Lock()
	ended := d.ended
	d.mu.Unlock()
	if !ended && d.cancelFn != nil {
		d.cancelFn(cause)
	}
}

// fence0 marks the delivery fenced: it must stop and must not ack.
func (d *delivery) fence0() {
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return
	}
	d.setPhase(fenced)
	d.mu.Unlock()
	d.cancel(ErrFenced)
}

func (d *delivery) lastProgress() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastTouch
}

// touch records progress and sends InProgress when one is due.
func (d *delivery) touch() {
	now := time.Now()
	d.mu.Lock()
	d.lastTouch = now
	d.mu.Unlock()
	d.inProgress(now, false)
}

// inProgress tells JetStream the delivery is alive, at most once per heartbeat interval (or at
// every heartbeat when force is set).
func (d *delivery) inProgress(now time.Time, force bool) {
	d.mu.Lock()
	due := force || now.Sub(d.lastInProgress) >= d.pool.beat
	if due {
		d.lastInProgress = now
	}
	d.mu.Unlock()
	if due {
		_ = d.msg.InProgress()
	}
}

func (d *delivery) leaseRow() store.Lease {
	d.mu.Lock()
	defer d.mu.Unlock()
	return store.Lease{ID: d.id, Fence: d.fence, Progress: d.progress, Message: d.progressMsg}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return truncate(err.Error())
}

func truncate(s string) string { return clip.Mark(s, maxErrorText) }

func seqPtr(meta *jetstream.MsgMetadata) *int64 {
	if meta == nil {
		return nil
	}
	s := int64(meta.Sequence.Stream)
	return &s
}
