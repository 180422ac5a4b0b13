package agents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// PoolConfig configures a worker pool. Zero fields take the documented defaults.
type PoolConfig struct {
	DB       *store.DB           // required
	JS       jetstream.JetStream // required
	NC       *nats.Conn          // required (cancel requests)
	Registry *Registry           // required
	// Credentials lets handlers open the credentials their tasks declared (job.Credential).
	Credentials *credentials.Vault

	// Name of the pool: its durable consumers are <Name>-p1 … <Name>-p10 (on CREDENTIALS or
	// KNOWLEDGE: <Name>-credentials, <Name>-knowledge). Any number of processes with the same name
	// share the work. Default "default".
	Name string
	// Stream the pool takes work from: TASKS (default, one consumer per priority band),
	// CREDENTIALS or KNOWLEDGE (one consumer).
	Stream string
	// Kinds the pool takes. Empty: every kind on the TASKS stream (a kind without a worker is
	// dead-lettered as unknown). Pools on one stream must not overlap: JetStream's work queues
	// give each message to one consumer.
	Kinds []string
	// Priorities the pool serves (1…10). Default all.
	Priorities []int
	// Concurrency is how many handlers run at once. Default 8.
	Concurrency int
	// AckWait is how long JetStream waits for an ack or a sign of progress before it redelivers.
	// Default 30s. InProgress goes out every AckWait/3 while the handler makes progress.
	AckWait time.Duration
	// MaxAckPending bounds a consumer's unacknowledged messages. Default 10 000.
	MaxAckPending int
	// LowerBandShare: with work waiting in a lower band, at least one message in every
	// LowerBandShare+1 comes from a lower band. Default 9 (≥ 10%).
	LowerBandShare int
	// FetchBatch bounds one pull. Default 64.
	FetchBatch int
	// IdleWait is how long an idle pool's pull requests wait on the server. Default 2s.
	IdleWait time.Duration
	// BandRecheck is how often a band found empty is asked again while others are busy.
	// Default 50ms.
	BandRecheck time.Duration
	// RetryPolicy for failed attempts. Default ExponentialBackoff{} (1s, 2s, 4s… ≤ 10 min, ±20%).
	RetryPolicy RetryPolicy
	// CapacityDelay is the first wait of a task whose workspace is at its concurrency cap; it
	// doubles with each deferral up to 30s. Default 500ms.
	CapacityDelay time.Duration
	// CommitBatch bounds how many state writes (claims, checkpoints, completions) of concurrent
	// deliveries commit in one transaction. Default 256; 1 turns group commit off.
	CommitBatch int
	// CommitExecutors is how many such transactions may be in flight at once. Default 2 (on few cores, fewer and
	// larger batches beat more and smaller ones).
	CommitExecutors int
	// WorkerName identifies this process in task rows and events. Default host:pid.
	WorkerName string
	Logger     *zerolog.Logger
	// Observe, when set, is called after each handler returns (metrics).
	Observe func(HandlerDone)
	// TracerProvider, when set, traces each delivery: mosaic.deliver (consumer kind) with
	// mosaic.queue, mosaic.claim, mosaic.handle (the handler's ctx carries it; Job.Tracer),
	// mosaic.checkpoint and mosaic.end as children, continuing the task's traceparent
	// (docs/operations.md, Tracing); the task's log lines carry the delivery span's trace_id and
	// span_id. nil: no spans, at no cost per task (log lines carry the traceparent's trace_id).
	TracerProvider trace.TracerProvider
}

// HandlerDone describes a handler run that has just returned.
type HandlerDone struct {
	Pool, Stream, Kind string
	Duration           time.Duration
	Err                error // nil: succeeded
}

