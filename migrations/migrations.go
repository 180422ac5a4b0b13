// Package migrations holds Mosaic's PostgreSQL schema as numbered goose migrations, embedded in
// the binary. store.Migrate applies them; `mosaic migrate up|down|status` drives it by hand.
package migrations

import "embed"

// FS holds the migration files (NNNNN_name.sql, goose format).
//
//go:embed *.sql
var FS embed.FS
