package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic"
	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/metrics"
	"github.com/mosaicstack/mosaic/store"
)

// builtinRegistry holds every kind this binary can run.
func builtinRegistry(creds *credentials.Vault, emb embed.Embedder, rotation credrotate.Config) *agents.Registry {
	reg := agents.NewRegistry()
	demo.Register(reg)
	credrotate.Register(reg, rotation)
	knowledge.Register(reg, knowledge.Config{DB: creds.DB, Embedder: emb})
	return reg
}

// workerKinds is what a process that runs workers opens before its runtime: the cipher (closed by
// close), the vault that opens credentials with it, the embedder, and the registry of every kind
// this binary runs.
type workerKinds struct {
	cipher   crypto.Cipher
	creds    *credentials.Vault
	embedder embed.Embedder
	registry *agents.Registry
	close    func()
}

// openKinds opens the cipher and the embedder of the flags and builds the registry; mreg (nil:
// none) observes the cipher's calls from the canary on and learns the kinds.
func openKinds(ctx context.Context, cf *cipherFlags, ef *embedderFlags, db *store.DB, dataDir string, mreg *metrics.Registry,
	log zerolog.Logger) (workerKinds, error) {
	if mreg != nil {
		cf.observe = mreg.ObserveTransit
	}
	cipher, closeCipher, err := cf.open(ctx, dataDir, log)
	if err != nil {
		return workerKinds{}, err
	}
	emb, err := ef.open()
	if err != nil {
		closeCipher()
		return workerKinds{}, err
	}
	k := workerKinds{cipher: cipher, creds: &credentials.Vault{DB: db, Cipher: cipher}, embedder: emb, close: closeCipher}
	k.registry = builtinRegistry(k.creds, emb, cf.rotation(k.creds))
	if mreg != nil {
		mreg.SetKinds(k.registry)
	}
	return k, nil
}

// poolFlags are the settings of the worker pools a process runs.
type poolFlags struct {
	queues       []string
	streams      []string
	kinds        []string
	priorities   []int
	concurrency  int
	name         string
	ackWait      time.Duration
	drainTimeout time.Duration
	heartbeat    time.Duration
	stranded     time.Duration
	retention    store.Retention
	cleanEvery   time.Duration
}

func (f *poolFlags) register(cmd *cobra.Command, concurrencyFlag string, defaultConcurrency int) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.queues, "queues", []string{"default"}, "pools to join (each is one durable consumer per priority band)")
	fl.StringSliceVar(&f.streams, "streams", []string{"tasks", "credentials", "knowledge"},
		"work to take: tasks (the TASKS stream), credentials (the rotation agent), knowledge (the indexing agent); split them to give each its own OpenBao policy")
	fl.StringSliceVar(&f.kinds, "kinds", nil, "kinds this worker takes (default: all; pools must not overlap)")
	fl.IntSliceVar(&f.priorities, "priorities", nil, "priorities served, 1…10 (default: all)")
	fl.IntVar(&f.concurrency, concurrencyFlag, defaultConcurrency, "handlers running at once in each pool")
	fl.StringVar(&f.name, "name", "", "this worker's name in task records (default host:pid)")
	fl.DurationVar(&f.ackWait, "ack-wait", 30*time.Second, "how long JetStream waits for a sign of life before redelivering")
	fl.DurationVar(&f.stranded, "stranded-after", 10*time.Minute, "a task that waits this long, unchanged, while its stream holds no message on its subject has lost its message and gets a new one (0: never)")
	fl.DurationVar(&f.heartbeat, "heartbeat", 5*time.Second, "how often this process reports itself to the agent registry; it is marked lost, and its tasks requeued, after 3 missed")
	fl.DurationVar(&f.retention.Succeeded, "retain-succeeded", store.DefaultRetention.Succeeded, "how long succeeded tasks are kept after they finish, with their audit trail (0: for good); a workspace's own setting wins")
	fl.DurationVar(&f.retention.Cancelled, "retain-cancelled", store.DefaultRetention.Cancelled, "how long cancelled tasks are kept (0: for good)")
	fl.DurationVar(&f.retention.Dead, "retain-dead", store.DefaultRetention.Dead, "how long dead tasks are kept (0: for good); one whose dead letter waits stays regardless")
	fl.DurationVar(&f.retention.DeadLetters, "retain-dead-letters", store.DefaultRetention.DeadLetters, "how long replayed or discarded dead letters are kept (0: for good); waiting ones are never deleted")
	fl.DurationVar(&f.cleanEvery, "clean-every", time.Minute, "how often this process's cleaner deletes what retention no longer keeps (0: never; of several processes, one cleans at a time)")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long running tasks may take to finish before they are interrupted (and resumed elsewhere)")
}

