package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

// CheckpointArgs run bench.checkpoint: one checkpoint, then done.
type CheckpointArgs struct {
	N int `json:"n"`
}

// Kind implements agents.JobArgs.
func (CheckpointArgs) Kind() string { return "bench.checkpoint" }

// LatencyArgs run bench.latency: the handler notes how long ago the task was published.
type LatencyArgs struct {
	At int64 `json:"at"` // unix nanoseconds, just before Publish
}

// Kind implements agents.JobArgs.
func (LatencyArgs) Kind() string { return "bench.latency" }

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func benchRegistry(lat *latencies) *agents.Registry {
	reg := agents.NewRegistry()
	demo.Register(reg)
	agents.AddWorker(reg, agents.WorkFunc[CheckpointArgs](func(ctx context.Context, job *agents.Job[CheckpointArgs]) error {
		return job.Checkpoint(ctx, map[string]int{"done": job.Args.N})
	}))
	agents.AddWorker(reg, agents.WorkFunc[LatencyArgs](func(ctx context.Context, job *agents.Job[LatencyArgs]) error {
		d := time.Since(time.Unix(0, job.Args.At))
		lat.mu.Lock()
		lat.d = append(lat.d, d)
		lat.mu.Unlock()
		return nil
	}))
	return reg
}

// system is Mosaic as a worker process runs it: the relay and one pool.
type system struct {
	ws     uuid.UUID
	client *agents.Client
	pool   *agents.Pool
	cancel context.CancelFunc
	done   chan struct{}
	// handled counts handlers that returned nil (the pool's Observe): the run polls it, and asks
	// PostgreSQL only once it is complete.
	handled atomic.Int64
}

func startSystem(ctx context.Context, e *env, cfg config, reg *agents.Registry) (*system, error) {
	w, err := e.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "bench-" + uuid.NewString()[:8]})
	if err != nil {
		return nil, err
	}
	s := &system{ws: w.ID, done: make(chan struct{})}
	if s.client, err = agents.NewClient(agents.ClientConfig{DB: e.db, Registry: reg, JS: e.js}); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	relay := outbox.NewRelay(outbox.RelayConfig{DB: e.db, JS: e.js, BatchSize: 1000})
	go func() { _ = relay.Run(rctx); close(s.done) }()
	s.pool, err = agents.NewPool(agents.PoolConfig{DB: e.db, JS: e.js, NC: e.nc, Registry: reg,
		Concurrency: cfg.concurrency, MaxAckPending: max(20000, 2*cfg.inflight), WorkerName: "bench",
		CommitExecutors: cfg.executors, CommitBatch: cfg.commitBatch,
		Observe: func(d agents.HandlerDone) {
			if d.Err == nil {
				s.handled.Add(1)
			}
		}})
	if err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

func (s *system) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.pool.Stop(ctx)
	s.client.Close()
	s.cancel()
	<-s.done
}

// waitStream waits until the TASKS stream holds n messages (the relay has published them).
func waitStream(ctx context.Context, e *env, n uint64) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		s, err := e.js.Stream(ctx, events.TasksStream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs >= n {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the relay did not publish %d tasks within 5 minutes", n)
}

func countStatus(ctx context.Context, e *env, ws uuid.UUID, status store.Status) (int, error) {
	var n int
	err := e.db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE workspace_id = $1 AND status = $2`, ws, status).Scan(&n)
	})
	return n, err
}

// countSucceeded counts the succeeded tasks of the run's workspaces: through the RLS door for one,
// in one query as the server's superuser for many (a transaction per workspace, a thousand times
// per poll, would weigh on the run it measures).
func countSucceeded(ctx context.Context, e *env, wss []uuid.UUID) (int, error) {
	if len(wss) == 1 {
		return countStatus(ctx, e, wss[0], store.StatusSucceeded)
	}
	cfg, err := pgx.ParseConfig(e.adminURL)
	if err != nil {
		return 0, err
	}
	cfg.Database = "mosaic_bench"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE workspace_id = ANY ($1) AND status = $2`, wss, store.StatusSucceeded).Scan(&n)
	return n, err
}

