package store_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// The RLS suite finds every table with a workspace_id column in the catalog, so a table added by
// a later migration is covered without touching this test: it seeds rows in two workspaces with a
// generic, catalog-driven row builder, then proves the wall holds for each table.

type column struct {
	name, typ        string
	notNull, hasDef  bool
	generated        bool
	checkDefinitions []string
}

type foreignKey struct {
	cols, refCols []string
	refTable      string
}

type tableInfo struct {
	name    string
	columns []column
	fks     []foreignKey
}

func tenantTables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
		ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 5 {
		t.Fatalf("found only %d tenant tables (%v): the catalog query is wrong", len(names), names)
	}
	return names
}

func describe(t *testing.T, conn *pgx.Conn, table string) tableInfo {
	t.Helper()
	ctx := context.Background()
	info := tableInfo{name: table}
	rows, err := conn.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       a.atthasdef, a.attidentity <> '' OR a.attgenerated <> '',
		       COALESCE((SELECT array_agg(pg_get_constraintdef(k.oid)) FROM pg_constraint k
		                 WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND a.attnum = ANY (k.conkey)), '{}')
		FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.hasDef, &c.generated, &c.checkDefinitions); err != nil {
			t.Fatal(err)
		}
		info.columns = append(info.columns, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = conn.Query(ctx, `
		SELECT (SELECT array_agg(a.attname ORDER BY u.i) FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
		          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n),
		       (SELECT array_agg(a.attname ORDER BY u.i) FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
		          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n),
		       k.confrelid::regclass::text
		FROM pg_constraint k WHERE k.conrelid = $1::regclass AND k.contype = 'f'`, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var fk foreignKey
		if err := rows.Scan(&fk.cols, &fk.refCols, &fk.refTable); err != nil {
			t.Fatal(err)
		}
		info.fks = append(info.fks, fk)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return info
}

var firstLiteral = regexp.MustCompile(`'([^']*)'::`)

// seedChoices satisfy the table checks that choose between nullable columns (one of two set),
// which the seeder, filling only what is NOT NULL, cannot guess.
var seedChoices = map[string]map[string]any{
	"schedules":     {"every_ms": 60000},
	"schedule_runs": {"skipped": "overlap"},
}

// seeder inserts one row into a table inside a workspace's door, creating the rows its foreign
// keys need first (parents in the same workspace, or registry rows).
type seeder struct {
	t      *testing.T
	conn   *pgx.Conn
	tables map[string]tableInfo
}

func (s *seeder) info(table string) tableInfo {
	if ti, ok := s.tables[table]; ok {
		return ti
	}
	ti := describe(s.t, s.conn, table)
	s.tables[table] = ti
	return ti
}

func (s *seeder) insert(ctx context.Context, tx pgx.Tx, ws uuid.UUID, table string) map[string]any {
	s.t.Helper()
	ti := s.info(table)
	values := map[string]any{}
	for _, c := range ti.columns {
		if c.name == "workspace_id" {
			values[c.name] = ws
		}
	}
	for col, v := range seedChoices[table] {
		values[col] = v
	}
	for _, fk := range ti.fks {
		if len(fk.cols) == 1 && fk.cols[0] == "workspace_id" {
			continue
		}
		needed := false
		for _, col := range fk.cols {
			for _, c := range ti.columns {
				if c.name == col && c.notNull && col != "workspace_id" {
					needed = true
				}
			}
		}
		if !needed {
			continue
		}
		parent := s.insert(ctx, tx, ws, fk.refTable)
		for i, col := range fk.cols {
			values[col] = parent[fk.refCols[i]]
		}
	}
	var names, params []string
	var args []any
	for _, c := range ti.columns {
		v, set := values[c.name]
		if !set {
			if !c.notNull || c.hasDef || c.generated {
				continue
			}
			v = s.value(c)
		}
		names = append(names, c.name)
		args = append(args, v)
		params = append(params, fmt.Sprintf("$%d", len(args)))
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING row_to_json(%s.*)",
		table, strings.Join(names, ", "), strings.Join(params, ", "), table)
	var row map[string]any
	if err := tx.QueryRow(ctx, sql, args...).Scan(&row); err != nil {
		s.t.Fatalf("seed %s: %v (the generic seeder could not build a valid row; teach it this column type or constraint)", table, err)
	}
	return row
}

func (s *seeder) value(c column) any {
	// An enumeration (IN (...), rendered "= ANY (ARRAY[...])") gives the value: its first literal.
	for _, def := range c.checkDefinitions {
		if !strings.Contains(def, "ANY (ARRAY[") {
			continue
		}
		if m := firstLiteral.FindStringSubmatch(def); m != nil {
			return m[1]
		}
	}
	if strings.Contains(strings.Join(c.checkDefinitions, " "), ":v[0-9]+:") {
		return "seed:v1:c2VlZA==" // a column that takes ciphertexts only
	}
	switch {
	case c.typ == "uuid":
		return uuid.New()
	case c.typ == "text" || strings.HasPrefix(c.typ, "character varying"):
		return "seed-" + uuid.NewString()[:8]
	case c.typ == "integer" || c.typ == "bigint" || c.typ == "smallint":
		return 1
	case c.typ == "real" || c.typ == "double precision" || strings.HasPrefix(c.typ, "numeric"):
		return 0
	case c.typ == "boolean":
		return false
	case c.typ == "jsonb" || c.typ == "json":
		return json.RawMessage(`{}`)
	case c.typ == "bytea":
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	case strings.HasPrefix(c.typ, "timestamp"):
		return "now"
	case strings.HasSuffix(c.typ, "[]"):
		return []string{}
	}
	panic("seeder: no value for type " + c.typ + " of column " + c.name)
}

func newWorkspace(t *testing.T, db *store.DB) uuid.UUID {
	t.Helper()
	w, err := db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "rls-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func countRows(t *testing.T, db *store.DB, ws uuid.UUID, sql string, args ...any) int {
	t.Helper()
	var n int
	run := func(tx pgx.Tx) error { return tx.QueryRow(context.Background(), sql, args...).Scan(&n) }
	var err error
	if ws == uuid.Nil {
		err = db.AsSystem(context.Background(), run)
	} else {
		err = db.InWorkspace(context.Background(), ws, run)
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestRowLevelSecurityOnEveryTenantTable(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	conn := pgtest.Conn(t)
	a, b := newWorkspace(t, db), newWorkspace(t, db)
	s := &seeder{t: t, conn: conn, tables: map[string]tableInfo{}}

	for _, table := range tenantTables(t, conn) {
		t.Run(table, func(t *testing.T) {
			s.t = t
			var force, enabled bool
			if err := conn.QueryRow(ctx, `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`,
				table).Scan(&enabled, &force); err != nil {
				t.Fatal(err)
			}
			if !enabled || !force {
				t.Fatalf("row level security: enabled=%v forced=%v; want both", enabled, force)
			}

			var rowA, rowB map[string]any
			for _, w := range []struct {
				id  uuid.UUID
				row *map[string]any
			}{{a, &rowA}, {b, &rowB}} {
				if err := db.InWorkspace(ctx, w.id, func(tx pgx.Tx) error {
					*w.row = s.insert(ctx, tx, w.id, table)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			ownA := countRows(t, db, a, "SELECT count(*) FROM "+table)
			ownB := countRows(t, db, b, "SELECT count(*) FROM "+table)
			if ownA == 0 || ownB == 0 {
				t.Fatalf("a workspace does not see its own rows: A=%d B=%d", ownA, ownB)
			}

			// No workspace set: nothing visible, nothing writable.
			if n := countRows(t, db, uuid.Nil, "SELECT count(*) FROM "+table); n != 0 {
				t.Errorf("without a workspace, SELECT sees %d rows; want 0", n)
			}
			insertCopy := copyInsertSQL(s.info(table))
			err := db.AsSystem(ctx, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, insertCopy, mustJSON(t, rowA))
				return err
			})
			if !store.IsRLSViolation(err) {
				t.Errorf("without a workspace, INSERT: got %v; want a row-level security violation", err)
			}

			// A cannot see, change or remove B's rows, nor write rows into B.
			if n := countRows(t, db, a, "SELECT count(*) FROM "+table+" WHERE workspace_id = $1", b); n != 0 {
				t.Errorf("workspace A sees %d rows of B", n)
			}
			if n := countRows(t, db, a, "SELECT count(*) FROM "+table+" WHERE workspace_id <> $1", a); n != 0 {
				t.Errorf("workspace A sees %d rows of other workspaces", n)
			}
			for _, stmt := range []string{
				"UPDATE " + table + " SET workspace_id = workspace_id WHERE workspace_id = $1",
				"DELETE FROM " + table + " WHERE workspace_id = $1",
			} {
				err := db.InWorkspace(ctx, a, func(tx pgx.Tx) error {
					tag, err := tx.Exec(ctx, stmt, b)
					if err == nil && tag.RowsAffected() != 0 {
						return fmt.Errorf("%d rows affected", tag.RowsAffected())
					}
					return err
				})
				if err != nil {
					t.Errorf("A: %s: %v; want no rows touched", stmt, err)
				}
			}
			err = db.InWorkspace(ctx, a, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, insertCopy, mustJSON(t, rowB))
				return err
			})
			if !store.IsRLSViolation(err) {
				t.Errorf("A inserting a row of B: got %v; want a row-level security violation", err)
			}
			err = db.InWorkspace(ctx, a, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "UPDATE "+table+" SET workspace_id = $1 WHERE workspace_id = $2", b, a)
				return err
			})
			if !store.IsRLSViolation(err) {
				t.Errorf("A moving its rows into B: got %v; want a row-level security violation", err)
			}
			if n := countRows(t, db, b, "SELECT count(*) FROM "+table); n != ownB {
				t.Errorf("B's rows changed from %d to %d", ownB, n)
			}
			if n := countRows(t, db, a, "SELECT count(*) FROM "+table); n != ownA {
				t.Errorf("A's rows changed from %d to %d", ownA, n)
			}
		})
	}
}