// runtimeConfig is the mosaic.Config of a process on st with these flags: its pools (none with
// concurrency 0), its services' settings, and mreg's hooks when it has metrics.
func (f *poolFlags) runtimeConfig(st *stack, reg *agents.Registry, creds *credentials.Vault, mreg *metrics.Registry,
	tracer trace.TracerProvider, onDrain func(), log *zerolog.Logger) mosaic.Config {
	cfg := mosaic.Config{DB: st.db, NC: st.nc, JS: st.js, Registry: reg, Credentials: creds, Pools: f.pools(),
		WorkerName: f.name, Version: currentVersion().Short(), Heartbeat: f.heartbeat, StrandedAfter: f.stranded,
		Retention: &f.retention, CleanEvery: f.cleanEvery, OnDrain: onDrain, TracerProvider: tracer, Logger: log}
	if f.stranded == 0 {
		cfg.StrandedAfter = -1 // --stranded-after 0: never
	}
	if f.cleanEvery == 0 {
		cfg.CleanEvery = -1 // --clean-every 0: never
	}
	if mreg != nil {
		cfg.Observe, cfg.OnNak = mreg.ObserveHandler, mreg.ObserveNak
		cfg.OnCleaned, cfg.OnCleanPass = mreg.ObserveRetention, mreg.ObserveRetentionPass
	}
	return cfg
}

// pools are the pools of --queues and --streams: on TASKS with --kinds, --priorities and
// --concurrency; on CREDENTIALS and KNOWLEDGE (the agents' jobs, left to others by a worker of
// chosen kinds) every job, at most 4 at once.
func (f *poolFlags) pools() []agents.PoolConfig {
	if f.concurrency == 0 {
		return nil
	}
	var out []agents.PoolConfig
	for _, q := range f.queues {
		for _, stream := range f.streamNames() {
			cfg := agents.PoolConfig{Name: q, Stream: stream, Kinds: f.kinds, Priorities: f.priorities, Concurrency: f.concurrency, AckWait: f.ackWait}
			if stream != events.TasksStream {
				if len(f.kinds) > 0 {
					continue
				}
				cfg.Kinds, cfg.Priorities, cfg.Concurrency = nil, nil, min(f.concurrency, 4)
			}
			out = append(out, cfg)
		}
	}
	return out
}

// streamNames are the streams of --streams.
func (f *poolFlags) streamNames() []string {
	var out []string
	for _, s := range f.streams {
		switch s {
		case "tasks":
			out = append(out, events.TasksStream)
		case "credentials":
			out = append(out, events.CredentialsStream)
		case "knowledge":
			out = append(out, events.KnowledgeStream)
		}
	}
	return out
}

func (f *poolFlags) validate() error {
	var errs []error
	if len(f.streams) == 0 {
		errs = append(errs, fmt.Errorf("%s: give tasks, credentials and/or knowledge", setting("streams")))
	}
	for _, s := range f.streams {
		if s != "tasks" && s != "credentials" && s != "knowledge" {
			errs = append(errs, fmt.Errorf("%s: %q is not tasks, credentials or knowledge", setting("streams"), s))
		}
	}
	if len(f.queues) == 0 {
		errs = append(errs, fmt.Errorf("%s: give at least one", setting("queues")))
	}
	if f.stranded != 0 && (f.stranded < time.Minute || f.stranded > 7*24*time.Hour) {
		// Below a minute, a task the relay has yet to publish would look stranded.
		errs = append(errs, fmt.Errorf("%s: %s is not 0 (never) or between 1m and 168h", setting("stranded-after"), f.stranded))
	}
	for flag, d := range map[string]time.Duration{"retain-succeeded": f.retention.Succeeded, "retain-cancelled": f.retention.Cancelled,
		"retain-dead": f.retention.Dead, "retain-dead-letters": f.retention.DeadLetters} {
		if d != 0 && (d < store.MinRetention || d > store.MaxRetention || d%time.Second != 0) {
			errs = append(errs, fmt.Errorf("%s: %s is not 0 (for good) or whole seconds from %s to %s", setting(flag), d, store.MinRetention, store.MaxRetention))
		}
	}
	if f.cleanEvery != 0 && (f.cleanEvery < time.Second || f.cleanEvery > 24*time.Hour) {
		errs = append(errs, fmt.Errorf("%s: %s is not 0 (never) or between 1s and 24h", setting("clean-every"), f.cleanEvery))
	}
	if f.heartbeat < 100*time.Millisecond || f.heartbeat > time.Minute {
		errs = append(errs, fmt.Errorf("%s: %s; want 100ms…1m", setting("heartbeat"), f.heartbeat))
	}
	for _, q := range f.queues {
		if err := events.ValidateKind(q); err != nil || len(q) > 32 {
			errs = append(errs, fmt.Errorf("%s: %q must be a short lower-case name", setting("queues"), q))
		}
	}
	if len(f.queues) > 1 && len(f.kinds) > 0 {
		errs = append(errs, fmt.Errorf("%s with several %s would overlap on the work queue; run one worker per pool", setting("kinds"), setting("queues")))
	}
	for _, k := range f.kinds {
		if err := events.ValidateKind(k); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", setting("kinds"), err))
		}
	}
	for _, p := range f.priorities {
		if events.ValidatePriority(p) != nil {
			errs = append(errs, fmt.Errorf("%s: %d is not 1…10", setting("priorities"), p))
		}
	}
	if f.concurrency < 0 || f.concurrency > 10000 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 0…10000", f.concurrency))
	}
	if f.ackWait < 500*time.Millisecond || f.ackWait > time.Hour {
		errs = append(errs, fmt.Errorf("%s: %s; want 500ms…1h", setting("ack-wait"), f.ackWait))
	}
	if f.drainTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s must not be negative", setting("drain-timeout")))
	}
	return errors.Join(errs...)
}

