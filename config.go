package mosaic

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/store"
)

// Config configures a Runtime. The connections and the registry are required; every other field
// has the documented default.
type Config struct {
	// DB is the running system's PostgreSQL pool (store.Open) on a migrated database (store.Migrator,
	// `mosaic migrate`). Required.
	DB *store.DB
	// NC is the NATS connection (events.Connect) and JS its JetStream, on a server whose streams
	// exist (events.ApplyTopology, as `mosaic dev` and `mosaic migrate` apply them). Required.
	NC *nats.Conn
	JS jetstream.JetStream
	// Registry holds the kinds the pools run; the client checks kinds and args against it at
	// publish time. Required.
	Registry *agents.Registry
	// Credentials lets handlers open the credentials their tasks declared (job.Credential).
	// Nil: job.Credential returns agents.ErrNoCredentials.
	Credentials *credentials.Vault

	// Pools are the worker pools to run, each one agents.PoolConfig: Name (default "default"),
	// Stream (default TASKS), Kinds, Priorities, Concurrency (default 8) and the rest. The runtime
	// sets their DB, JS, NC, Registry, Credentials and WorkerName, and their Logger, Observe and
	// TracerProvider where unset. None: the runtime publishes and runs its services but takes no
	// work, and does not join the agent registry (an API-only process).
	Pools []agents.PoolConfig
	// WorkerName is what task rows and the agent registry call this process. Default host:pid.
	WorkerName string
	// Version is the version this process reports in the agent registry (`mosaic agents`).
	// Default: none.
	Version string
	// Heartbeat is how often the process reports itself to the agent registry, and how often the
	// supervisor looks for agents silent for agents.MissedHeartbeats of their own intervals (it
	// marks them lost and requeues their tasks). Default 5s.
	Heartbeat time.Duration
	// StrandedAfter: a task that waits this long, unchanged, while its stream holds no message on
	// its subject has lost its message and gets a new one (agents.SupervisorConfig). Default 10m;
	// negative: never.
	StrandedAfter time.Duration
	// Retention is how long finished work is kept in a workspace without settings of its own
	// (store.Retention). Nil: store.DefaultRetention.
	Retention *store.Retention
	// CleanEvery is how often the retention cleaner deletes what retention no longer keeps; of
	// several processes, one cleans at a time. Default 1m; negative: this process never cleans.
	CleanEvery time.Duration
	// OnDrain is called when an operator asks this process to drain (`mosaic agents drain`).
	// Default: Drain with no time limit (the pools finish what they run and take no more; the
	// services go on).
	OnDrain func()

	// Observe, when set, sees every handler run of the pools (metrics.Registry.ObserveHandler).
	Observe func(agents.HandlerDone)
	// OnNak, when set, counts nak advisories per stream (metrics.Registry.ObserveNak).
	OnNak func(stream string)
	// OnCleaned and OnCleanPass, when set, see the cleaner's deletes and passes
	// (metrics.Registry.ObserveRetention, ObserveRetentionPass).
	OnCleaned   func(class string, rows, trail int)
	OnCleanPass func(took time.Duration)
	// TracerProvider, when set, traces every publish and delivery (OpenTelemetry). Nil: no spans.
	TracerProvider trace.TracerProvider
	// Logger receives the services' lines. Default: none.
	Logger *zerolog.Logger
}

// Defaults of Config.
const (
	DefaultHeartbeat  = 5 * time.Second
	DefaultCleanEvery = time.Minute
)

func (c *Config) setDefaults() {
	if c.WorkerName == "" {
		host, _ := os.Hostname()
		c.WorkerName = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.CleanEvery == 0 {
		c.CleanEvery = DefaultCleanEvery
	}
	if c.Retention == nil {
		def := store.DefaultRetention
		c.Retention = &def
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	c.Pools = slices.Clone(c.Pools) // the caller's slice stays as it was
	for i := range c.Pools {
		c.Pools[i] = c.pool(c.Pools[i])
	}
}

// pool is a pool's configuration as the runtime runs it: on the runtime's connections, under its
// worker name, with its hooks where the pool has none.
func (c *Config) pool(p agents.PoolConfig) agents.PoolConfig {
	p.DB, p.JS, p.NC, p.Registry, p.Credentials, p.WorkerName = c.DB, c.JS, c.NC, c.Registry, c.Credentials, c.WorkerName
	if p.Logger == nil {
		p.Logger = c.Logger
	}
	if p.Observe == nil {
		p.Observe = c.Observe
	}
	if p.TracerProvider == nil {
		p.TracerProvider = c.TracerProvider
	}
	return p
}

// Validate names each field that is wrong, the pools' own fields under Config.Pools[i].
func (c *Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("Config.DB is required"))
	}
	if c.NC == nil {
		errs = append(errs, errors.New("Config.NC is required"))
	}
	if c.JS == nil {
		errs = append(errs, errors.New("Config.JS is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("Config.Registry is required"))
	}
	if c.Heartbeat < 0 {
		errs = append(errs, fmt.Errorf("Config.Heartbeat %s is negative", c.Heartbeat))
	}
	if c.Retention != nil {
		if err := c.Retention.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Config.Retention: %w", err))
		}
	}
	for i, p := range c.Pools {
		if c.DB == nil || c.NC == nil || c.JS == nil || c.Registry == nil {
			break // the pools' checks would only repeat the missing connections
		}
		// NewPool applies the pool's defaults and validates them; it starts nothing.
		if _, err := agents.NewPool(c.pool(p)); err != nil {
			errs = append(errs, fmt.Errorf("Config.Pools[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
