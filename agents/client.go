package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

// TaskSpec is a task to publish. Only WorkspaceID and Kind are required.
type TaskSpec struct {
	WorkspaceID uuid.UUID
	Kind        string
	// Priority: 1 (most urgent) … 10. Default 5.
	Priority int
	// Args: any JSON-marshalable value; json.RawMessage and []byte pass as they are. Default {}.
	// At most 256 KiB as JSON.
	Args any
	// Credentials names the credentials the task may open at execution time.
	Credentials []string
	// MaxAttempts: 1…1000. Default: the kind's (25).
	MaxAttempts int
	// Timeout bounds one attempt (0: none beyond the progress timeout).
	Timeout time.Duration
	// RunAt or Delay (not both) defer the task. A time in the past runs at once.
	RunAt time.Time
	Delay time.Duration
	// IdempotencyKey: publishing the same key in a workspace again gives the same task.
	IdempotencyKey string
	Metadata       map[string]string
	// TraceParent is the publisher's W3C trace context ("00-<trace id>-<span id>-<flags>"): it
	// travels in the message's traceparent header to the handler (JobInfo.TraceParent) and stays
	// with the task (metadata "traceparent") for its retries and replays.
	TraceParent string
	// PublishedBy is the publishing user (the API sets the API key's): the task may open that
	// user's USER credentials.
	PublishedBy uuid.UUID
}

// Published says what a publish did.
type Published struct {
	ID uuid.UUID
	// Duplicate: a task with this id or idempotency key existed; nothing new was queued.
	Duplicate bool
	// Status: queued or scheduled (of the new task), or the existing task's status.
	Status store.Status
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// DB is required: a publish is a PostgreSQL transaction (task row + outbox message); the outbox
	// relay (outbox.Relay, run by every worker process) puts it on JetStream after the commit.
	DB *store.DB
	// Registry, when set, checks kinds and args at publish time.
	Registry *Registry
	// AllowUnknownKinds publishes kinds the registry does not know (another service runs them).
	AllowUnknownKinds bool
	// JS, when set, makes JetStream the point of acceptance of a plain task (no idempotency key,
	// no run_at, no credentials): Publish and PublishMany put its message on the stream first,
	// then write its row (no outbox row), and return once both are done, so that a worker starts it
	// while its row commits. The other tasks are written first, with an outbox row, and sent right
	// after the commit; the relay publishes what could not be sent (after DirectHeadStart).
	// PublishTx always leaves its messages to the relay (only the caller knows when it commits).
	JS jetstream.JetStream
	// TracerProvider, when set, traces each publish: a span mosaic.publish (producer kind), a child
	// of the spec's TraceParent (or metadata traceparent) when it has one, else of ctx's span;
	// its context becomes the task's traceparent, which the worker's spans continue. nil: no
	// spans, at no cost (the spec's own TraceParent travels as before).
	TracerProvider trace.TracerProvider
}

// DirectHeadStart is how long the relay leaves a directly published task message to Publish.
const DirectHeadStart = 2 * time.Second

// Client publishes tasks. Close it when done.
type Client struct {
	cfg      ClientConfig
	tracer   trace.Tracer // nil: no tracing
	queue    chan *pubReq
	accepted chan acceptedBatch // batches whose messages JetStream has, for the commit stage
	sent     chan sentRow
	stop     chan struct{}
	loops    sync.WaitGroup
	stopOnce sync.Once
	closing  sync.RWMutex // Close holds it to close stop; a publish holds it to queue (enqueue)
}

type sentRow struct {
	ws uuid.UUID
	id int64
}

