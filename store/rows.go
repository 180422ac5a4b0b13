package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// pageLimit is a list's page size: 50 when not given, at most 500.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// cursorOf is a list's cursor as a statement takes it: NULL for the first page.
func cursorOf(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// queryRow runs sql, which returns at most one row, and reads the row into a T by column name
// (pgx.RowToStructByName): each exported field of T, embedded structs' included, takes the
// column its db tag names, and every column must have its field. No row: pgx.ErrNoRows.
func queryRow[T any](ctx context.Context, tx pgx.Tx, sql string, args ...any) (T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return pgx.CollectOneRow(rows, pgx.RowToStructByName[T])
}

// queryRows is queryRow for any number of rows: a T for each, an empty slice for none.
func queryRows[T any](ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[T])
}
