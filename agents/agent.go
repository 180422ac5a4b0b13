package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// InFlightTask is a task a pool is running.
type InFlightTask struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	TaskID      uuid.UUID `json:"task_id"`
	Kind        string    `json:"kind"`
	Pool        string    `json:"pool"`
	Since       time.Time `json:"since"`
}

// InFlight lists the tasks the pool is running.
func (p *Pool) InFlight() []InFlightTask {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]InFlightTask, 0, len(p.inflight))
	for k, d := range p.inflight {
		out = append(out, InFlightTask{WorkspaceID: k.ws, TaskID: k.id, Kind: d.kind, Pool: p.cfg.Name, Since: d.startedAt})
	}
	return out
}

// AgentConfig configures a process's agent record.
type AgentConfig struct {
	DB      *store.DB
	Name    string // the pools' WorkerName: what task rows call this process
	Version string
	Pools   []*Pool
	Kinds   []string
	// Concurrency of the process's pools, together. Default: the sum of Pools' Concurrency.
	Concurrency int
	// Interval between heartbeats. The supervisor marks the agent lost after MissedHeartbeats of
	// them. Default 5s.
	Interval time.Duration
	// OnDrain is called once when an operator asks this agent to drain.
	OnDrain func()
	Logger  *zerolog.Logger
}

// MissedHeartbeats is how many heartbeat intervals of silence make an agent lost.
const MissedHeartbeats = 3

// Agent is this process as the fleet sees it: registered at start, heartbeating with its in-flight
// tasks, draining on request, stopped at the end.
type Agent struct {
	cfg          AgentConfig
	registration store.Agent // what it registers (again, under a new id, after being marked lost)
	id           uuid.UUID
	log          zerolog.Logger
	mu           sync.Mutex
	state        string
	stop         chan struct{}
	done         chan struct{}
	once         sync.Once
}

// StartAgent registers the process and starts its heartbeat.
func StartAgent(ctx context.Context, cfg AgentConfig) (*Agent, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Concurrency == 0 {
		for _, p := range cfg.Pools {
			cfg.Concurrency += p.cfg.Concurrency
		}
	}
	host, _ := os.Hostname()
	a := &Agent{cfg: cfg, id: store.NewID(), state: store.AgentSpawning, stop: make(chan struct{}), done: make(chan struct{}), log: zerolog.Nop()}
	if cfg.Logger != nil {
		a.log = cfg.Logger.With().Str("agent", cfg.Name).Logger()
	}
	var pools []string
	for _, p := range cfg.Pools {
		if label := p.cfg.Name + "/" + p.cfg.Stream; !slices.Contains(pools, label) {
			pools = append(pools, label)
		}
	}
	a.registration = store.Agent{ID: a.id, Name: cfg.Name, Host: host, PID: os.Getpid(), Version: cfg.Version,
		Pools: pools, Kinds: cfg.Kinds, Concurrency: cfg.Concurrency, HeartbeatInterval: cfg.Interval}
	if err := cfg.DB.RegisterAgent(ctx, a.registration); err != nil {
		return nil, err
	}
	a.state = store.AgentRunning
	a.beat(ctx)
	go a.loop()
	return a, nil
}

// ID is the agent's id.
func (a *Agent) ID() uuid.UUID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

func (a *Agent) loop() {
	defer close(a.done)
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			// A short interval must not make a busy database miss beats: each gets 2 s at least.
			ctx, cancel := context.WithTimeout(context.Background(), max(a.cfg.Interval, 2*time.Second))
			a.beat(ctx)
			cancel()
		}
	}
}