func (c *PoolConfig) setDefaults() {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.Stream == "" {
		c.Stream = events.TasksStream
	}
	if len(c.Priorities) == 0 {
		for p := events.MinPriority; p <= events.MaxPriority; p++ {
			c.Priorities = append(c.Priorities, p)
		}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 10000
	}
	if c.LowerBandShare == 0 {
		c.LowerBandShare = 9
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = 64
	}
	if c.IdleWait == 0 {
		c.IdleWait = 2 * time.Second
	}
	if c.BandRecheck == 0 {
		c.BandRecheck = 50 * time.Millisecond
	}
	if c.RetryPolicy == nil {
		c.RetryPolicy = ExponentialBackoff{}
	}
	if c.CapacityDelay == 0 {
		c.CapacityDelay = 500 * time.Millisecond
	}
	if c.CommitBatch == 0 {
		c.CommitBatch = 256
	}
	if c.CommitExecutors == 0 {
		c.CommitExecutors = 2
	}
	if c.WorkerName == "" {
		host, _ := os.Hostname()
		c.WorkerName = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
}

// Validate checks the configuration; errors name the field.
func (c *PoolConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("PoolConfig.DB is required"))
	}
	if c.JS == nil {
		errs = append(errs, errors.New("PoolConfig.JS is required"))
	}
	if c.NC == nil {
		errs = append(errs, errors.New("PoolConfig.NC is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("PoolConfig.Registry is required"))
	}
	if err := events.ValidateKind(strings.ReplaceAll(c.Name, "_", "-")); err != nil || strings.Contains(c.Name, ".") {
		errs = append(errs, fmt.Errorf("PoolConfig.Name %q: lower-case letters, digits, '-' and '_', starting with a letter", c.Name))
	}
	for _, k := range c.Kinds {
		if err := events.ValidateKind(k); err != nil {
			errs = append(errs, fmt.Errorf("PoolConfig.Kinds: %w", err))
		}
	}
	seen := map[int]bool{}
	for _, p := range c.Priorities {
		if events.ValidatePriority(p) != nil || seen[p] {
			errs = append(errs, fmt.Errorf("PoolConfig.Priorities: %d is out of 1…10 or repeated", p))
		}
		seen[p] = true
	}
	if c.Stream != events.TasksStream && c.Stream != events.CredentialsStream && c.Stream != events.KnowledgeStream {
		errs = append(errs, fmt.Errorf("PoolConfig.Stream %q: want TASKS, CREDENTIALS or KNOWLEDGE", c.Stream))
	}
	if c.Concurrency < 1 || c.Concurrency > 100000 {
		errs = append(errs, fmt.Errorf("PoolConfig.Concurrency %d: want 1…100000", c.Concurrency))
	}
	if c.AckWait < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("PoolConfig.AckWait %s: want at least 100ms", c.AckWait))
	}
	if c.MaxAckPending < c.Concurrency {
		errs = append(errs, fmt.Errorf("PoolConfig.MaxAckPending %d is below Concurrency %d", c.MaxAckPending, c.Concurrency))
	}
	if c.CommitBatch < 1 || c.CommitExecutors < 1 {
		errs = append(errs, errors.New("PoolConfig: CommitBatch and CommitExecutors must be at least 1"))
	}
	if c.LowerBandShare < 1 || c.FetchBatch < 1 || c.IdleWait <= 0 || c.BandRecheck <= 0 || c.CapacityDelay <= 0 {
		errs = append(errs, errors.New("PoolConfig: LowerBandShare, FetchBatch, IdleWait, BandRecheck and CapacityDelay must be positive"))
	}
	return errors.Join(errs...)
}

