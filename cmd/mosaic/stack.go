package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
	"github.com/mosaicstack/mosaic/store/localpg"
)

// stackFlags are the settings of the PostgreSQL and NATS a process uses.
type stackFlags struct {
	dataDir            string
	databaseURL        string
	runtimeDatabaseURL string
	dbMaxConns         int
	natsURL            string
	natsPort           int
	natsUser           string
	natsPassword       string
	natsToken          string
	natsCreds          string
	natsCA             string
	natsCert           string
	natsKey            string
	natsSyncAlways     bool
	// allowUnsafeDurability overrides the production durability guard.
	allowUnsafeDurability bool
	replicas              int
	eventsMaxGiB          int
	logLevel              string
	logFormat             string
	otelEndpoint          string
}

const defaultNATSPort = 4222

// dataDirMode lets others traverse the data directory but not list it: PostgreSQL runs as an
// unprivileged user when we are root and must reach its cluster under pg/. The secrets inside
// (admin.token, api.key, pg/*.password) are 0600.
const dataDirMode = 0o711

func (f *stackFlags) register(cmd *cobra.Command, embedded bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", ".mosaic", "directory for the embedded PostgreSQL cluster, JetStream store and admin token")
	fl.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL of the schema owner (empty: a local cluster under --data-dir)")
	fl.StringVar(&f.runtimeDatabaseURL, "runtime-database-url", "", "PostgreSQL URL for the running system (default: --database-url); its user must be mosaic_app or a member")
	fl.IntVar(&f.dbMaxConns, "db-max-conns", 16, "PostgreSQL connections in the pool")
	fl.StringVar(&f.natsURL, "nats-url", "", "NATS server URL(s), comma-separated (empty: an embedded server)")
	if embedded {
		fl.IntVar(&f.natsPort, "nats-port", defaultNATSPort, "port of the embedded NATS server (0: any free port)")
	}
	fl.BoolVar(&f.natsSyncAlways, "nats-sync-always", false,
		"embedded: JetStream fsyncs every write (slower; survives power loss); external: the servers run with sync_interval: always")
	fl.BoolVar(&f.allowUnsafeDurability, "allow-unsafe-durability", false,
		"let production run with a single-replica CREDENTIALS stream on a server that does not fsync every write")
	fl.StringVar(&f.natsUser, "nats-user", "", "NATS user")
	fl.StringVar(&f.natsPassword, "nats-password", "", "NATS password (prefer MOSAIC_NATS_PASSWORD)")
	fl.StringVar(&f.natsToken, "nats-token", "", "NATS token (prefer MOSAIC_NATS_TOKEN)")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "NATS credentials file (.creds)")
	fl.StringVar(&f.natsCA, "nats-ca", "", "CA file to verify the NATS server's TLS certificate")
	fl.StringVar(&f.natsCert, "nats-cert", "", "client certificate for NATS TLS")
	fl.StringVar(&f.natsKey, "nats-key", "", "client key for NATS TLS")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas of each stream (1 embedded, 3 in a cluster)")
	fl.IntVar(&f.eventsMaxGiB, "events-max-gib", 1, "GiB of domain events the EVENTS stream keeps (besides 7 days), oldest dropped first; JetStream reserves that much disk (docs/operations.md: what a day costs)")
	fl.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "auto", "auto (console on a terminal, else JSON), console or json")
	fl.StringVar(&f.otelEndpoint, "otel-endpoint", "",
		"OpenTelemetry collector's OTLP/HTTP base URL for traces, e.g. http://localhost:4318 (empty: OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing)")
}

func (f *stackFlags) natsConfig(log *zerolog.Logger) events.ConnConfig {
	return events.ConnConfig{
		URL: f.natsURL, User: f.natsUser, Password: f.natsPassword, Token: f.natsToken,
		CredsFile: f.natsCreds, CAFile: f.natsCA, CertFile: f.natsCert, KeyFile: f.natsKey, Logger: log,
	}
}

