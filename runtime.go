package mosaic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/agents/periodic"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

// Runtime is Mosaic running in a process: the publishing client, the worker pools, this
// process's record in the agent registry (heartbeat, drain), and the services every process runs
// — the outbox relay, the supervisor, the advisory watcher, the credential scheduler, the
// schedules of periodic tasks and the retention cleaner. Any number of processes may run one on
// the same PostgreSQL and NATS: they share the pools' consumers, and the services divide their
// work between them (SKIP LOCKED rows, advisory locks).
//
// A Runtime runs once: New, Start, then Stop or StopAndCancel. Its methods are safe to call from
// several goroutines.
type Runtime struct {
	cfg      Config
	log      zerolog.Logger
	client   *agents.Client
	services []service

	// lifecycle serialises Start and the beginning of a stop: a stop waits for a Start under way.
	lifecycle sync.Mutex

	mu       sync.Mutex // guards what follows
	phase    phase
	pools    []*agents.Pool
	agent    *agents.Agent
	failures []error
	failed   chan struct{} // closed at the first failure of the current run

	cancel  context.CancelFunc // ends the services; set by Start
	running sync.WaitGroup     // the services' goroutines
	stopped chan struct{}
}

// phase is where a runtime is in its life. It changes in setPhase only.
type phase int

const (
	phaseCreated  phase = iota // built; not started, or its Start failed and undid itself
	phaseStarting              // Start is under way
	phaseRunning               // started; services, pools and agent run
	phaseStopping              // Stop or StopAndCancel is under way
	phaseStopped               // stopped for good: the client is closed
)

func (r *Runtime) setPhase(p phase) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
}

func (r *Runtime) currentPhase() phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

// service is one of the runtime's long-running loops, all of one shape: an optional setup that
// runs in Start (a failure fails the start), then run until its context ends, returning nil or
// ctx's error then. A run that returns earlier is a failure (ServiceError).
type service struct {
	name  string
	setup func(context.Context) error
	run   func(context.Context) error
}

// New validates cfg and builds a runtime. Its Client publishes at once (tasks reach the pools of
// whichever processes run them); Start runs the rest. Release a runtime that never starts with
// Stop.
func New(cfg Config) (*Runtime, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger.With().Str("component", "runtime").Logger(), failed: make(chan struct{}),
		stopped: make(chan struct{})}
	if r.cfg.OnDrain == nil {
		r.cfg.OnDrain = r.drainOnRequest
	}
	client, err := agents.NewClient(agents.ClientConfig{DB: cfg.DB, Registry: cfg.Registry, JS: cfg.JS, TracerProvider: cfg.TracerProvider})
	if err != nil {
		return nil, err
	}
	r.client = client
	if r.services, err = r.newServices(); err != nil {
		client.Close()
		return nil, err
	}
	return r, nil
}

