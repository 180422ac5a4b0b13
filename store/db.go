package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RuntimeRole is the role every transaction of the running system takes: it is not superuser, owns
// no table and has no BYPASSRLS, so row-level security holds for everything it does.
const RuntimeRole = "mosaic_app"

// Config configures the runtime pool.
type Config struct {
	// URL of the PostgreSQL server (postgres://user:pass@host:port/db). Required. The user must be
	// RuntimeRole or a member of it (Bootstrap grants that to the owner).
	URL string
	// MaxConns bounds the pool. Default 16: on few cores, 16 concurrent writers beat 64.
	MaxConns int32
	// ConnectTimeout bounds the first connection and ping. Default 10s.
	ConnectTimeout time.Duration
	// ApplicationName shows in pg_stat_activity. Default "mosaic".
	ApplicationName string
}

// DB is the runtime pool. Every transaction goes through InWorkspace or AsSystem.
type DB struct {
	pool *pgxpool.Pool

	pgvecOnce sync.Once
	pgvec     bool // knowledge_embeddings has the pgvector column
}

// Open connects the runtime pool and checks that the server answers.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL == "" {
		return nil, errors.New("database URL is empty")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 16
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ApplicationName == "" {
		cfg.ApplicationName = "mosaic"
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s unreachable: %w", RedactURL(cfg.URL), err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that PostgreSQL answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Stat reports the pool's statistics.
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// InWorkspace is the one door to tenant data: it runs fn in a transaction that has taken the
// runtime role and the workspace setting (both transaction-local), and commits if fn returns nil.
// Row-level security then confines every statement of fn to that workspace.
func (db *DB) InWorkspace(ctx context.Context, workspaceID uuid.UUID, fn func(pgx.Tx) error) error {
	if workspaceID == uuid.Nil {
		return errors.New("store: InWorkspace needs a workspace id")
	}
	return db.run(ctx, enterWorkspaceSQL(workspaceID, uuid.Nil), fn)
}

// InWorkspaceAs is InWorkspace for a user of the workspace: the transaction also carries the
// user (mosaic.user_id), so that USER-scope rows of that user — and of no other — are visible.
// uuid.Nil is no user.
func (db *DB) InWorkspaceAs(ctx context.Context, workspaceID, userID uuid.UUID, fn func(pgx.Tx) error) error {
	if workspaceID == uuid.Nil {
		return errors.New("store: InWorkspaceAs needs a workspace id")
	}
	return db.run(ctx, enterWorkspaceSQL(workspaceID, userID), fn)
}

// inWorkspaces runs fn through the batch door: the runtime role and the listed workspaces
// (mosaic.workspace_ids), whose rows the engine's tables admit (migration 00011). For the
// engine's own system work that spans workspaces (the outbox relay); never for a caller's request.
func (db *DB) inWorkspaces(ctx context.Context, wss []uuid.UUID, fn func(pgx.Tx) error) error {
	if len(wss) == 0 {
		return errors.New("store: the batch door needs a workspace")
	}
	return db.run(ctx, "BEGIN; SELECT set_config('role', '"+RuntimeRole+"', true), set_config('mosaic.workspace_ids', '"+
		joinIDs(wss)+"', true), "+genericPlans, fn)
}

// AsSystem runs fn in a transaction under the runtime role with no workspace set: tenant tables
// show no rows and take no writes; the registry (workspaces, users) is readable.
func (db *DB) AsSystem(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.run(ctx, enterSystemSQL, fn)
}

func (db *DB) run(ctx context.Context, begin string, fn func(pgx.Tx) error) error {
	// The role and the setting travel with BEGIN in one round trip (simple protocol); the values
	// are a constant and a canonical UUID, never caller text.
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{BeginQuery: begin}, fn)
}

// genericPlans makes the engine's transactions use the generic plan of each prepared statement
// at once. Its statements take arrays of ids: PostgreSQL's custom plan for each call's arrays
// looks cheaper than the generic one (planned for a guessed array size), so it planned every
// call anew — 85 of a peek's 130 µs, 150–200 µs of each relay read and delete at 2 000 tasks/s.
// The statements are written so that the generic plan is the right one (lookups by key per id).
const genericPlans = "set_config('plan_cache_mode', 'force_generic_plan', true)"

var enterSystemSQL = "BEGIN; SELECT set_config('role', '" + RuntimeRole + "', true)"

// workspaceBatch starts a pipelined transaction through the door of workspace ws (no user):
// queue its statements, then send it with DB.pipeline.
func workspaceBatch(ws uuid.UUID) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT set_config('role', $1, true), set_config('mosaic.workspace_id', $2, true), set_config('mosaic.user_id', '', true)",
		RuntimeRole, ws.String())
	return b
}

func enterWorkspaceSQL(id, user uuid.UUID) string {
	u := ""
	if user != uuid.Nil {
		u = user.String()
	}
	return "BEGIN; SELECT set_config('role', '" + RuntimeRole + "', true), set_config('mosaic.workspace_id', '" +
		id.String() + "', true), set_config('mosaic.user_id', '" + u + "', true)"
}

// RedactURL returns a database or NATS URL with its password replaced, for logs and errors.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Listen calls fn with the payload of each notification on channel, on a connection of its own,
// until ctx ends; after a lost connection it reconnects (notifications sent meanwhile are lost,
// so listeners also poll). onConnect, if set, runs after each (re)connection.
func (db *DB) Listen(ctx context.Context, channel string, onConnect func(), fn func(payload string)) error {
	if !identRE.MatchString(channel) {
		return fmt.Errorf("store: channel %q is not an identifier", channel)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+channel)
			if err == nil {
				backoff = 100 * time.Millisecond
				if onConnect != nil {
					onConnect()
				}
				for err == nil {
					var n *pgconn.Notification
					n, err = conn.WaitForNotification(ctx)
					if err == nil {
						fn(n.Payload)
					}
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		}
	}
	return ctx.Err()
}
