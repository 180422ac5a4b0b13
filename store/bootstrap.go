package store

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
)

// Provisioning describes a database that Provision creates on a server where we are superuser.
type Provisioning struct {
	// Database to create (if missing), owned by Owner.
	Database string
	// Owner is the login role that owns the schema and runs migrations. It is not a superuser,
	// so FORCE ROW LEVEL SECURITY holds it too.
	Owner         string
	OwnerPassword string
	// Runtime, when set, is a login for the running system: a member of the runtime role and
	// nothing else (not the owner, so no statement it runs can RESET ROLE to the owner's powers).
	Runtime         string
	RuntimePassword string
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Provision creates the owner role, the runtime role and the database (each only if missing),
// connected as a superuser (superURL). The local development cluster and the tests use it; a
// managed server is prepared by its administrator instead (see docs/operations.md).
func Provision(ctx context.Context, superURL string, p Provisioning) error {
	if !identRE.MatchString(p.Database) || !identRE.MatchString(p.Owner) || (p.Runtime != "" && !identRE.MatchString(p.Runtime)) {
		return fmt.Errorf("store: database %q, owner %q and runtime login %q must be lower-case SQL identifiers", p.Database, p.Owner, p.Runtime)
	}
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(ctx)
	// Passwords go to the server as SCRAM verifiers: a statement the server logs (on an error, or
	// with statement logging on) never holds a password, and neither does a log tail Mosaic prints.
	ownerVerifier, err := ScramVerifier([]byte(p.OwnerPassword))
	if err != nil {
		return err
	}
	runtimeVerifier := ""
	if p.Runtime != "" {
		if runtimeVerifier, err = ScramVerifier([]byte(p.RuntimePassword)); err != nil {
			return err
		}
	}
	stmts := []string{
		// Roles are cluster-wide and several processes may provision at once: tolerate the race.
		`DO $$ BEGIN CREATE ROLE ` + RuntimeRole + ` NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
		 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		`DO $$ BEGIN CREATE ROLE ` + p.Owner + ` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
		 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		`ALTER ROLE ` + p.Owner + ` PASSWORD ` + QuoteLiteral(ownerVerifier),
		`GRANT ` + RuntimeRole + ` TO ` + p.Owner,
	}
	if p.Runtime != "" {
		stmts = append(stmts,
			`DO $$ BEGIN CREATE ROLE `+p.Runtime+` LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
			 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
			`ALTER ROLE `+p.Runtime+` PASSWORD `+QuoteLiteral(runtimeVerifier),
			`GRANT `+RuntimeRole+` TO `+p.Runtime)
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("store: provision roles: %w", err)
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, p.Database).Scan(&exists); err != nil {
		return fmt.Errorf("store: provision: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+p.Database+` OWNER `+p.Owner); err != nil && !isDuplicateDatabase(err) {
			return fmt.Errorf("store: create database %s: %w", p.Database, err)
		}
	}
	return nil
}

// EnsureRuntimeRole makes sure RuntimeRole exists and that the connected (owner) user may take it.
// It creates what is missing when the user has the privilege, and otherwise says what an
// administrator must run.
func EnsureRuntimeRole(ctx context.Context, conn *pgx.Conn) error {
	var exists, member bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
		COALESCE((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1), false)`,
		RuntimeRole).Scan(&exists, &member)
	if err != nil {
		return fmt.Errorf("store: look up role %s: %w", RuntimeRole, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, `DO $$ BEGIN CREATE ROLE `+RuntimeRole+` NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`)
		if err != nil {
			return fmt.Errorf("store: the runtime role %s does not exist and this user cannot create it "+
				"(as an administrator: CREATE ROLE %s NOLOGIN; GRANT %s TO <owner>): %w", RuntimeRole, RuntimeRole, RuntimeRole, err)
		}
	}
	if !member {
		if _, err := conn.Exec(ctx, `GRANT `+RuntimeRole+` TO CURRENT_USER`); err != nil {
			return fmt.Errorf("store: this user must be a member of %s (as an administrator: GRANT %s TO <owner>): %w",
				RuntimeRole, RuntimeRole, err)
		}
	}
	return nil
}

func isDuplicateDatabase(err error) bool {
	return hasCode(err, pgerrcode.DuplicateDatabase) || IsUniqueViolation(err)
}