type workerFlags struct {
	stackFlags
	poolFlags
	cipherFlags
	embedderFlags
	metrics string
}

func newWorkerCmd() *cobra.Command {
	f := &workerFlags{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run worker pools that join the durable consumers (any number of workers share the work)",
		Long: `Run worker pools against an existing NATS and PostgreSQL: --nats-url and --database-url (or their
MOSAIC_* variables), else those of the running ` + "`mosaic dev`" + ` on --data-dir. Any number of workers may
run; they share each pool's consumers. SIGTERM or SIGINT drains: no new work is taken, running tasks
get --drain-timeout to finish, the rest are interrupted and resumed elsewhere from their checkpoints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, f) },
	}
	f.stackFlags.register(cmd, false)
	f.poolFlags.register(cmd, "concurrency", 8)
	f.cipherFlags.register(cmd)
	f.embedderFlags.register(cmd)
	cmd.Flags().StringVar(&f.metrics, "metrics", "", "address to serve Prometheus metrics on, at /metrics (e.g. 127.0.0.1:9464; empty: none)")
	return cmd
}

func runWorker(cmd *cobra.Command, f *workerFlags) (err error) {
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	if f.concurrency < 1 {
		return fmt.Errorf("%s must be at least 1", setting("concurrency"))
	}
	if err := errors.Join(f.stackFlags.validate(cmd), f.poolFlags.validate(), f.cipherFlags.validate(), f.embedderFlags.validate()); err != nil {
		return err
	}
	traces, err := startTracing(cmd.Context(), f.tracing(), log)
	if err != nil {
		return err
	}
	defer traces.shutdown(log) // last: after the pools and the client have ended their spans
	var metricsLn net.Listener
	if f.metrics != "" {
		// Taken first, like `mosaic dev --http`: a bad or taken address fails before anything starts.
		if metricsLn, err = listen(f.metrics, true, "metrics", log); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	if f.databaseURL == "" || f.natsURL == "" {
		var info devInfo
		b, err := os.ReadFile(filepath.Join(f.dataDir, "dev.json"))
		if err != nil || json.Unmarshal(b, &info) != nil {
			return fmt.Errorf("no database or NATS: set %s and %s, or run `mosaic dev` on %s",
				setting("database-url"), setting("nats-url"), setting("data-dir"))
		}
		if f.databaseURL == "" {
			f.databaseURL = info.DatabaseURL
		}
		if f.natsURL == "" {
			// The embedded server of that mosaic dev: log in as its system user, from the secret
			// in the same data dir.
			f.natsURL = info.NATSURL
			if f.natsUser == "" && f.natsToken == "" && f.natsCreds == "" {
				auth, err := loadNATSAuth(f.dataDir, false)
				switch {
				case err == nil:
					f.natsUser, f.natsPassword = auth.System()
				case !errors.Is(err, fs.ErrNotExist): // none: a mosaic dev on an external NATS
					return err
				}
			}
		}
	}
	ctx := cmd.Context()
	st, err := startStack(ctx, cmd, &f.stackFlags, f.cipherFlags.env, log, false)
	if err != nil {
		return err
	}
	defer st.close()
	var mreg *metrics.Registry
	if metricsLn != nil {
		mreg = newMetrics(st, log)
	}
	k, err := openKinds(ctx, &f.cipherFlags, &f.embedderFlags, st.db, f.dataDir, mreg, log)
	if err != nil {
		return err
	}
	defer k.close()
	creds, reg := k.creds, k.registry
	drained := make(chan struct{})
	var drainOnce sync.Once
	onDrain := func() { drainOnce.Do(func() { close(drained) }) }
	rt, err := mosaic.New(f.poolFlags.runtimeConfig(st, reg, creds, mreg, traces.tracerProvider(), onDrain, &log))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.StopAndCancel(context.Background())) }() // nil once Stop has run
	if err := rt.Start(ctx); err != nil {
		return err
	}
	if mreg != nil {
		defer serveMetrics(metricsLn, mreg, log)()
	}
	log.Info().Strs("queues", f.queues).Int("concurrency", f.concurrency).Msg("worker ready")
	select {
	case <-ctx.Done():
	case <-drained:
		log.Info().Msg("drain requested by an operator")
	case <-rt.Failed():
		log.Error().Err(rt.Err()).Msg("a service stopped: the worker stops")
	}
	log.Info().Dur("drain_timeout", f.drainTimeout).Msg("draining")
	drainCtx, cancel := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancel()
	return rt.Stop(drainCtx)
}