// Pool runs tasks from the TASKS stream: one durable pull consumer per priority band, served
// higher bands first with a guaranteed share for lower ones.
type Pool struct {
	cfg       PoolConfig
	log       zerolog.Logger
	lease     time.Duration
	beat      time.Duration
	bands     []*band
	sched     *bandScheduler // the dispatcher's alone
	slots     chan struct{}
	finishing chan struct{} // deliveries writing their end after their handler returned
	caps      *capCache
	commit    *committer
	known     workspaceSet // workspaces a peek found
	tracer    trace.Tracer // nil: no tracing

	// fetchCtx ends when the pool stops taking new messages; runCtx when handlers must stop.
	fetchCtx    context.Context
	fetchCancel context.CancelFunc
	runCtx      context.Context
	runCancel   context.CancelCauseFunc

	mu       sync.Mutex
	inflight map[taskKey]*delivery
	started  bool

	minutes *minuteStats // handler runs per minute and priority, for the agent's heartbeat

	// A stop waits for them in this order: the fetchers (the dispatcher and its waiting pulls,
	// which start deliveries), then the deliveries, then the loops that serve deliveries (the
	// heartbeat and its claims). A WaitGroup may only be waited for once nothing can add to it
	// from zero: a waiting pull that brings a message adds a delivery.
	fetchers   sync.WaitGroup
	deliveries sync.WaitGroup
	loops      sync.WaitGroup
	runners    *runners // the goroutines deliveries run on
	arrived    chan struct{}
	sub        *nats.Subscription
	stopOnce   sync.Once
	stopped    chan struct{}
}

type taskKey struct{ ws, id uuid.UUID }

// compare orders keys by workspace, then id, byte by byte: the order of store.RunBatch's rows.
func (k taskKey) compare(o taskKey) int {
	if c := bytes.Compare(k.ws[:], o.ws[:]); c != 0 {
		return c
	}
	return bytes.Compare(k.id[:], o.id[:])
}

type band struct {
	priority  int
	cons      jetstream.Consumer
	pending   atomic.Int64 // hint: messages waiting, from the last message's metadata
	checkedAt atomic.Int64 // unix nanos when last found empty
	polling   atomic.Bool  // an idle pull request is outstanding
}

func (b *band) candidate(now time.Time, recheck time.Duration) bool {
	return b.pending.Load() > 0 || now.UnixNano()-b.checkedAt.Load() >= int64(recheck)
}

func (b *band) markEmpty(now time.Time) {
	b.pending.Store(0)
	b.checkedAt.Store(now.UnixNano())
}

// NewPool validates the configuration and builds a pool; Start runs it.
func NewPool(cfg PoolConfig) (*Pool, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:       cfg,
		log:       zerolog.Nop(),
		lease:     cfg.AckWait,
		beat:      max(cfg.AckWait/3, 30*time.Millisecond),
		slots:     make(chan struct{}, cfg.Concurrency),
		finishing: make(chan struct{}, 2*cfg.Concurrency),
		inflight:  map[taskKey]*delivery{},
		minutes:   newMinuteStats(cfg.Name, cfg.Stream),
		arrived:   make(chan struct{}, 1),
		stopped:   make(chan struct{}),
		runners:   newRunners(),
	}
	if cfg.Logger != nil {
		p.log = cfg.Logger.With().Str("pool", cfg.Name).Logger()
	}
	if cfg.TracerProvider != nil {
		p.tracer = cfg.TracerProvider.Tracer(TracerName)
	}
	p.caps = newCapCache(cfg.DB, 5*time.Second)
	p.known.max = knownWorkspaces
	p.commit = newCommitter(cfg.DB, cfg.WorkerName, p.lease, cfg.CommitExecutors, cfg.CommitBatch, p.log)
	return p, nil
}

// ConsumerName is the durable consumer of a pool's band on TASKS.
func ConsumerName(pool string, priority int) string { return pool + "-" + events.Band(priority) }

// ParseConsumerName reads back a consumer name that ConsumerConfig gives on stream: the pool and,
// on TASKS, the priority of its band (<pool>-p<1…10>); on CREDENTIALS and KNOWLEDGE
// (<pool>-credentials, <pool>-knowledge) the priority is 0. ok is false for a name no pool gives.
func ParseConsumerName(stream, name string) (pool string, priority int, ok bool) {
	switch stream {
	case events.TasksStream:
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			return "", 0, false
		}
		prio, err := events.ParseBand(name[i+1:])
		if err != nil {
			return "", 0, false
		}
		return name[:i], prio, true
	case events.CredentialsStream, events.KnowledgeStream:
		pool, ok = strings.CutSuffix(name, "-"+strings.ToLower(stream))
		return pool, 0, ok && pool != ""
	}
	return "", 0, false
}

