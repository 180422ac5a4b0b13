package mdfile

import (
	"errors"
	"fmt"
)

var (
	// ErrSyntax: the front matter is broken (never closed, not YAML, not a map, a key given
	// twice…).
	ErrSyntax = errors.New("front matter syntax")
	// ErrInvalidValue: a key has a value it cannot take (missing or empty title, a slug that is not
	// a slug, an unknown status or visibility, a bad tag), or a Doc breaks the same rules.
	ErrInvalidValue = errors.New("invalid value")
	// ErrDuplicateSlug: two files of one directory, or two docs written together, share a slug.
	ErrDuplicateSlug = errors.New("duplicate slug")
	// ErrExists: WriteDir would overwrite an existing file and overwrite is false.
	ErrExists = errors.New("file exists")
)

// ParseError is a file that is not a valid entry. It names the file, the line (1-based, counting
// from the first line of the file; 0 when the problem belongs to no single line) and what is wrong.
// Err is ErrSyntax or ErrInvalidValue, so callers can test
// the kind with errors.Is.
type ParseError struct {
	File string // the name given to Parse
	Line int    // 1-based line number; 0 when not tied to a line
	Msg  string // what is wrong, naming the key and value
	Err  error  // the kind of error (a sentinel of this package)
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// FileError is one file that could not be read: it did not parse, could not be opened, or its slug
// was already taken by an earlier file. Err is a *ParseError, an I/O error or wraps ErrDuplicateSlug.
type FileError struct {
	Path string
	Err  error
}

// Error reports the path and the problem; a *ParseError already names the path and is not
// prefixed again.
func (e FileError) Error() string {
	var pe *ParseError
	if errors.As(e.Err, &pe) && pe.File == e.Path {
		return e.Err.Error()
	}
	return e.Path + ": " + errString(e.Err)
}

func (e FileError) Unwrap() error { return e.Err }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// valueError is an ErrInvalidValue with its own message.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return ErrInvalidValue }

func invalid(format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...)}
}