// validate checks every setting before anything starts, so that a bad one creates nothing.
func (f *stackFlags) validate(cmd *cobra.Command) error {
	var errs []error
	if f.dataDir == "" {
		errs = append(errs, fmt.Errorf("%s is empty", setting("data-dir")))
	}
	for flag, u := range map[string]string{"database-url": f.databaseURL, "runtime-database-url": f.runtimeDatabaseURL} {
		if u == "" {
			continue
		}
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			errs = append(errs, fmt.Errorf("%s: %s is not a postgres:// URL", setting(flag), store.RedactURL(u)))
			continue
		}
		if _, err := pgx.ParseConfig(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", setting(flag), err))
		}
	}
	if f.runtimeDatabaseURL != "" && f.databaseURL == "" {
		errs = append(errs, fmt.Errorf("%s needs %s", setting("runtime-database-url"), setting("database-url")))
	}
	if f.dbMaxConns < 1 || f.dbMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("%s: %d is not between 1 and 1000", setting("db-max-conns"), f.dbMaxConns))
	}
	if cmd.Flags().Lookup("nats-port") != nil && (f.natsPort < 0 || f.natsPort > 65535) {
		errs = append(errs, fmt.Errorf("%s: %d is not a port (0 to 65535)", setting("nats-port"), f.natsPort))
	}
	if f.natsURL != "" {
		if err := f.natsConfig(nil).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", setting("nats-url"), err))
		}
	}
	if f.eventsMaxGiB < 1 || f.eventsMaxGiB > 1024 {
		errs = append(errs, fmt.Errorf("%s: %d; want 1…1024", setting("events-max-gib"), f.eventsMaxGiB))
	}
	if f.replicas != 1 && f.replicas != 3 && f.replicas != 5 {
		errs = append(errs, fmt.Errorf("%s: %d; want 1, 3 or 5", setting("replicas"), f.replicas))
	}
	if err := f.tracing().validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tracing is the process's tracing settings: --otel-endpoint and the OTEL_* variables.
func (f *stackFlags) tracing() tracingSettings {
	return tracingSettings{endpoint: f.otelEndpoint, getenv: os.Getenv}
}

// localRuntimeLogin is the running system's login on the local cluster (deploy/postgres/init.sh
// names the same role for a real server).
const localRuntimeLogin = "mosaic_runtime"

// stack is the PostgreSQL and NATS a process runs on, embedded or external.
type stack struct {
	log      zerolog.Logger
	dataDir  string
	pg       *localpg.Server // nil with an external database
	ownerURL string
	db       *store.DB
	ns       *events.Server // nil with an external NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	natsURL  string
}