// ConsumerConfig is the durable pull consumer of one band of a pool (priority 0: the one consumer
// of a CREDENTIALS or KNOWLEDGE pool), as data.
func ConsumerConfig(cfg PoolConfig, priority int) jetstream.ConsumerConfig {
	name, desc := ConsumerName(cfg.Name, priority), fmt.Sprintf("Mosaic pool %s, priority %d", cfg.Name, priority)
	filters := events.TaskFilter(priority, cfg.Kinds)
	if cfg.Stream != "" && cfg.Stream != events.TasksStream {
		name = cfg.Name + "-" + strings.ToLower(cfg.Stream)
		desc = fmt.Sprintf("Mosaic pool %s, %s", cfg.Name, cfg.Stream)
		filters = events.JobFilter(cfg.Stream, cfg.Kinds)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   desc,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // attempts are counted in PostgreSQL, where the fence lives
		MaxAckPending: cfg.MaxAckPending,
		MaxWaiting:    512,
	}
	if len(filters) == 1 {
		cc.FilterSubject = filters[0]
	} else {
		cc.FilterSubjects = filters
	}
	return cc
}

// Start creates (or updates) the pool's consumers and starts taking work. Cancelling ctx stops
// the pool hard, like StopAndCancel.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("agents: pool already started")
	}
	p.started = true
	p.mu.Unlock()
	priorities := sortedPriorities(p.cfg.Priorities)
	if p.cfg.Stream != events.TasksStream {
		priorities = []int{0} // one consumer: these streams have no bands
	}
	var pausedUntil *time.Time
	if pauses, err := p.cfg.DB.PoolPauses(ctx); err == nil {
		for _, pp := range pauses {
			if pp.Pool == p.cfg.Name {
				pausedUntil = &pp.PausedUntil // an operator paused this pool: it starts paused
			}
		}
	}
	for _, prio := range priorities {
		cc := ConsumerConfig(p.cfg, prio)
		cc.PauseUntil = pausedUntil
		cons, err := p.cfg.JS.CreateOrUpdateConsumer(ctx, p.cfg.Stream, cc)
		if err != nil {
			if strings.Contains(err.Error(), "not unique") || strings.Contains(err.Error(), "overlap") {
				return fmt.Errorf("consumer %s: another pool on the TASKS work queue takes the same kinds (pools must not overlap): %w", cc.Durable, err)
			}
			return fmt.Errorf("consumer %s: %w", cc.Durable, err)
		}
		p.bands = append(p.bands, &band{priority: prio, cons: cons})
	}
	p.sched = newBandScheduler(len(p.bands), p.cfg.LowerBandShare, p.cfg.Concurrency)
	p.mu.Lock()
	p.fetchCtx, p.fetchCancel = context.WithCancel(context.WithoutCancel(ctx))
	p.runCtx, p.runCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	p.mu.Unlock()
	sub, err := p.cfg.NC.Subscribe(events.CancelSubjectAll, p.onCancelRequest)
	if err != nil {
		return fmt.Errorf("subscribe to cancel requests: %w", err)
	}
	p.sub = sub
	p.commit.start()
	p.fetchers.Add(1)
	go p.dispatch()
	p.loops.Add(1)
	go p.heartbeat()
	go func() {
		select {
		case <-ctx.Done():
			_ = p.StopAndCancel(context.Background())
		case <-p.stopped:
		}
	}()
	p.log.Info().Str("stream", p.cfg.Stream).Int("concurrency", p.cfg.Concurrency).Ints("priorities", p.cfg.Priorities).
		Strs("kinds", p.cfg.Kinds).Str("worker", p.cfg.WorkerName).Msg("pool started")
	return nil
}