func copyInsertSQL(ti tableInfo) string {
	var cols []string
	for _, c := range ti.columns {
		if !c.generated {
			cols = append(cols, c.name)
		}
	}
	list := strings.Join(cols, ", ")
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM json_populate_record(NULL::%s, $1::json)", ti.name, list, list, ti.name)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRuntimeRoleCannotBypassRLS(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	var user string
	var super, bypass bool
	var owned int
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolbypassrls,
			(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
			 + (SELECT count(*) FROM pg_namespace s WHERE s.nspowner = r.oid)
			 + (SELECT count(*) FROM pg_proc p WHERE p.proowner = r.oid)
			FROM pg_roles r WHERE r.rolname = current_user`).Scan(&user, &super, &bypass, &owned)
	})
	if err != nil {
		t.Fatal(err)
	}
	if user != store.RuntimeRole {
		t.Fatalf("transactions run as %q; want %q", user, store.RuntimeRole)
	}
	if super || bypass || owned != 0 {
		t.Fatalf("runtime role: superuser=%v bypassrls=%v owns %d objects; want none of these", super, bypass, owned)
	}
	// The role is taken inside the workspace door too.
	ws := newWorkspace(t, db)
	err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_user`).Scan(&user)
	})
	if err != nil || user != store.RuntimeRole {
		t.Fatalf("in a workspace: current_user %q, %v", user, err)
	}
}