// NewClient builds a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.DB == nil {
		return nil, errors.New("agents: ClientConfig.DB is required")
	}
	c := &Client{cfg: cfg, queue: make(chan *pubReq, 4096), accepted: make(chan acceptedBatch, publishLoops),
		sent: make(chan sentRow, 4096), stop: make(chan struct{})}
	if cfg.TracerProvider != nil {
		c.tracer = cfg.TracerProvider.Tracer(TracerName)
	}
	var accepting sync.WaitGroup
	for range publishLoops {
		accepting.Add(1)
		c.loops.Add(2)
		go func() { defer accepting.Done(); c.acceptLoop() }()
		go c.commitLoop()
	}
	c.loops.Add(1)
	go func() {
		defer c.loops.Done()
		accepting.Wait()
		close(c.accepted) // the commit stage drains what was accepted, then ends
	}()
	if cfg.JS != nil {
		c.loops.Add(1)
		go c.cleanup()
	}
	return c, nil
}

// Close stops the client: publishes under way finish; the outbox rows of what it sent are
// removed (those it cannot remove, the relay finds sent already: JetStream drops the copy).
func (c *Client) Close() {
	c.stopOnce.Do(func() {
		c.closing.Lock() // no publish is between its check and its queueing now
		close(c.stop)
		c.closing.Unlock()
	})
	c.loops.Wait()
}

// cleanup removes the outbox rows of directly sent messages, many per statement, off the
// publisher's path.
func (c *Client) cleanup() {
	defer c.loops.Done()
	pending := map[uuid.UUID][]int64{}
	flush := func() {
		for ws, ids := range pending {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.cfg.DB.DeleteOutbox(ctx, ws, ids)
			cancel()
			delete(pending, ws)
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-c.sent:
			pending[r.ws] = append(pending[r.ws], r.id)
			if len(pending[r.ws]) >= 1000 {
				flush()
			}
		case <-tick.C:
			flush()
		case <-c.stop:
			for {
				select {
				case r := <-c.sent:
					pending[r.ws] = append(pending[r.ws], r.id)
				default:
					flush()
					return
				}
			}
		}
	}
}

// Publish queues a task. Concurrent Publish calls commit together (group commit): each returns
// once its task is committed. The wait is not cut short by ctx once the task is queued.
func (c *Client) Publish(ctx context.Context, spec TaskSpec) (Published, error) {
	if c.tracer != nil {
		span := c.startPublish(ctx, &spec)
		out, err := c.publish(ctx, spec)
		endPublish(span, out, err)
		return out, err
	}
	return c.publish(ctx, spec)
}

func (c *Client) publish(ctx context.Context, spec TaskSpec) (Published, error) {
	p, err := c.prepare(spec, time.Now())
	if err != nil {
		return Published{}, err
	}
	req := &pubReq{p: p, done: make(chan pubResult, 1)}
	if err := c.enqueue(ctx, req); err != nil {
		return Published{}, err
	}
	r := <-req.done
	return r.out, r.err
}