// newServices builds the services; none runs until Start.
func (r *Runtime) newServices() ([]service, error) {
	c := &r.cfg
	relay := outbox.NewRelay(outbox.RelayConfig{DB: c.DB, JS: c.JS, Logger: c.Logger})
	sup := agents.NewSupervisor(agents.SupervisorConfig{DB: c.DB, JS: c.JS, Interval: c.Heartbeat, StrandedAfter: c.StrandedAfter, Logger: c.Logger})
	adv := &agents.AdvisoryWatcher{DB: c.DB, JS: c.JS, Logger: c.Logger, OnNak: c.OnNak}
	rotations := &credrotate.Scheduler{DB: c.DB, Client: r.client, Logger: c.Logger}
	schedules, err := periodic.NewScheduler(periodic.SchedulerConfig{DB: c.DB, Client: r.client, Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("mosaic: schedules: %w", err)
	}
	out := []service{
		{name: "outbox relay", run: relay.Run},
		{name: "supervisor", run: sup.Run},
		{name: "advisory watcher", setup: adv.Setup, run: adv.Run},
		{name: "credential scheduler", run: rotations.Run},
		{name: "schedules", run: schedules.Run},
	}
	if c.CleanEvery > 0 {
		cleaner, err := store.NewCleaner(store.CleanerConfig{DB: c.DB, Defaults: c.Retention, Interval: c.CleanEvery,
			OnDeleted: c.OnCleaned, OnPass: c.OnCleanPass, Logger: c.Logger})
		if err != nil {
			return nil, fmt.Errorf("mosaic: retention cleaner: %w", err)
		}
		out = append(out, service{name: "retention cleaner", run: cleaner.Run})
	}
	return out, nil
}

// Client publishes tasks (agents.Client: Publish, PublishTx, PublishMany, Cancel, …). It works from
// New until the runtime stops.
func (r *Runtime) Client() *agents.Client { return r.client }

// Start starts everything or nothing: the services (the advisory watcher's consumer made first),
// then the pools (their consumers created or updated), then this process's agent record. When a
// step fails, what started is stopped again, the runtime is as New left it, and the error says
// which step. ctx bounds the steps; once Start has returned, its end stops nothing (Stop does).
func (r *Runtime) Start(ctx context.Context) (err error) {
	r.lifecycle.Lock()
	defer r.lifecycle.Unlock()
	switch r.currentPhase() {
	case phaseRunning:
		return ErrStarted
	case phaseStopping, phaseStopped:
		return ErrStopped
	}
	r.setPhase(phaseStarting)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	defer func() {
		if err != nil {
			err = errors.Join(err, r.undoStart())
		}
	}()
	for _, s := range r.services {
		if s.setup == nil {
			continue
		}
		if err := s.setup(ctx); err != nil {
			return fmt.Errorf("mosaic: %s: %w", s.name, err)
		}
	}
	for _, s := range r.services {
		r.launch(runCtx, s)
	}
	var pools []*agents.Pool
	for _, cfg := range r.cfg.Pools {
		p, err := agents.NewPool(cfg)
		if err == nil {
			// Not ctx itself: its end would stop the pool hard (Pool.Start).
			err = p.Start(context.WithoutCancel(ctx))
		}
		if err != nil {
			return fmt.Errorf("mosaic: pool %s (%s): %w", cmp.Or(cfg.Name, "default"), cmp.Or(cfg.Stream, events.TasksStream), err)
		}
		pools = append(pools, p)
		r.mu.Lock()
		r.pools = pools
		r.mu.Unlock()
	}
	if len(pools) > 0 {
		agent, err := agents.StartAgent(ctx, agents.AgentConfig{DB: r.cfg.DB, Name: r.cfg.WorkerName, Version: r.cfg.Version,
			Pools: pools, Kinds: r.kinds(), Interval: r.cfg.Heartbeat, OnDrain: r.cfg.OnDrain, Logger: r.cfg.Logger})
		if err != nil {
			return fmt.Errorf("mosaic: agent registry: %w", err)
		}
		r.mu.Lock()
		r.agent = agent
		r.mu.Unlock()
	}
	r.setPhase(phaseRunning)
	return nil
}

// undoStart stops what a failed Start started and makes the runtime as New left it. It returns
// the failures of services that stopped on their own meanwhile.
func (r *Runtime) undoStart() error {
	stopErr := r.stopPools(context.Background(), true)
	r.cancel()
	r.running.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	failures := errors.Join(r.failures...)
	r.pools, r.agent, r.failures, r.failed = nil, nil, nil, make(chan struct{})
	r.phase = phaseCreated
	return errors.Join(stopErr, failures)
}

// launch runs a service until ctx ends; if it returns before, the runtime records the failure.
func (r *Runtime) launch(ctx context.Context, s service) {
	r.running.Go(func() {
		err := s.run(ctx)
		if ctx.Err() != nil {
			return // stopped by the runtime: whatever it returned is its way of saying so
		}
		if err == nil {
			err = ErrServiceEnded
		}
		r.fail(&ServiceError{Service: s.name, Err: err})
	})
}

func (r *Runtime) fail(err error) {
	r.log.Error().Err(err).Msg("a service stopped: this process runs on without it until it is stopped")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, err)
	select {
	case <-r.failed:
	default:
		close(r.failed)
	}
}