func (a *Agent) beat(ctx context.Context) {
	var tasks []InFlightTask
	for _, p := range a.cfg.Pools {
		tasks = append(tasks, p.InFlight()...)
	}
	n := len(tasks)
	if len(tasks) > 100 {
		tasks = tasks[:100]
	}
	a.mu.Lock()
	state := a.state
	a.mu.Unlock()
	drain, err := a.cfg.DB.Heartbeat(ctx, a.ID(), state, n, tasks)
	if err == nil {
		a.writeMinutes(ctx)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Marked lost while alive (a partition, a database outage): its tasks went to others and
		// its writes to them are fenced. It joins again as a new agent, so that the registry
		// shows it and a drain can reach it.
		if err := a.rejoin(ctx); err != nil {
			a.log.Warn().Err(err).Msg("marked lost; joining the registry again failed")
			return
		}
		a.log.Warn().Str("agent_id", a.ID().String()).Msg("this agent had been marked lost (missed heartbeats): it joined again as a new agent")
	case err != nil:
		a.log.Warn().Err(err).Msg("heartbeat failed")
	case drain && state == store.AgentRunning:
		a.log.Info().Msg("an operator asked this agent to drain")
		a.SetState(store.AgentDraining)
		if a.cfg.OnDrain != nil {
			go a.cfg.OnDrain()
		}
	}
}

// rejoin registers the process again under a new id.
func (a *Agent) rejoin(ctx context.Context) error {
	a.mu.Lock()
	reg := a.registration
	a.mu.Unlock()
	reg.ID = store.NewID()
	if err := a.cfg.DB.RegisterAgent(ctx, reg); err != nil {
		return err
	}
	a.mu.Lock()
	a.id, a.registration = reg.ID, reg
	a.mu.Unlock()
	return nil
}

// SetState records a new state at the next heartbeat (draining when the process drains).
func (a *Agent) SetState(state string) {
	a.mu.Lock()
	a.state = state
	a.mu.Unlock()
}

// Stop records the agent stopped.
func (a *Agent) Stop() {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.SetState(store.AgentStopped)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.beat(ctx)
	})
}

// SupervisorConfig configures the supervisor.
type SupervisorConfig struct {
	DB *store.DB
	// Interval between passes (and between attempts to become the leader). Default 2s.
	Interval time.Duration
	// JS, when set, lets the leader find stranded tasks: tasks that have waited, unchanged, for
	// StrandedAfter (default 10m; negative: never) while their stream holds no message on their
	// subject and the outbox none of theirs — their message is gone (a PostgreSQL restored alone
	// from before its messages were consumed). They get a new one. Looked for every
	// SweepInterval (default 30s).
	JS            jetstream.JetStream
	StrandedAfter time.Duration
	SweepInterval time.Duration
	Logger        *zerolog.Logger
}

// supervisorLock is the advisory lock key of the supervisor's leadership.
const supervisorLock = 0x6d6f7361_69637375 // "mosaicsu"

// Supervisor runs in every process; one of them, the leader, marks agents lost after missed
// heartbeats and requeues their running tasks at once. When the leader's process dies its
// PostgreSQL session ends, the lock is free, and another process's supervisor takes over.
type Supervisor struct {
	cfg    SupervisorConfig
	log    zerolog.Logger
	mu     sync.Mutex
	leader bool
}

// NewSupervisor makes a supervisor; Run runs it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.StrandedAfter == 0 {
		cfg.StrandedAfter = 10 * time.Minute
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	s := &Supervisor{cfg: cfg, log: zerolog.Nop()}
	if cfg.Logger != nil {
		s.log = cfg.Logger.With().Str("component", "supervisor").Logger()
	}
	return s
}

// Leader reports whether this supervisor leads now.
func (s *Supervisor) Leader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func (s *Supervisor) setLeader(v bool) {
	s.mu.Lock()
	s.leader = v
	s.mu.Unlock()
}

