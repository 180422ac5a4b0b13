package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMigrationsUpDownUp(t *testing.T) {
	ctx := context.Background()
	url := pgtest.EmptyDatabase(t)
	m, err := store.NewMigrator(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tables := func() int {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	up, err := m.Up(ctx)
	if err != nil || len(up) == 0 {
		t.Fatalf("up: %v %v", up, err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Fatalf("after up, %s is not applied", s.Name)
		}
	}
	created := tables()
	if created == 0 {
		t.Fatal("up created no tables")
	}
	down, err := m.DownTo(ctx, 0)
	if err != nil || len(down) != len(up) {
		t.Fatalf("down: %v %v; want %d migrations rolled back", down, err, len(up))
	}
	if n := tables(); n != 0 {
		t.Fatalf("after down, %d tables remain", n)
	}
	again, err := m.Up(ctx)
	if err != nil || len(again) != len(up) {
		t.Fatalf("up again: %v %v", again, err)
	}
	if n := tables(); n != created {
		t.Fatalf("up again created %d tables; the first up created %d", n, created)
	}
	// Up with nothing pending does nothing.
	if more, err := m.Up(ctx); err != nil || len(more) != 0 {
		t.Fatalf("second up: %v %v", more, err)
	}
}