// Stop stops taking work and waits for running handlers to finish until ctx ends; then it
// cancels the rest (their tasks are retried from their last checkpoint, the attempt not counted)
// and waits for them to wind up.
func (p *Pool) Stop(ctx context.Context) error {
	if !p.isStarted() {
		return nil
	}
	p.fetchCancel()
	done := make(chan struct{})
	go func() { p.fetchers.Wait(); p.deliveries.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.log.Warn().Int("running", p.running()).Msg("drain timeout: interrupting the running handlers")
	}
	return p.StopAndCancel(context.Background())
}

// StopAndCancel stops at once: handlers' contexts are cancelled (cause ErrShutdown).
func (p *Pool) StopAndCancel(ctx context.Context) error {
	if !p.isStarted() {
		return nil
	}
	p.stopOnce.Do(func() {
		p.fetchCancel()
		p.runCancel(ErrShutdown)
		if p.sub != nil {
			_ = p.sub.Unsubscribe()
		}
		go func() {
			p.fetchers.Wait()
			p.deliveries.Wait()
			p.runners.stop()
			p.loops.Wait()
			p.commit.stop()
			close(p.stopped)
			p.log.Info().Msg("pool stopped")
		}()
	})
	select {
	case <-p.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pool) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started && p.fetchCancel != nil
}

// Stopped is closed once the pool has stopped and every handler has returned.
func (p *Pool) Stopped() <-chan struct{} { return p.stopped }

func (p *Pool) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

// dispatch fills free handler slots with messages, higher bands first.
func (p *Pool) dispatch() {
	defer p.fetchers.Done()
	for {
		select {
		case <-p.fetchCtx.Done():
			return
		case p.slots <- struct{}{}:
		}
		free := 1
	more:
		for free < p.cfg.FetchBatch {
			select {
			case p.slots <- struct{}{}:
				free++
			default:
				break more
			}
		}
		got := p.fetchRound(free)
		for i := got; i < free; i++ {
			<-p.slots
		}
		if got == 0 {
			p.idle()
		}
	}
}

// fetchRound pulls up to free messages, the bands chosen by the pool's bandScheduler.
func (p *Pool) fetchRound(free int) int {
	got := 0
	for got < free && p.fetchCtx.Err() == nil {
		now := time.Now()
		hasWork := func(i int) bool { return p.bands[i].candidate(now, p.cfg.BandRecheck) }
		i, want := p.sched.pick(hasWork, free-got)
		if i < 0 {
			break
		}
		n := p.fetch(p.bands[i], want)
		got += n
		p.sched.took(i, n, hasWork)
	}
	return got
}

// fetch pulls up to n messages of a band without waiting and starts a delivery for each; the
// caller holds a slot for each.
func (p *Pool) fetch(b *band, n int) int {
	now := time.Now()
	batch, err := b.cons.FetchNoWait(n)
	if err != nil {
		if p.fetchCtx.Err() == nil {
			p.log.Warn().Err(err).Int("priority", b.priority).Msg("pull failed")
		}
		b.markEmpty(now)
		return 0
	}
	count := 0
	for msg := range batch.Messages() {
		count++
		md, err := msg.Metadata()
		if err == nil {
			b.pending.Store(int64(md.NumPending))
		}
		p.deliveries.Add(1)
		p.runners.run(func() { p.deliver(msg, md, false) })
	}
	if err := batch.Error(); err != nil && p.fetchCtx.Err() == nil && !errors.Is(err, jetstream.ErrNoMessages) {
		p.log.Warn().Err(err).Int("priority", b.priority).Msg("pull ended with an error")
	}
	if count < n || b.pending.Load() == 0 {
		b.markEmpty(now)
	}
	return count
}

