package main

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
	"github.com/mosaicstack/mosaic/store/localpg"
)

// env is the one PostgreSQL server and the one NATS server every workload of a run uses.
type env struct {
	dir      string
	pg       *localpg.Server
	adminURL string // superuser, for provisioning
	ownerURL string // Mosaic's database, as its owner
	riverURL string // River's database, as the same owner
	db       *store.DB
	ns       *events.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	// statements: pg_stat_statements is loaded in the bench's cluster (pgprofile.go).
	statements bool
	spread     []uuid.UUID // the workspaces of the spread runs
}

const benchPassword = "bench-owner-password"

func setupEnv(ctx context.Context, concurrency int) (*env, error) {
	e := &env{}
	var err error
	if e.dir, err = os.MkdirTemp("", "mosaic-bench-"); err != nil {
		return nil, err
	}
	if url := os.Getenv("MOSAIC_DATABASE_URL"); url != "" {
		e.adminURL = url
	} else {
		// Durable settings (fsync on), as a production server would run.
		e.pg, err = localpg.Start(ctx, localpg.Config{Dir: filepath.Join(e.dir, "pg"), MaxConnections: 300, Ephemeral: os.Getenv("BENCH_EPHEMERAL") != "",
			Settings: map[string]string{"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all", "pg_stat_statements.track_planning": "on"}})
		if err != nil {
			return nil, err
		}
		e.adminURL = e.pg.SuperuserURL("postgres")
	}
	for _, db := range []string{"mosaic_bench", "river_bench"} {
		if err := store.Provision(ctx, e.adminURL, store.Provisioning{Database: db, Owner: "mosaic_owner", OwnerPassword: benchPassword}); err != nil {
			return nil, err
		}
	}
	e.ownerURL = e.dbURL("mosaic_bench")
	if e.pg != nil {
		if conn, err := pgx.Connect(ctx, e.pg.SuperuserURL("mosaic_bench")); err == nil {
			_, err = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
			e.statements = err == nil
			conn.Close(ctx)
		}
	}
	e.riverURL = e.dbURL("river_bench")
	mig, err := store.NewMigrator(ctx, e.ownerURL)
	if err != nil {
		return nil, err
	}
	_, err = mig.Up(ctx)
	mig.Close()
	if err != nil {
		return nil, err
	}
	if e.db, err = store.Open(ctx, store.Config{URL: e.ownerURL, MaxConns: 32}); err != nil {
		return nil, err
	}
	if e.ns, err = events.StartServer(events.ServerConfig{StoreDir: filepath.Join(e.dir, "nats"), Port: -1, Auth: events.GenerateServerAuth()}); err != nil {
		return nil, err
	}
	if e.nc, e.js, err = events.Connect(ctx, e.ns.SystemConn("bench")); err != nil {
		return nil, err
	}
	if _, err := events.ApplyTopology(ctx, e.js, events.Topology(events.TopologyConfig{})); err != nil {
		return nil, err
	}
	return e, nil
}

// provision creates (or empties) a further Mosaic database on the run's server, migrated, and
// returns its owner URL.
func (e *env) provision(ctx context.Context, db string) (string, error) {
	if err := store.Provision(ctx, e.adminURL, store.Provisioning{Database: db, Owner: "mosaic_owner", OwnerPassword: benchPassword}); err != nil {
		return "", err
	}
	url := e.dbURL(db)
	mig, err := store.NewMigrator(ctx, url)
	if err != nil {
		return "", err
	}
	defer mig.Close()
	if _, err := mig.Up(ctx); err != nil {
		return "", err
	}
	return url, nil
}

func (e *env) dbURL(db string) string {
	if e.pg != nil {
		return e.pg.URL("mosaic_owner", benchPassword, db)
	}
	return fmt.Sprintf("postgres://mosaic_owner:%s@%s/%s", benchPassword, hostOf(e.adminURL), db)
}

func hostOf(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "127.0.0.1:5432"
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

// reset empties the task tables before a throughput run, as the River runs empty river_job:
// every run starts from the same empty tables.
func (e *env) reset(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, e.ownerURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "TRUNCATE tasks, task_events, outbox, dead_letters")
	return err
}

// vacuum keeps earlier runs' dead rows from weighing on the next one.
func (e *env) vacuum(ctx context.Context, url string) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		say("    VACUUM ANALYZE: %v", err)
	}
	_, _ = conn.Exec(ctx, "CHECKPOINT")
}

func (e *env) close() {
	if e.nc != nil {
		e.nc.Close()
	}
	if e.ns != nil {
		e.ns.Shutdown()
	}
	if e.db != nil {
		e.db.Close()
	}
	if e.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = e.pg.Destroy(ctx)
		cancel()
	}
	os.RemoveAll(e.dir)
}