// Run campaigns for leadership and, while leading, supervises, until ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	var lead *store.Leader
	var graceUntil, swept time.Time
	var sweeping atomic.Bool
	defer func() {
		if lead != nil {
			lead.Resign()
		}
		s.setLeader(false)
	}()
	for {
		if lead != nil && !lead.Alive(ctx) {
			s.log.Warn().Msg("lost the supervisor's lock session; campaigning again")
			lead.Resign()
			lead = nil
			s.setLeader(false)
		}
		if lead == nil {
			l, err := s.cfg.DB.TryLead(ctx, supervisorLock)
			if err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("campaign failed")
			}
			if l != nil {
				lead = l
				s.setLeader(true)
				// A new leader may come after an outage of the database itself, when every
				// heartbeat is old: the agents get their missed beats' worth to report first.
				graceUntil = time.Now().Add(MissedHeartbeats * s.cfg.Interval)
				s.log.Info().Msg("leading: this process supervises the agents")
			}
		}
		if lead != nil && time.Now().After(graceUntil) {
			if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("supervisor pass failed")
			}
			if time.Since(swept) >= s.cfg.SweepInterval && sweeping.CompareAndSwap(false, true) {
				swept = time.Now()
				go func() { // apart from the passes: a long sweep does not delay finding lost agents
					defer sweeping.Store(false)
					if _, err := s.SweepStranded(ctx); err != nil && ctx.Err() == nil {
						s.log.Warn().Err(err).Msg("stranded-task sweep failed")
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass marks lost the agents silent for MissedHeartbeats intervals and requeues their tasks in
// every workspace.
func (s *Supervisor) Pass(ctx context.Context) error {
	lost, err := s.cfg.DB.MarkLostAgents(ctx, MissedHeartbeats)
	if err != nil || len(lost) == 0 {
		return err
	}
	workspaces, err := s.cfg.DB.WorkspaceIDs(ctx)
	if err != nil {
		return err
	}
	for _, a := range lost {
		n := 0
		for _, ws := range workspaces {
			tasks, err := s.cfg.DB.RequeueWorkerTasks(ctx, ws, a.Name, func(t store.Task) store.OutboxMessage {
				env := TaskEnvelopeOf(t)
				return TaskMessage(&env, t.Generation)
			})
			if err != nil {
				return err
			}
			n += len(tasks)
		}
		s.log.Warn().Str("agent", a.Name).Str("host", a.Host).Int("pid", a.PID).Time("last_heartbeat", a.HeartbeatAt).
			Int("requeued", n).Msg("agent lost: its running tasks go to the others now")
	}
	return nil
}

// strandedBatch bounds the stranded tasks requeued per workspace and sweep.
const strandedBatch = 500

// workStreams are the streams whose messages carry tasks.
var workStreams = []string{events.TasksStream, events.CredentialsStream, events.KnowledgeStream}

// SweepStranded gives a new message to every stranded task (see SupervisorConfig.JS) and returns
// how many it requeued. The work streams keep a message until it is acknowledged, so a task's
// message is gone when its stream holds nothing on its subject, delivered or not: candidates of a
// workspace, band and kind whose subject holds messages are left alone (their message may be among
// them), and each requeue asks again, with the task's row locked, that its subject is empty. A
// task whose message still waits in the outbox is never a candidate. A late message of the old
// generation is acked unrun: the task runs once either way.
func (s *Supervisor) SweepStranded(ctx context.Context) (int, error) {
	if s.cfg.JS == nil || s.cfg.StrandedAfter < 0 {
		return 0, nil
	}
	busy := map[uuid.UUID]*store.Busy{}
	for _, name := range workStreams {
		subjects, err := s.subjects(ctx, name, ">")
		if err != nil {
			return 0, err
		}
		for subject := range subjects {
			addr, err := events.ParseJobSubject(subject)
			if err != nil {
				continue // a schedule: its task is not due yet
			}
			b := busy[addr.Workspace]
			if b == nil {
				b = &store.Busy{}
				busy[addr.Workspace] = b
			}
			b.Priorities, b.Kinds = append(b.Priorities, int32(addr.Priority)), append(b.Kinds, addr.Kind)
		}
	}
	workspaces, err := s.cfg.DB.WorkspaceIDs(ctx)
	if err != nil {
		return 0, err
	}
	gone := func(t store.Task) (bool, error) {
		subjects, err := s.subjects(ctx, events.StreamFor(t.Kind), events.SubjectFor(t.Priority, t.WorkspaceID, t.Kind))
		return len(subjects) == 0, err
	}
	message := func(t store.Task) store.OutboxMessage {
		env := TaskEnvelopeOf(t)
		return TaskMessage(&env, t.Generation)
	}
	n := 0
	for _, ws := range workspaces {
		b := busy[ws]
		if b == nil {
			b = &store.Busy{}
		}
		tasks, err := s.cfg.DB.StrandedTasks(ctx, ws, s.cfg.StrandedAfter, *b, strandedBatch)
		if err != nil {
			return n, err
		}
		for _, t := range tasks {
			ok, err := s.cfg.DB.RequeueStranded(ctx, ws, t.ID, s.cfg.StrandedAfter, gone, message)
			if err != nil {
				return n, err
			}
			if ok {
				n++
				s.log.Warn().Str("workspace", ws.String()).Str("task", t.ID.String()).Str("kind", t.Kind).Str("status", string(t.Status)).
					Time("since", t.UpdatedAt).Msg("a task waited with no message to deliver it: requeued")
			}
		}
	}
	return n, nil
}

// subjects are the subjects of a stream, matching filter, that hold messages.
func (s *Supervisor) subjects(ctx context.Context, stream, filter string) (map[string]uint64, error) {
	st, err := s.cfg.JS.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

// poolConsumers names the consumers of a pool on every work stream.
func poolConsumers(ctx context.Context, js jetstream.JetStream, pool string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, stream := range []string{events.TasksStream, events.CredentialsStream, events.KnowledgeStream} {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return nil, err
		}
		names := st.ConsumerNames(ctx)
		for name := range names.Name() {
			if name == pool+"-"+strings.ToLower(stream) || strings.HasPrefix(name, pool+"-p") && isBand(name[len(pool)+2:]) {
				out[stream] = append(out[stream], name)
			}
		}
		if err := names.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isBand(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && events.ValidatePriority(n) == nil
}

// PausePool pauses every consumer of a pool until until (recorded, so that a pool process that
// starts meanwhile starts paused) and returns the consumers paused.
func PausePool(ctx context.Context, db *store.DB, js jetstream.JetStream, pool string, until time.Time, by string) ([]string, error) {
	if err := db.SetPoolPause(ctx, pool, until, by); err != nil {
		return nil, err
	}
	return eachPoolConsumer(ctx, js, pool, func(stream, name string) error {
		_, err := js.PauseConsumer(ctx, stream, name, until)
		return err
	})
}

// ResumePool resumes every consumer of a pool.
func ResumePool(ctx context.Context, db *store.DB, js jetstream.JetStream, pool string) ([]string, error) {
	if err := db.ClearPoolPause(ctx, pool); err != nil {
		return nil, err
	}
	return eachPoolConsumer(ctx, js, pool, func(stream, name string) error {
		_, err := js.ResumeConsumer(ctx, stream, name)
		return err
	})
}

func eachPoolConsumer(ctx context.Context, js jetstream.JetStream, pool string, fn func(stream, name string) error) ([]string, error) {
	consumers, err := poolConsumers(ctx, js, pool)
	if err != nil {
		return nil, err
	}
	var done []string
	for stream, names := range consumers {
		for _, name := range names {
			if err := fn(stream, name); err != nil {
				return done, fmt.Errorf("consumer %s on %s: %w", name, stream, err)
			}
			done = append(done, name)
		}
	}
	slices.Sort(done)
	return done, nil
}

// writeMinutes stores what the pools measured per minute (agent_minutes, for the console's
// charts); ended minutes are forgotten once stored, a failed write keeps them for the next beat.
func (a *Agent) writeMinutes(ctx context.Context) {
	now := time.Now()
	var stats []store.MinuteStat
	for _, p := range a.cfg.Pools {
		stats = append(stats, p.minutes.snapshot()...)
	}
	if len(stats) == 0 {
		return
	}
	if err := a.cfg.DB.WriteAgentMinutes(ctx, a.ID(), stats); err != nil {
		a.log.Warn().Err(err).Msg("cannot record the last minutes' figures; next heartbeat")
		return
	}
	for _, p := range a.cfg.Pools {
		p.minutes.written(now)
	}
}