// idle leaves one waiting pull request on every band and returns when one of them brings a
// message (or after IdleWait). Each asks for up to idlePull messages and hands them on as they
// arrive: at a steady rate below the pool's capacity, messages reach their handlers without a
// pull request per message (one round trip to the server each, which a message arriving in
// between waited for). Messages that arrive this way wait for a free slot, kept alive with
// InProgress meanwhile, and start in the order they arrive: a burst after an idle moment may
// start up to idlePull messages of a lower band before a higher band's.
func (p *Pool) idle() {
	for _, b := range p.bands {
		if b.polling.CompareAndSwap(false, true) {
			p.fetchers.Add(1)
			go p.longPoll(b)
		}
	}
	t := time.NewTimer(p.cfg.IdleWait)
	defer t.Stop()
	select {
	case <-p.fetchCtx.Done():
	case <-p.arrived:
	case <-t.C:
	}
}

func (p *Pool) longPoll(b *band) {
	defer p.fetchers.Done()
	batch, err := b.cons.Fetch(min(idlePull, p.cfg.FetchBatch), jetstream.FetchMaxWait(p.cfg.IdleWait))
	if err != nil {
		if p.fetchCtx.Err() == nil {
			p.log.Warn().Err(err).Int("priority", b.priority).Msg("waiting pull failed")
			select { // do not spin on a broken connection, nor hold a stop
			case <-time.After(p.cfg.IdleWait / 4):
			case <-p.fetchCtx.Done():
			}
		}
		b.polling.Store(false)
		return
	}
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err == nil {
			b.pending.Store(int64(md.NumPending))
		}
		p.deliveries.Add(1)
		p.runners.run(func() { p.deliverWhenFree(msg, md) })
		p.signalArrived()
	}
	// Done before the last signal: the dispatcher it wakes leaves a new waiting pull on this band
	// (if it found this one still open, the band would have none until its IdleWait ended).
	b.polling.Store(false)
	p.signalArrived()
}

func (p *Pool) signalArrived() {
	select {
	case p.arrived <- struct{}{}:
	default:
	}
}

// idlePull is how many messages one waiting pull request of a band asks for.
const idlePull = 16

func (p *Pool) deliverWhenFree(msg jetstream.Msg, meta *jetstream.MsgMetadata) {
	arrived := time.Now()
	tick := time.NewTicker(p.beat)
	defer tick.Stop()
	for {
		if p.fetchCtx.Err() != nil {
			_ = msg.Nak() // stopping: let another worker have it now
			p.deliveries.Done()
			return
		}
		select {
		case p.slots <- struct{}{}:
			p.deliver(msg, meta, time.Since(arrived) > heldFor)
			return
		case <-tick.C:
			_ = msg.InProgress()
		case <-p.fetchCtx.Done():
			_ = msg.Nak() // stopping: let another worker have it now
			p.deliveries.Done()
			return
		}
	}
}

func (p *Pool) onCancelRequest(m *nats.Msg) {
	ws, id, err := events.ParseCancelSubject(m.Subject)
	if err != nil {
		return
	}
	p.mu.Lock()
	d := p.inflight[taskKey{ws, id}]
	p.mu.Unlock()
	if d != nil {
		d.log.Info().Msg("cancel requested: cancelling the handler")
		d.cancel(ErrCancelled)
	}
}

// heartbeat keeps live deliveries alive (InProgress, lease renewal with progress), cancels those
// past their progress timeout, and notices fenced and cancelled tasks.
func (p *Pool) heartbeat() {
	defer p.loops.Done()
	t := time.NewTicker(p.beat)
	defer t.Stop()
	for {
		select {
		case <-p.stopped:
			return
		case <-p.runCtx.Done():
			return
		case now := <-t.C:
			p.beatOnce(now)
		}
	}
}