// startStack brings up PostgreSQL (local cluster unless a URL is set), applies the migrations,
// brings up NATS (embedded unless a URL is set) and applies the stream topology; in env
// production it refuses an unsafe durability or an open NATS server. On error, whatever it
// started is stopped again.
func startStack(ctx context.Context, cmd *cobra.Command, f *stackFlags, env string, log zerolog.Logger, embedded bool) (_ *stack, err error) {
	s := &stack{log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.dataDir, err = filepath.Abs(f.dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dataDir, dataDirMode); err != nil {
		return nil, fmt.Errorf("%s: %w", setting("data-dir"), err)
	}

	// PostgreSQL.
	var localRuntimeURL string
	s.ownerURL = f.databaseURL
	if s.ownerURL == "" {
		if !embedded {
			return nil, fmt.Errorf("no database: set %s", setting("database-url"))
		}
		if s.pg, err = localpg.Start(ctx, localpg.Config{Dir: filepath.Join(s.dataDir, "pg"), Logger: &log}); err != nil {
			return nil, err
		}
		password, err := readOrCreateSecret(filepath.Join(s.dataDir, "pg", "owner.password"))
		if err != nil {
			return nil, err
		}
		runtimePassword, err := readOrCreateSecret(filepath.Join(s.dataDir, "pg", "runtime.password"))
		if err != nil {
			return nil, err
		}
		if err := store.Provision(ctx, s.pg.SuperuserURL("postgres"), store.Provisioning{
			Database: "mosaic", Owner: "mosaic_owner", OwnerPassword: password,
			Runtime: localRuntimeLogin, RuntimePassword: runtimePassword,
		}); err != nil {
			return nil, err
		}
		s.ownerURL = s.pg.URL("mosaic_owner", password, "mosaic")
		// The running system logs in as a member of the runtime role, never as the owner: as in
		// production, no statement it runs can RESET ROLE out of row-level security.
		localRuntimeURL = s.pg.URL(localRuntimeLogin, runtimePassword, "mosaic")
	} else {
		log.Info().Str("database", store.RedactURL(s.ownerURL)).Msg("using the configured PostgreSQL")
	}
	mig, err := store.NewMigrator(ctx, s.ownerURL)
	if err != nil {
		return nil, err
	}
	applied, err := mig.Up(ctx)
	mig.Close()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if len(applied) > 0 {
		log.Info().Ints64("versions", applied).Msg("migrations applied")
	}
	runtimeURL := f.runtimeDatabaseURL
	if runtimeURL == "" {
		runtimeURL = cmp.Or(localRuntimeURL, s.ownerURL)
	}
	if s.db, err = store.Open(ctx, store.Config{URL: runtimeURL, MaxConns: int32(f.dbMaxConns)}); err != nil {
		return nil, err
	}

	// NATS.
	s.natsURL = f.natsURL
	if s.natsURL == "" {
		if !embedded {
			return nil, fmt.Errorf("no NATS: set %s", setting("nats-url"))
		}
		port := f.natsPort
		if port == 0 {
			port = -1
		}
		auth, err := loadNATSAuth(s.dataDir, true)
		if err != nil {
			return nil, err
		}
		cfg := events.ServerConfig{StoreDir: filepath.Join(s.dataDir, "nats"), Port: port, SyncAlways: f.natsSyncAlways, Logger: &log, Auth: auth}
		s.ns, err = events.StartServer(cfg)
		if errors.Is(err, events.ErrPortInUse) && !cmd.Flags().Changed("nats-port") {
			log.Warn().Int("port", port).Msg("the default NATS port is taken; the embedded server takes a free port")
			cfg.Port = -1
			s.ns, err = events.StartServer(cfg)
		}
		if err != nil {
			if errors.Is(err, events.ErrPortInUse) {
				return nil, fmt.Errorf("%s: %w", setting("nats-port"), err)
			}
			return nil, err
		}
		s.natsURL = s.ns.ClientURL()
		log.Info().Str("url", s.natsURL).Str("store", cfg.StoreDir).Msg("embedded NATS JetStream started")
	}
	ncfg := f.natsConfig(&log)
	ncfg.URL = s.natsURL
	if s.ns != nil {
		ncfg.User, ncfg.Password = s.ns.Auth().System()
	}
	if s.nc, s.js, err = events.Connect(ctx, ncfg); err != nil {
		return nil, err
	}
	changes, err := events.ApplyTopology(ctx, s.js, events.Topology(events.TopologyConfig{Replicas: f.replicas, EventsMaxBytes: int64(f.eventsMaxGiB) << 30}))
	for _, c := range changes {
		if c.Action != "unchanged" {
			ev := log.Info().Str("stream", c.Stream).Str("action", c.Action)
			if len(c.Fields) > 0 {
				ev = ev.Strs("fields", c.Fields)
			}
			ev.Msg("stream topology applied")
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkDurability(ctx, s, f, env); err != nil {
		return nil, err
	}
	if err := checkNATSAuth(s, env); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stack) close() {
	if s.nc != nil {
		_ = s.nc.Drain()
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = s.pg.Stop(ctx)
		cancel()
	}
}

// listen opens addr; when the address was not set explicitly and its port is taken, it takes a
// free port on the same host and says so.
func listen(addr string, explicit bool, flag string, log zerolog.Logger) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not host:port", setting(flag), addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil && !explicit {
		log.Warn().Str("addr", addr).Str("flag", "--"+flag).Msg("the default address is taken; listening on a free port instead")
		l, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s:%s: %w", setting(flag), host, port, err)
	}
	return l, nil
}

// ErrOpenNATS: production against a NATS server that lets anyone in.
var ErrOpenNATS = errors.New("NATS without authentication")

// checkNATSAuth refuses production against a NATS server that does not require authentication:
// any process that reaches it could read every workspace's tasks and publish into any of them.
// The embedded server always requires it; an external one must (deploy/nats).
func checkNATSAuth(st *stack, env string) error {
	if env != "production" || st.nc.AuthRequired() {
		return nil
	}
	return fmt.Errorf("%w: the server at %s lets clients in without credentials; --env production refuses it (configure users and accounts as deploy/nats does)",
		ErrOpenNATS, events.RedactURL(st.natsURL))
}

// ErrUnsafeDurability: production on a CREDENTIALS stream that one crash can lose acknowledged
// writes from.
var ErrUnsafeDurability = errors.New("unsafe durability for production")

// checkDurability refuses production when the CREDENTIALS stream has one replica and JetStream
// does not fsync every write: a Jepsen analysis of NATS 2.12.1 found acknowledged writes lost under
// the default lazy fsync, and a lost credential rotation can lock a user out.
func checkDurability(ctx context.Context, st *stack, f *stackFlags, env string) error {
	if env != "production" || f.allowUnsafeDurability || f.natsSyncAlways {
		return nil
	}
	str, err := st.js.Stream(ctx, events.CredentialsStream)
	if err != nil {
		return err
	}
	if n := str.CachedInfo().Config.Replicas; n >= 3 {
		return nil
	}
	return fmt.Errorf("%w: the %s stream has %d replica(s) and JetStream does not fsync every write, so a crash can lose "+
		"acknowledged credential jobs (a Jepsen analysis of NATS 2.12.1 lost acknowledged writes under the default lazy fsync); "+
		"run a 3-node cluster with %s 3, or fsync every write (%s; on external servers sync_interval: always), or pass %s",
		ErrUnsafeDurability, events.CredentialsStream, str.CachedInfo().Config.Replicas, setting("replicas"), setting("nats-sync-always"),
		setting("allow-unsafe-durability"))
}