// kinds are the kinds this process's pools take, for the agent registry: nil when a pool takes
// every kind of its stream.
func (r *Runtime) kinds() []string {
	var out []string
	for _, p := range r.cfg.Pools {
		if len(p.Kinds) == 0 {
			return nil
		}
		for _, k := range p.Kinds {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// Stop stops gracefully: the pools take no new work and their running handlers get until ctx
// ends to finish (then their contexts are cancelled, cause agents.ErrShutdown, and their tasks are
// resumed elsewhere from their last checkpoint without using an attempt); this process is
// recorded stopped in the agent registry; then the services stop and the client closes. It
// returns the failures of services that stopped on their own (ServiceError) and of the stop.
// A Stop while another stop is under way waits for it and returns nil (or ctx's error).
func (r *Runtime) Stop(ctx context.Context) error { return r.stop(ctx, false) }

// StopAndCancel stops as Stop does, but cancels the running handlers at once. Called while a
// Stop drains, it cuts the drain short.
func (r *Runtime) StopAndCancel(ctx context.Context) error { return r.stop(ctx, true) }

func (r *Runtime) stop(ctx context.Context, cancel bool) error {
	r.lifecycle.Lock()
	was := r.currentPhase()
	if was == phaseStopping || was == phaseStopped {
		r.lifecycle.Unlock()
		if cancel {
			_ = r.stopPools(ctx, true) // the first stop reports the pools' errors
		}
		select {
		case <-r.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.setPhase(phaseStopping)
	r.lifecycle.Unlock()
	var stopErr error
	if was == phaseRunning {
		stopErr = r.stopPools(ctx, cancel)
		r.cancel()
		r.running.Wait()
	}
	r.client.Close() // after the schedulers, which publish through it
	r.setPhase(phaseStopped)
	close(r.stopped)
	return errors.Join(r.Err(), stopErr)
}

// stopPools stops the pools, at once (cancel) or draining until ctx ends, and records the agent
// stopped.
func (r *Runtime) stopPools(ctx context.Context, cancel bool) error {
	r.mu.Lock()
	pools, agent := r.pools, r.agent
	r.mu.Unlock()
	if agent != nil {
		agent.SetState(store.AgentDraining)
	}
	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Go(func() {
			if cancel {
				errs[i] = p.StopAndCancel(ctx)
			} else {
				errs[i] = p.Stop(ctx)
			}
		})
	}
	wg.Wait()
	if agent != nil {
		agent.Stop()
	}
	return errors.Join(errs...)
}

// Drain stops the pools as Stop does — no new work; running handlers get until ctx ends, then are
// cancelled and resumed elsewhere — and records this process stopped in the agent registry. The
// services and the client go on until Stop: what `mosaic agents drain` asks of `mosaic dev`,
// whose API stays up. On a runtime that is not running it does nothing.
func (r *Runtime) Drain(ctx context.Context) error {
	if r.currentPhase() != phaseRunning {
		return nil
	}
	return r.stopPools(ctx, false)
}

// drainOnRequest is OnDrain's default.
func (r *Runtime) drainOnRequest() {
	r.log.Info().Msg("an operator asked this process to drain: the pools finish what they run and take no more")
	if err := r.Drain(context.Background()); err != nil {
		r.log.Warn().Err(err).Msg("drain")
	}
}

// Failed is closed when a service stops on its own while the runtime runs; Err says which and
// why. The runtime does not stop itself: the process decides (`mosaic dev` and `mosaic worker`
// stop and exit with the error).
func (r *Runtime) Failed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Err returns the services that stopped on their own (each a *ServiceError), joined; nil while
// every service runs.
func (r *Runtime) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.failures...)
}

// Stopped is closed once Stop or StopAndCancel has finished: every handler has returned, every
// service has ended and the client is closed.
func (r *Runtime) Stopped() <-chan struct{} { return r.stopped }