func (p *Pool) beatOnce(now time.Time) {
	byWS := map[uuid.UUID][]*delivery{}
	p.mu.Lock()
	for k, d := range p.inflight {
		byWS[k.ws] = append(byWS[k.ws], d)
	}
	p.mu.Unlock()
	for ws, ds := range byWS {
		leases := make([]store.Lease, 0, len(ds))
		live := ds[:0]
		for _, d := range ds {
			if now.Sub(d.lastProgress()) > d.progressTimeout {
				d.log.Warn().Dur("progress_timeout", d.progressTimeout).Msg("no progress: cancelling the handler")
				d.cancel(ErrProgressTimeout)
				continue
			}
			d.inProgress(now, true)
			if !d.isClaimed() {
				// Running for a heartbeat without a write: claim now, so the task shows running and
				// its lease counts. Off the heartbeat's path, but waited for: the pool's stop waits
				// for its loops before it closes the commit queue this claim is sent on.
				p.loops.Add(1)
				go func() { defer p.loops.Done(); d.heartbeatClaim() }()
				continue
			}
			leases = append(leases, d.leaseRow())
			live = append(live, d)
		}
		if len(leases) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.beat)
		st, err := p.cfg.DB.RenewLeases(ctx, ws, leases, p.lease)
		cancel()
		if err != nil {
			p.log.Warn().Err(err).Str("workspace_id", ws.String()).Msg("lease renewal failed")
			continue
		}
		for _, d := range live {
			s := st[d.id]
			switch {
			case s.Fenced:
				d.fence0()
			case s.CancelRequested:
				d.cancel(ErrCancelled)
			}
		}
	}
}

func sortedPriorities(ps []int) []int {
	out := append([]int(nil), ps...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// capCache remembers workspaces' concurrency caps for a while (a cap change takes effect within
// ttl), so that uncapped workspaces cost no extra query per claim.
type capCache struct {
	db    *store.DB
	ttl   time.Duration
	mu    sync.Mutex
	m     map[uuid.UUID]capEntry
	loads singleflight.Group
}

type capEntry struct {
	cap     int
	at      time.Time
	loading bool // a refresh that reads it again is under way
}

func newCapCache(db *store.DB, ttl time.Duration) *capCache {
	return &capCache{db: db, ttl: ttl, m: map[uuid.UUID]capEntry{}}
}

// refreshWith lists ws and up to maxCapRefresh-1 workspaces whose entries are past half their ttl
// and not being refreshed already, and marks their entries as being refreshed.
func (c *capCache) refreshWith(ws uuid.UUID) []uuid.UUID {
	out := []uuid.UUID{ws}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[ws]; ok {
		e.loading = true
		c.m[ws] = e
	}
	for w, e := range c.m {
		if len(out) == maxCapRefresh {
			break
		}
		if w != ws && !e.loading && time.Since(e.at) > c.ttl/2 {
			e.loading = true
			c.m[w] = e
			out = append(out, w)
		}
	}
	return out
}

// maxCapRefresh bounds the workspaces one cap refresh reads.
const maxCapRefresh = 1024

func (c *capCache) get(ctx context.Context, ws uuid.UUID) int {
	c.mu.Lock()
	e, ok := c.m[ws]
	c.mu.Unlock()
	if ok && (e.loading || time.Since(e.at) < c.ttl) {
		return e.cap // fresh, or read again right now by another delivery's refresh
	}
	// One read per workspace however many deliveries find the entry stale at once; and the read
	// brings the entries past half their ttl with it: with tasks spread over many workspaces,
	// their entries come to expire together, and a ttl costs a read or two, not one per workspace
	// (nor one per delivery that finds its entry stale while that read is under way).
	v, err, _ := c.loads.Do(ws.String(), func() (any, error) {
		wss := c.refreshWith(ws)
		caps, err := c.db.MaxConcurrencies(ctx, wss)
		now := time.Now()
		c.mu.Lock()
		for _, w := range wss {
			if err == nil {
				c.m[w] = capEntry{cap: caps[w], at: now}
			} else if e, ok := c.m[w]; ok {
				e.loading = false // stale still: the next delivery reads it again
				c.m[w] = e
			}
		}
		c.mu.Unlock()
		return caps[ws], err
	})
	if err != nil {
		return e.cap // keep the last known value
	}
	return v.(int)
}