// waitDone waits until the handlers have returned n successes (polled in memory), then until
// PostgreSQL holds n succeeded tasks (jobs): the figure ends at the last committed success, and
// polling the database all along would weigh on the run it measures.
func waitDone(start time.Time, n int, handled *atomic.Int64, committed func() (int, error)) error {
	last, lastAt := int64(-1), time.Now()
	for handled.Load() < int64(n) {
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("%d of %d handlers returned after 10 minutes", handled.Load(), n)
		}
		if h := handled.Load(); h != last {
			last, lastAt = h, time.Now()
		} else if time.Since(lastAt) > 3*time.Second {
			say("    (stalled: %d of %d handlers returned, none in 3 s)", h, n)
			lastAt = time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	stalled := time.Now()
	for {
		got, err := committed()
		if err != nil {
			return err
		}
		if got >= n {
			if d := time.Since(stalled); d > 2*time.Second {
				say("    (every handler had returned %s before the last end was committed)", d.Round(time.Millisecond))
			}
			return nil
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("%d of %d committed after 10 minutes", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// spreadWorkspaces returns n workspaces for the spread runs, created once per bench run.
func (e *env) spreadWorkspaces(ctx context.Context, n int) ([]uuid.UUID, error) {
	for len(e.spread) < n {
		w, err := e.db.CreateWorkspace(ctx, store.NewWorkspace{Name: fmt.Sprintf("spread-%d", len(e.spread))})
		if err != nil {
			return nil, err
		}
		e.spread = append(e.spread, w.ID)
	}
	return e.spread[:n], nil
}

// mosaicThroughput publishes cfg.tasks tasks, then runs them with cfg.concurrency handlers: tasks/s
// from the pool's start to the last committed success.
func mosaicThroughput(ctx context.Context, e *env, cfg config, checkpoint bool, workspaces int) (float64, error) {
	if err := e.reset(ctx); err != nil {
		return 0, err
	}
	reg := benchRegistry(&latencies{})
	s, err := startSystem(ctx, e, cfg, reg)
	if err != nil {
		return 0, err
	}
	defer s.stop()
	wss := []uuid.UUID{s.ws}
	if workspaces > 1 {
		if wss, err = e.spreadWorkspaces(ctx, workspaces); err != nil {
			return 0, err
		}
	}
	specs := make([]agents.TaskSpec, 0, 10000)
	for i := 0; i < cfg.tasks; i++ {
		ws := wss[i%len(wss)] // round-robin
		spec := agents.TaskSpec{WorkspaceID: ws, Kind: "demo.echo", Args: map[string]int{"n": i}}
		if checkpoint {
			spec = agents.TaskSpec{WorkspaceID: ws, Kind: "bench.checkpoint", Args: CheckpointArgs{N: i}}
		}
		specs = append(specs, spec)
		if len(specs) == cap(specs) || i == cfg.tasks-1 {
			if _, err := s.client.PublishMany(ctx, specs); err != nil {
				return 0, err
			}
			specs = specs[:0]
		}
	}
	if err := waitStream(ctx, e, uint64(cfg.tasks)); err != nil {
		return 0, err
	}
	var cleaned *cleaning
	if cfg.cleaner {
		if cleaned, err = seedFinished(ctx, e, cfg.tasks); err != nil {
			return 0, err
		}
	}
	e.vacuum(ctx, e.ownerURL)
	prof := startProfile(ctx, e)
	cpu := markCPU(e)
	start := time.Now()
	if cleaned != nil {
		cleaned.start(ctx, e)
	}
	if err := s.pool.Start(ctx); err != nil {
		return 0, err
	}
	err = waitDone(start, cfg.tasks, &s.handled, func() (int, error) { return countSucceeded(ctx, e, wss) })
	if err != nil {
		return 0, err
	}
	took := time.Since(start).Seconds()
	cpu.report(e, cfg.tasks, "task")
	if cleaned != nil {
		cleaned.report(took)
	}
	if cfg.pgstats {
		prof.report(ctx, cfg.tasks, took)
	}
	return float64(cfg.tasks) / took, nil
}

// latencyWarmup is how many tasks run before a latency run is measured.
const latencyWarmup = 20000

// mosaicLatency publishes at a steady cfg.rate for cfg.latencyFor, one Publish (one transaction)
// per task, and measures from just before Publish to the handler's start.
func mosaicLatency(ctx context.Context, e *env, cfg config, rate int) (p50, p99 float64, err error) {
	lat := &latencies{}
	s, err := startSystem(ctx, e, cfg, benchRegistry(lat))
	if err != nil {
		return 0, 0, err
	}
	defer s.stop()
	if err := s.pool.Start(ctx); err != nil {
		return 0, 0, err
	}
	time.Sleep(time.Second) // the pool's consumers are up
	// A system in its steady state: the workspace has run tasks before, and the statistics know it
	// (plans made while the tables looked empty would scan a whole workspace per lookup later).
	warm := make([]agents.TaskSpec, latencyWarmup)
	for i := range warm {
		warm[i] = agents.TaskSpec{WorkspaceID: s.ws, Kind: "demo.echo"}
	}
	if _, err := s.client.PublishMany(ctx, warm); err != nil {
		return 0, 0, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		n, err := countStatus(ctx, e, s.ws, store.StatusSucceeded)
		if err != nil {
			return 0, 0, err
		}
		if n >= latencyWarmup {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("warm-up: %d of %d tasks done after a minute", n, latencyWarmup)
		}
	}
	e.vacuum(ctx, e.ownerURL)
	pubLat := &latencies{}
	prof := startProfile(ctx, e)
	runStart := time.Now()
	const publishers = 8
	interval := time.Duration(float64(time.Second) * publishers / float64(rate))
	total := int(float64(rate) * cfg.latencyFor.Seconds())
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(time.Duration(p) * interval / publishers)
			for i := p; i < total; i += publishers {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				t0 := time.Now()
				_, err := s.client.Publish(ctx, agents.TaskSpec{WorkspaceID: s.ws, Kind: "bench.latency", Args: LatencyArgs{At: t0.UnixNano()}})
				if err != nil {
					errs <- err
					return
				}
				pubLat.mu.Lock()
				pubLat.d = append(pubLat.d, time.Since(t0))
				pubLat.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	// Wait for every task to start, however late: a backlog shows in the percentiles.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		lat.mu.Lock()
		n := len(lat.d)
		lat.mu.Unlock()
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%d of %d latency tasks started", n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cfg.pgstats {
		prof.report(ctx, total, time.Since(runStart).Seconds())
	}
	sort.Slice(pubLat.d, func(i, j int) bool { return pubLat.d[i] < pubLat.d[j] })
	say("    the Publish call alone: p50 %s, p99 %s", pubLat.d[len(pubLat.d)/2].Round(time.Microsecond), pubLat.d[len(pubLat.d)*99/100].Round(time.Microsecond))
	lat.mu.Lock()
	defer lat.mu.Unlock()
	sort.Slice(lat.d, func(i, j int) bool { return lat.d[i] < lat.d[j] })
	ms := func(q float64) float64 {
		return float64(lat.d[int(q*float64(len(lat.d)-1))]) / float64(time.Millisecond)
	}
	return ms(0.50), ms(0.99), nil
}

// cleaning is a retention cleaner at work during a throughput run: it deletes the tasks (and
// audit rows) of an earlier run, seeded as succeeded two hours ago, while the pool runs.
type cleaning struct {
	cancel  context.CancelFunc
	done    chan struct{}
	deleted atomic.Int64
	trail   atomic.Int64
	began   time.Time
	ended   atomic.Int64 // Unix ns when the last seeded task was deleted
	seeded  int
}

// seedFinished writes n succeeded tasks (with one audit row each) that finished two hours ago, in
// a workspace of their own, as an earlier run would have left them.
func seedFinished(ctx context.Context, e *env, n int) (*cleaning, error) {
	w, err := e.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "bench-old-" + uuid.NewString()[:8]})
	if err != nil {
		return nil, err
	}
	err = e.db.InWorkspace(ctx, w.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `WITH t AS (
			INSERT INTO tasks (workspace_id, id, kind, status, args, attempt, fence, worker, result, created_at, started_at, finished_at, updated_at)
			SELECT $1, gen_random_uuid(), 'demo.echo', 'succeeded', jsonb_build_object('n', i), 1, 4294967297, 'bench',
				jsonb_build_object('n', i), now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours'
			FROM generate_series(1, $2) i RETURNING id, finished_at)
			INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker, started_at)
			SELECT $1, id, finished_at, 'succeeded', 'succeeded', 1, 4294967297, 'bench', finished_at FROM t`, w.ID, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seed the cleaner's work: %w", err)
	}
	return &cleaning{seeded: n}, nil
}

func (c *cleaning) start(ctx context.Context, e *env) {
	cctx, cancel := context.WithCancel(ctx)
	c.cancel, c.done, c.began = cancel, make(chan struct{}), time.Now()
	ret := store.DefaultRetention
	ret.Succeeded = time.Hour // the seeded tasks ended 2 h ago; this run's are kept
	cl, err := store.NewCleaner(store.CleanerConfig{DB: e.db, Defaults: &ret, Interval: time.Second,
		OnDeleted: func(class string, rows, trail int) {
			if c.deleted.Add(int64(rows)) >= int64(c.seeded) && c.ended.Load() == 0 {
				c.ended.Store(time.Now().UnixNano())
			}
			c.trail.Add(int64(trail))
		}})
	if err != nil {
		panic(err) // a constant, valid configuration
	}
	go func() { defer close(c.done); _ = cl.Run(cctx) }()
}

func (c *cleaning) report(took float64) {
	c.cancel()
	<-c.done
	at := "not all within the run"
	if end := c.ended.Load(); end != 0 {
		at = fmt.Sprintf("all within %.1f s of the run's %.1f s", time.Duration(end-c.began.UnixNano()).Seconds(), took)
	}
	say("    cleaner: deleted %d of %d seeded tasks and %d audit rows, %s", c.deleted.Load(), c.seeded, c.trail.Load(), at)
}