// enqueue hands req to the accept stage, unless the client is closed: a request queued after the
// accept loops drained the queue and ended would wait for ever. Close closes stop under the
// closing lock, so a request queued under its read lock is queued before stop closes, and the
// loops, which drain the queue once stop is closed, answer it.
func (c *Client) enqueue(ctx context.Context, req *pubReq) error {
	c.closing.RLock()
	defer c.closing.RUnlock()
	select {
	case <-c.stop:
		return ErrClientClosed
	default:
	}
	select {
	case c.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type pubReq struct {
	p    preparedTask
	done chan pubResult
}

type pubResult struct {
	out Published
	err error
}

// acceptedBatch is a batch of single publishes whose direct messages JetStream has accepted (or
// not: those take the outbox path), waiting for their rows' commit.
type acceptedBatch struct {
	batch    []*pubReq
	prepared []preparedTask
}

// acceptLoop is the first stage of the single publishes' group commit: it takes those waiting at
// that moment and puts their messages on the stream, then hands the batch to the commit stage
// and takes the next. The commit of one batch and the sending of the next overlap, so that a
// message reaches the workers without waiting for an earlier batch's commit.
func (c *Client) acceptLoop() {
	defer c.loops.Done()
	for {
		var batch []*pubReq
		select {
		case r := <-c.queue:
			batch = append(batch, r)
		case <-c.stop:
			// Closing: whatever is queued still commits.
			select {
			case r := <-c.queue:
				batch = append(batch, r)
			default:
				return
			}
		}
	gather:
		for len(batch) < publishChunk {
			select {
			case r := <-c.queue:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		prepared := make([]preparedTask, len(batch))
		for i, r := range batch {
			prepared[i] = r.p
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c.accept(ctx, prepared)
		cancel()
		c.accepted <- acceptedBatch{batch: batch, prepared: prepared}
	}
}

// commitLoop is the second stage: it commits an accepted batch's rows, one transaction per
// workspace among them, and answers each caller once its task is committed. A group that fails
// is retried task by task, so one bad spec fails alone.
func (c *Client) commitLoop() {
	defer c.loops.Done()
	for b := range c.accepted {
		batch, prepared := b.batch, b.prepared
		// The batches accepted meanwhile commit with it: fewer, larger transactions.
	merge:
		for len(batch) < publishChunk {
			select {
			case more, ok := <-c.accepted:
				if !ok {
					break merge
				}
				batch, prepared = append(batch, more.batch...), append(prepared, more.prepared...)
			default:
				break merge
			}
		}
		byWS := map[uuid.UUID][]int{}
		for i, p := range prepared {
			byWS[p.task.WorkspaceID] = append(byWS[p.task.WorkspaceID], i)
		}
		out := make([]Published, len(batch))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// Each caller is answered once its task is committed; the messages leave right after
		// (their outbox rows are the safety net), so that a caller never waits for another's send.
		sends := map[uuid.UUID][]store.OutboxRow{}
		for ws, idx := range byWS {
			sent, err := c.commitGroup(ctx, ws, prepared, idx, out)
			if err != nil { // one bad spec spoils the group: each on its own, so only it fails
				for _, i := range idx {
					one, err := c.commitGroup(ctx, ws, prepared, []int{i}, out)
					if err != nil {
						c.withdraw(ctx, prepared[i])
					}
					batch[i].done <- pubResult{out[i], err}
					sent = append(sent, one...)
				}
			} else {
				for _, i := range idx {
					batch[i].done <- pubResult{out[i], nil}
				}
			}
			sends[ws] = sent
		}
		for ws, rows := range sends {
			c.sendNow(ctx, ws, rows)
		}
		cancel()
	}
}

// PublishMany queues many tasks, a transaction per workspace and per 1 000 tasks, each a single
// statement. A spec that fails validation fails the call before anything is written.
func (c *Client) PublishMany(ctx context.Context, specs []TaskSpec) ([]Published, error) {
	if c.tracer != nil {
		specs = slices.Clone(specs) // each gets its publish span's traceparent
		spans := make([]trace.Span, len(specs))
		for i := range specs {
			spans[i] = c.startPublish(ctx, &specs[i])
		}
		out, err := c.publishMany(ctx, specs)
		for i, span := range spans {
			var o Published
			if err == nil {
				o = out[i]
			}
			endPublish(span, o, err)
		}
		return out, err
	}
	return c.publishMany(ctx, specs)
}

func (c *Client) publishMany(ctx context.Context, specs []TaskSpec) ([]Published, error) {
	now := time.Now()
	prepared := make([]preparedTask, len(specs))
	byWS := map[uuid.UUID][]int{}
	var order []uuid.UUID
	for i, spec := range specs {
		p, err := c.prepare(spec, now)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", i, err)
		}
		prepared[i] = p
		if _, seen := byWS[spec.WorkspaceID]; !seen {
			order = append(order, spec.WorkspaceID)
		}
		byWS[spec.WorkspaceID] = append(byWS[spec.WorkspaceID], i)
	}
	out := make([]Published, len(specs))
	for _, ws := range order {
		idx := byWS[ws]
		for start := 0; start < len(idx); start += publishChunk {
			part := idx[start:min(start+publishChunk, len(idx))]
			c.accept(ctx, prepared, part...)
			sent, err := c.commitGroup(ctx, ws, prepared, part, out)
			if err != nil {
				for _, i := range part {
					c.withdraw(ctx, prepared[i])
				}
				return nil, err
			}
			c.sendNow(ctx, ws, sent)
		}
	}
	return out, nil
}

// commitGroup commits tasks of one workspace in one transaction and returns the outbox rows of
// those it inserted, for the caller to send (sendNow) once it has answered.
func (c *Client) commitGroup(ctx context.Context, ws uuid.UUID, prepared []preparedTask, idx []int, out []Published) ([]store.OutboxRow, error) {
	headStart := time.Duration(0)
	if c.cfg.JS != nil {
		headStart = DirectHeadStart
	}
	tasks, msgs := chunk(prepared, idx)
	outboxIDs, err := c.cfg.DB.PublishTasks(ctx, ws, tasks, msgs, headStart)
	var sent []store.OutboxRow
	if err == nil {
		sent, err = c.published(ctx, tasks, msgs, outboxIDs, idx, out, func(fn func(tx pgx.Tx) error) error {
			return c.cfg.DB.InWorkspace(ctx, ws, fn)
		})
	}
	if store.IsForeignKeyViolation(err) {
		return nil, fmt.Errorf("%w: workspace %s does not exist", ErrInvalidSpec, ws)
	}
	if store.IsDataException(err) { // a value of the task PostgreSQL cannot hold
		return nil, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	return sent, err
}

const publishChunk = 1000

// publishLoops is how many batches of single publishes may be sent to JetStream at once, and how
// many committed at once.
const publishLoops = 2

// PublishTx queues a task in the caller's transaction, which must be in the task's workspace
// (store.DB.InWorkspace): the task exists, and its message leaves, only if the transaction
// commits.
func (c *Client) PublishTx(ctx context.Context, tx pgx.Tx, spec TaskSpec) (Published, error) {
	if c.tracer != nil {
		span := c.startPublish(ctx, &spec)
		out, err := c.publishTx(ctx, tx, spec)
		endPublish(span, out, err)
		return out, err
	}
	return c.publishTx(ctx, tx, spec)
}

func (c *Client) publishTx(ctx context.Context, tx pgx.Tx, spec TaskSpec) (Published, error) {
	p, err := c.prepare(spec, time.Now())
	if err != nil {
		return Published{}, err
	}
	out := make([]Published, 1)
	_, err = c.publishChunk(ctx, tx, []preparedTask{p}, []int{0}, out, 0)
	return out[0], err
}

type preparedTask struct {
	task   store.NewTask
	outbox store.OutboxMessage
	// seq is the TASKS stream sequence of its message once JetStream accepted it (accept), 0
	// before.
	seq uint64
}

// direct says whether JetStream may accept the task's message before its row exists: nothing
// about it needs the row before it runs (an idempotency key is checked against the rows, a
// delayed task waits as a row, credentials resolve through the row's publisher).
func (p *preparedTask) direct() bool {
	t := p.task
	return t.IdempotencyKey == "" && t.RunAt == nil && len(t.Credentials) == 0 && t.Generation == 0
}

// accept puts the messages of the direct tasks among prepared (all, or those at idx) on the
// stream and waits for JetStream's acknowledgements: those accepted get their sequence (seq), and
// their rows need no outbox row. A message JetStream did not accept takes the outbox path.
func (c *Client) accept(ctx context.Context, prepared []preparedTask, idx ...int) {
	if c.cfg.JS == nil {
		return
	}
	if idx == nil {
		idx = make([]int, len(prepared))
		for i := range idx {
			idx[i] = i
		}
	}
	var rows []store.OutboxRow
	var at []int
	for _, i := range idx {
		if p := &prepared[i]; p.direct() && p.seq == 0 {
			m := p.outbox
			m.Headers = maps.Clone(m.Headers)
			if m.Headers == nil {
				m.Headers = map[string][]string{}
			}
			m.Headers[events.HeaderRowFollows] = []string{"1"}
			rows = append(rows, store.OutboxRow{ID: int64(len(rows)), MsgID: m.MsgID, Subject: m.Subject, Headers: m.Headers, Payload: m.Payload})
			at = append(at, i)
		}
	}
	if len(rows) == 0 {
		return
	}
	acks, _ := outbox.PublishMessages(ctx, c.cfg.JS, rows) // what failed goes through the outbox
	if acks == nil {
		return // ctx ended before the acknowledgements: these take the outbox path too
	}
	for j, i := range at {
		prepared[i].seq = acks[j]
	}
}

// withdraw takes back from the stream the message of a task whose row could not be written, so
// that a publish that fails leaves nothing to run. Best effort: should it fail too, the task
// runs (its delivery writes the row), as it would have had the publish's answer been lost.
func (c *Client) withdraw(ctx context.Context, p preparedTask) {
	if p.seq != 0 {
		_ = withdrawMessage(ctx, c.cfg.JS, p.task.Kind, p.seq)
	}
}

// withdrawMessage deletes a task's message (stream sequence seq) from its kind's stream. A
// message gone already (acknowledged, or taken back before) is no error.
func withdrawMessage(ctx context.Context, js jetstream.JetStream, kind string, seq uint64) error {
	s, err := js.Stream(ctx, events.StreamFor(kind))
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}

func chunk(prepared []preparedTask, idx []int) ([]store.NewTask, []store.OutboxMessage) {
	tasks := make([]store.NewTask, len(idx))
	msgs := make([]store.OutboxMessage, len(idx))
	for j, i := range idx {
		tasks[j], msgs[j] = prepared[i].task, prepared[i].outbox
		if prepared[i].seq != 0 {
			msgs[j].Subject = ""              // on the stream already: no outbox row
			tasks[j].MsgSeq = prepared[i].seq // for a cancel to take it back
		}
	}
	return tasks, msgs
}

// publishChunk inserts tasks in tx and returns the outbox rows of those it inserted.
func (c *Client) publishChunk(ctx context.Context, tx pgx.Tx, prepared []preparedTask, idx []int, out []Published, headStart time.Duration) ([]store.OutboxRow, error) {
	tasks, msgs := chunk(prepared, idx)
	outboxIDs, err := store.InsertTasks(ctx, tx, tasks, msgs, headStart)
	if err != nil {
		return nil, err
	}
	return c.published(ctx, tasks, msgs, outboxIDs, idx, out, func(fn func(pgx.Tx) error) error { return fn(tx) })
}

// published fills out from what an insert did, and returns the outbox rows of the tasks it
// inserted; a duplicate (an existing id or idempotency key) is looked up through lookup.
func (c *Client) published(ctx context.Context, tasks []store.NewTask, msgs []store.OutboxMessage, outboxIDs []int64, idx []int,
	out []Published, lookup func(func(pgx.Tx) error) error) ([]store.OutboxRow, error) {
	var sent []store.OutboxRow
	for j, i := range idx {
		t := tasks[j]
		switch outboxIDs[j] {
		case store.Accepted:
			out[i] = Published{ID: t.ID, Status: t.Status}
			continue
		case 0:
		default:
			out[i] = Published{ID: t.ID, Status: t.Status}
			m := msgs[j]
			sent = append(sent, store.OutboxRow{ID: outboxIDs[j], MsgID: m.MsgID, Subject: m.Subject, Headers: m.Headers, Payload: m.Payload})
			continue
		}
		// A duplicate: the task with this id, or the one holding the idempotency key.
		var id uuid.UUID
		var status store.Status
		accepted := msgs[j].Subject == "" // its message was on the stream before its row
		err := lookup(func(tx pgx.Tx) error {
			var err error
			id, status, err = store.FindTask(ctx, tx, t.WorkspaceID, t.ID, t.IdempotencyKey)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("look up the existing task %s: %w", t.ID, err)
		}
		// A task whose message was on the stream before its row is no duplicate when its row
		// exists: the delivery that ran it wrote the row first.
		out[i] = Published{ID: id, Duplicate: !accepted, Status: status}
	}
	return sent, nil
}

// Validate checks a spec without publishing it.
func (c *Client) Validate(spec TaskSpec) error {
	_, err := c.prepare(spec, time.Now())
	return err
}

func (c *Client) prepare(spec TaskSpec, now time.Time) (preparedTask, error) {
	if spec.WorkspaceID == uuid.Nil {
		return preparedTask{}, fmt.Errorf("%w: workspace is required", ErrInvalidSpec)
	}
	if err := events.ValidateKind(spec.Kind); err != nil {
		return preparedTask{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if spec.Delay < 0 || spec.Delay > events.MaxDelay {
		return preparedTask{}, fmt.Errorf("%w: delay %s is negative or more than %s", ErrInvalidSpec, spec.Delay, events.MaxDelay)
	}
	if spec.Delay > 0 && !spec.RunAt.IsZero() {
		return preparedTask{}, fmt.Errorf("%w: give run_at or delay, not both", ErrInvalidSpec)
	}
	if spec.Timeout < 0 {
		return preparedTask{}, fmt.Errorf("%w: timeout %s is negative", ErrInvalidSpec, spec.Timeout)
	}
	var args json.RawMessage
	switch a := spec.Args.(type) {
	case nil:
		args = json.RawMessage(`{}`)
	case json.RawMessage:
		args = a
	case []byte:
		args = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return preparedTask{}, fmt.Errorf("%w: args: %v", ErrInvalidArgs, err)
		}
		args = b
	}
	if len(args) > events.MaxArgsBytes {
		return preparedTask{}, fmt.Errorf("%w: args are %d bytes; the limit is %d", ErrInvalidSpec, len(args), events.MaxArgsBytes)
	}
	if !json.Valid(args) {
		return preparedTask{}, fmt.Errorf("%w: args are not valid JSON", ErrInvalidArgs)
	}
	if c.cfg.Registry != nil && (!c.cfg.AllowUnknownKinds || c.cfg.Registry.Has(spec.Kind)) {
		if err := c.cfg.Registry.ValidateArgs(spec.Kind, args); err != nil {
			return preparedTask{}, err
		}
	}
	maxAttempts := spec.MaxAttempts
	if maxAttempts == 0 && c.cfg.Registry != nil {
		maxAttempts = c.cfg.Registry.MaxAttempts(spec.Kind)
	}
	meta := spec.Metadata
	if spec.TraceParent != "" {
		if !events.ValidTraceParent(spec.TraceParent) {
			return preparedTask{}, fmt.Errorf("%w: trace parent %q is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)", ErrInvalidSpec, spec.TraceParent)
		}
		meta = maps.Clone(meta)
		if meta == nil {
			meta = map[string]string{}
		}
		meta[events.MetadataTraceParent] = spec.TraceParent
	}
	if tp, ok := meta[events.MetadataTraceParent]; ok && !events.ValidTraceParent(tp) {
		return preparedTask{}, fmt.Errorf("%w: metadata %q: %q is not a W3C traceparent", ErrInvalidSpec, events.MetadataTraceParent, tp)
	}
	env := events.TaskEnvelope{
		Version: events.EnvelopeVersion, WorkspaceID: spec.WorkspaceID, Kind: spec.Kind, Priority: spec.Priority,
		Args: args, Credentials: spec.Credentials, MaxAttempts: maxAttempts, TimeoutMS: spec.Timeout.Milliseconds(),
		IdempotencyKey: spec.IdempotencyKey, Metadata: meta,
	}
	runAt := spec.RunAt
	if spec.Delay > 0 {
		runAt = now.Add(spec.Delay)
	}
	scheduled := !runAt.IsZero() && runAt.After(now.Add(time.Second))
	if scheduled {
		env.RunAt = &runAt
	}
	env.Normalize()
	if err := env.Validate(); err != nil {
		var e *events.EnvelopeError
		if errors.As(err, &e) && e.Reason == events.ReasonInvalidArgs {
			return preparedTask{}, fmt.Errorf("%w: %v", ErrInvalidArgs, err)
		}
		return preparedTask{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if env.IdempotencyKey != "" {
		env.ID = events.IDForIdempotencyKey(env.WorkspaceID, env.IdempotencyKey)
	} else {
		env.ID = store.NewID()
	}
	t := envelopeTask(&env, 0)
	t.PublishedBy = spec.PublishedBy
	t.CreatedAt = now
	return preparedTask{task: t, outbox: TaskMessage(&env, 0)}, nil
}

// envelopeTask is the row of a task as its envelope describes it.
func envelopeTask(env *events.TaskEnvelope, generation int) store.NewTask {
	status := store.StatusQueued
	if env.RunAt != nil {
		status = store.StatusScheduled
	}
	return store.NewTask{
		WorkspaceID: env.WorkspaceID, ID: env.ID, Kind: env.Kind, Priority: env.Priority, Status: status,
		Args: env.Args, Credentials: env.Credentials, Metadata: env.Metadata, MaxAttempts: env.MaxAttempts,
		TimeoutMS: env.TimeoutMS, RunAt: env.RunAt, IdempotencyKey: env.IdempotencyKey, Generation: generation,
	}
}

// TaskMessage is the outbox message that carries a task: on its subject, or, when it runs later,
// as a schedule message that the server delivers to that subject at run_at.
func TaskMessage(env *events.TaskEnvelope, generation int) store.OutboxMessage {
	payload, _ := env.Encode() // an envelope of validated fields always marshals
	m := store.OutboxMessage{
		WorkspaceID: env.WorkspaceID,
		MsgID:       events.MsgID(env.WorkspaceID, env.ID, generation),
		Subject:     events.SubjectFor(env.Priority, env.WorkspaceID, env.Kind),
		Headers:     map[string][]string{},
		Payload:     payload,
	}
	if generation > 0 {
		m.Headers[events.HeaderGeneration] = []string{strconv.Itoa(generation)}
	}
	if tp := env.Metadata[events.MetadataTraceParent]; events.ValidTraceParent(tp) {
		m.Headers[events.HeaderTraceParent] = []string{tp}
	}
	if env.RunAt != nil && env.RunAt.After(time.Now().Add(time.Second)) {
		m.Headers[events.HeaderSchedule] = []string{events.ScheduleAt(*env.RunAt)}
		m.Headers[events.HeaderScheduleTarget] = []string{m.Subject}
		m.Subject = events.DelayedSubject(env.Kind, env.WorkspaceID, env.ID)
		m.MsgID = "schedule:" + m.MsgID
	}
	return m
}

// TaskEnvelopeOf rebuilds the envelope of a stored task (for replays).
func TaskEnvelopeOf(t store.Task) events.TaskEnvelope {
	env := events.TaskEnvelope{
		Version: events.EnvelopeVersion, ID: t.ID, WorkspaceID: t.WorkspaceID, Kind: t.Kind, Priority: t.Priority,
		Args: t.Args, Credentials: t.Credentials, MaxAttempts: t.MaxAttempts, TimeoutMS: t.TimeoutMS,
		Metadata: t.Metadata,
	}
	if t.IdempotencyKey != nil {
		env.IdempotencyKey = *t.IdempotencyKey
	}
	if len(env.Metadata) == 0 {
		env.Metadata = nil
	}
	if len(env.Credentials) == 0 {
		env.Credentials = nil
	}
	return env
}

// Cancel cancels a task: one that has not started is cancelled at once, its message taken back
// from the stream (through the client's JetStream, else nc's); a running one is asked to stop (its
// handler's context is cancelled with ErrCancelled, through a control message on nc and, should
// that be missed, at the worker's next heartbeat). nc may be nil (heartbeat only). Without
// either, a new task's message stays on the stream, and its first delivery, which does not read
// the row, may start the handler before its end finds the task cancelled.
func (c *Client) Cancel(ctx context.Context, nc *nats.Conn, ws, id uuid.UUID, by string) (store.CancelResult, error) {
	js := c.cfg.JS
	if js == nil && nc != nil {
		js, _ = jetstream.New(nc)
	}
	var withdraw func(string, uint64) error
	if js != nil {
		withdraw = func(kind string, seq uint64) error { return withdrawMessage(ctx, js, kind, seq) }
	}
	res, err := c.cfg.DB.RequestCancel(ctx, ws, id, by, func(kind string, attempt int) []store.OutboxMessage {
		return []store.OutboxMessage{domainEvent(ws, id, kind, "task.cancelled", attempt, "cancelled by "+by)}
	}, withdraw)
	if err != nil {
		return res, err
	}
	if nc != nil {
		// Also when the row said queued: a worker may be running the task before its first
		// write (it claims lazily).
		_ = nc.Publish(events.CancelSubject(ws, id), nil)
	}
	return res, nil
}

// Replay re-queues a dead letter: a task it names goes back to queued as a new generation (its
// fencing tokens start above every earlier delivery's) with a fresh attempt budget, keeping its
// last checkpoint unless fresh; a message that never became a task is published again as it came.
// The message leaves through the outbox, with the replay's commit.
func Replay(ctx context.Context, db *store.DB, ws, deadLetter uuid.UUID, fresh bool, by string) (store.Replay, error) {
	return db.ReplayDeadLetter(ctx, ws, deadLetter, fresh, by, func(r store.Replay) (store.OutboxMessage, error) {
		if r.Task != nil {
			env := TaskEnvelopeOf(*r.Task)
			return TaskMessage(&env, r.Task.Generation), nil
		}
		return store.OutboxMessage{
			WorkspaceID: ws,
			MsgID:       fmt.Sprintf("replay:%s:%d", r.DeadLetter.ID, r.DeadLetter.ReplayCount+1),
			Subject:     r.DeadLetter.Subject,
			Headers:     r.DeadLetter.Headers,
			Payload:     r.DeadLetter.Payload,
		}, nil
	})
}

// RetryTask queues an ended task again (store.RetryTask) with its message.
func RetryTask(ctx context.Context, db *store.DB, ws, id uuid.UUID, fresh bool, by string) (store.Task, error) {
	return db.RetryTask(ctx, ws, id, fresh, by, func(t store.Task) store.OutboxMessage {
		env := TaskEnvelopeOf(t)
		return TaskMessage(&env, t.Generation)
	})
}

// RunTaskNow makes a scheduled task due now (store.RunTaskNow) with its message, sent now.
func RunTaskNow(ctx context.Context, db *store.DB, ws, id uuid.UUID, by string) (store.Task, error) {
	return db.RunTaskNow(ctx, ws, id, by, func(t store.Task) store.OutboxMessage {
		env := TaskEnvelopeOf(t)
		env.RunAt = nil
		return TaskMessage(&env, t.Generation)
	})
}

// sendNow publishes committed task messages at once; their outbox rows are removed off the
// publisher's path. Whatever fails here, the relay sends after the head start.
func (c *Client) sendNow(ctx context.Context, ws uuid.UUID, rows []store.OutboxRow) {
	if c.cfg.JS == nil || len(rows) == 0 {
		return
	}
	done, _ := outbox.Publish(ctx, c.cfg.JS, rows)
	for _, id := range done {
		select {
		case c.sent <- sentRow{ws, id}:
		case <-c.stop:
			return // closing: the relay will find these rows sent already
		}
	}
}
