// Package pgtest gives a test package a real, migrated PostgreSQL database.
//
// With MOSAIC_DATABASE_URL unset, each test binary starts a throwaway cluster with the machine's
// PostgreSQL binaries (store/localpg) in a temporary directory, on a free loopback port, and removes
// it at the end. With MOSAIC_DATABASE_URL set, it creates a database of its own on that server
// (the URL's user needs CREATEDB, and CREATEROLE unless the mosaic_app role exists) and drops it at
// the end. Either way the package shares one migrated database; tests isolate themselves by using
// workspaces of their own.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/store"
	"github.com/mosaicstack/mosaic/store/localpg"
)

const ownerRole = "mosaic_owner"

var (
	env struct {
		server   *localpg.Server
		adminURL string // superuser (local) or the configured URL: may create databases
		password string // owner password (local)
		ownerURL string
	}
	created []string
	mu      sync.Mutex
)

// Main runs the package's tests against a fresh migrated database. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the tests' exit code, for a TestMain that has more
// to clean up.
func Run(m *testing.M) int {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	return code
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var tmp string
	if ext := os.Getenv("MOSAIC_DATABASE_URL"); ext != "" {
		env.adminURL = ext
	} else {
		var err error
		if tmp, err = os.MkdirTemp("", "mosaic-pgtest-"); err != nil {
			return 0, err
		}
		env.server, err = localpg.Start(ctx, localpg.Config{Dir: tmp, Ephemeral: true})
		if err != nil {
			os.RemoveAll(tmp)
			return 0, err
		}
		env.adminURL = env.server.SuperuserURL("postgres")
		env.password = randomHex(12)
	}
	defer func() {
		dropCreated()
		if env.server != nil {
			stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
			_ = env.server.Destroy(stopCtx)
			stop()
		}
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	url, err := newDatabase(ctx)
	if err != nil {
		return 0, err
	}
	env.ownerURL = url
	mig, err := store.NewMigrator(ctx, url)
	if err != nil {
		return 0, err
	}
	_, err = mig.Up(ctx)
	mig.Close()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return m.Run(), nil
}

// OwnerURL connects as the schema owner to the package's migrated database.
func OwnerURL(t testing.TB) string {
	t.Helper()
	if env.ownerURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	return env.ownerURL
}

// DB opens a runtime pool on the package's database, closed at cleanup.
func DB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{URL: OwnerURL(t), MaxConns: 8})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// Conn opens a plain connection as the schema owner (no runtime role, no workspace), closed at
// cleanup: for checking the catalog and for what a test must see around RLS.
func Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), OwnerURL(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// EmptyDatabase creates a database with nothing in it and returns an owner URL for it; it is
// dropped when the package's tests end.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := newDatabase(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// Server is the throwaway cluster, or nil when MOSAIC_DATABASE_URL is set.
func Server() *localpg.Server { return env.server }

func newDatabase(ctx context.Context) (string, error) {
	name := "mosaic_test_" + randomHex(6)
	if env.server != nil {
		err := store.Provision(ctx, env.adminURL, store.Provisioning{Database: name, Owner: ownerRole, OwnerPassword: env.password})
		if err != nil {
			return "", err
		}
		remember(name)
		return env.server.URL(ownerRole, env.password, name), nil
	}
	conn, err := pgx.Connect(ctx, env.adminURL)
	if err != nil {
		return "", fmt.Errorf("MOSAIC_DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create test database (the MOSAIC_DATABASE_URL user needs CREATEDB): %w", err)
	}
	remember(name)
	u, err := url.Parse(env.adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func remember(name string) {
	mu.Lock()
	created = append(created, name)
	mu.Unlock()
}

func dropCreated() {
	if env.server != nil {
		return // the whole cluster goes away
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.adminURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for _, name := range created {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FindInDatabase scans every text, bytea, json and jsonb column of every table in the package's
// database, bypassing row-level security (as superuser), and returns "table.column" for each
// column in which needle occurs. It fails the test if it cannot bypass RLS.
func FindInDatabase(t testing.TB, needle string) []string {
	t.Helper()
	return FindInDatabaseAt(t, OwnerURL(t), needle)
}

// FindInDatabaseAt is FindInDatabase for another database of the package (FreshDB's URL).
func FindInDatabaseAt(t testing.TB, dbURL, needle string) []string {
	t.Helper()
	u, err := url.Parse(env.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbNameOf(t, dbURL)
	return FindWith(t, u.String(), needle)
}

// FindWith is FindInDatabase for any database, through superURL: a superuser's (or BYPASSRLS
// user's) URL of it — a `mosaic dev` cluster's owner, say. Columns of type uuid are scanned too.
func FindWith(t testing.TB, superURL, needle string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	var privileged bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&privileged); err != nil {
		t.Fatal(err)
	}
	if !privileged {
		t.Fatalf("pgtest: FindInDatabase needs a superuser or BYPASSRLS user in MOSAIC_DATABASE_URL")
	}
	rows, err := conn.Query(ctx, `
		SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
		  AND c.data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb', 'ARRAY', 'uuid')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, c := range cols {
		q := fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %q WHERE strpos(%q::text, $1) > 0)`, c.table, c.name)
		if c.typ == "bytea" {
			q = fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %q WHERE position(convert_to($1, 'UTF8') in %q) > 0)`, c.table, c.name)
		}
		var hit bool
		if err := conn.QueryRow(ctx, q, needle).Scan(&hit); err != nil {
			t.Fatalf("pgtest: scan %s.%s: %v", c.table, c.name, err)
		}
		if hit {
			found = append(found, c.table+"."+c.name)
		}
	}
	return found
}

func dbNameOf(t testing.TB, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path[1:]
}

// freshMu serialises FreshDB's migrations.
var freshMu sync.Mutex

// FreshDB creates and migrates a database of the test's own — for work that walks every workspace
// (key rotation, schedulers), which must not meet the package's other tests — and opens a runtime
// pool on it, closed at cleanup. It returns the pool and the owner URL.
func FreshDB(t testing.TB) (*store.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Provisioning (the owner's password) and migrations (grants to the runtime role) write
	// cluster-wide roles: two at once collide in the catalog ("tuple concurrently updated").
	freshMu.Lock()
	defer freshMu.Unlock()
	dbURL := EmptyDatabase(t)
	mig, err := store.NewMigrator(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	_, err = mig.Up(ctx)
	mig.Close()
	if err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	db, err := store.Open(ctx, store.Config{URL: dbURL, MaxConns: 8})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db, dbURL
}

// LoginRole creates a role that logs in with password (set as a SCRAM verifier) and returns a
// postgres:// URL for it on the package's database, without the password; the role is dropped at
// cleanup. The admin connection needs CREATEROLE.
func LoginRole(t testing.TB, password string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	name := "mosaic_login_" + randomHex(6)
	verifier, err := store.ScramVerifier([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+name+" LOGIN PASSWORD "+store.QuoteLiteral(verifier)); err != nil {
		t.Fatalf("pgtest: create role (the MOSAIC_DATABASE_URL user needs CREATEROLE): %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), env.adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+name)
	})
	u, err := url.Parse(OwnerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(name)
	return u.String()
}
