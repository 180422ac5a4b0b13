package store

import (
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrNotFound: no row matched (or the row belongs to another workspace, which RLS hides).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write collides with an existing row (a unique key).
	ErrConflict = errors.New("already exists")
	// ErrForbidden: the caller may see the row but not make this change.
	ErrForbidden = errors.New("forbidden")
	// ErrFenced: a fenced write touched no row: a newer delivery holds the task.
	ErrFenced = errors.New("fenced: a newer delivery holds the task")
	// ErrValueBound: a credential's provider or metadata (where a rotation sends its value) was to
	// change without a new value; they are bound to the value it was stored with.
	ErrValueBound = errors.New("a credential's provider and metadata are bound to its value: give the value again to change them")
)

// QueueFullError: QueueFederationRequest refused a request to connect, for want of room.
type QueueFullError struct {
	// Source is the refused request's source; FromSource, how many of its requests wait.
	Source     string
	FromSource int
	// Pending is how many requests wait in all.
	Pending int
	// BySource: the source holds as many requests as it may. Otherwise the queue is full, of
	// sources holding one request each (none gives way to a newcomer).
	BySource bool
}

func (e *QueueFullError) Error() string {
	if e.BySource {
		return fmt.Sprintf("%d requests to connect from %s wait already", e.FromSource, e.Source)
	}
	return fmt.Sprintf("%d requests to connect wait already", e.Pending)
}

// valueBoundCode is the SQLSTATE of the credential_value_binding trigger (migration 00009): Mosaic's
// own, so not one of pgerrcode's.
const valueBoundCode = "MOS01"

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation.
func IsUniqueViolation(err error) bool { return hasCode(err, pgerrcode.UniqueViolation) }

// IsValueBound reports whether err is the refusal of a credential's provider or metadata changed
// without its value (ErrValueBound, or the database's own SQLSTATE for it).
func IsValueBound(err error) bool {
	return errors.Is(err, ErrValueBound) || hasCode(err, valueBoundCode)
}

// IsRLSViolation reports whether err is a row-level-security refusal (insufficient_privilege,
// raised when a row fails a policy's WITH CHECK).
func IsRLSViolation(err error) bool { return hasCode(err, pgerrcode.InsufficientPrivilege) }

// IsForeignKeyViolation reports whether err is PostgreSQL's foreign_key_violation.
func IsForeignKeyViolation(err error) bool { return hasCode(err, pgerrcode.ForeignKeyViolation) }

// IsDataException reports whether err is one of PostgreSQL's data exceptions (class 22): a value
// its column cannot hold (a number beyond numeric's range, a string too long, a bad character).
func IsDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgerrcode.IsDataException(pgErr.Code)
}

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
