package agents

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnknownKind: no worker is registered for the task's kind.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrInvalidArgs: the args do not decode into the worker's type or fail its Validate.
	ErrInvalidArgs = errors.New("invalid args")
	// ErrInvalidSpec: a task spec breaks a rule (priority, delay, sizes…).
	ErrInvalidSpec = errors.New("invalid task")
	// ErrCancelled is the cause of a job's context when its task was cancelled.
	ErrCancelled = errors.New("task cancelled")
	// ErrProgressTimeout is the cause when a handler made no progress within its progress timeout.
	ErrProgressTimeout = errors.New("no progress within the progress timeout")
	// ErrAttemptTimeout is the cause when an attempt ran longer than the task's timeout.
	ErrAttemptTimeout = errors.New("attempt timed out")
	// ErrShutdown is the cause when the pool stopped before the handler finished.
	ErrShutdown = errors.New("worker shutting down")
	// ErrFenced: a newer delivery holds the task; this one must stop and not ack.
	ErrFenced = errors.New("fenced: a newer delivery holds the task")
	// ErrNotRunning: a job method was called after its delivery ended.
	ErrNotRunning = errors.New("the job's delivery has ended")
	// ErrClientClosed: the client was closed before the publish.
	ErrClientClosed = errors.New("agents: the client is closed")
	// ErrCredentialNotDeclared: the task did not list this credential when it was published.
	ErrCredentialNotDeclared = errors.New("credential not declared by the task")
	// ErrNoCredentials: this process has no vault to open credentials with.
	ErrNoCredentials = errors.New("no credential store configured")
)

// PermanentError ends a task at once: no retry, straight to the dead letters.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + errString(e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the task is dead-lettered without further attempts.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RetryAfterError retries after a set delay instead of the backoff.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %s", e.Delay, errString(e.Err))
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter retries the task after d (the attempt counts).
func RetryAfter(d time.Duration, err error) error { return &RetryAfterError{Delay: d, Err: err} }

// SnoozeError runs the task again later without using an attempt.
type SnoozeError struct{ Delay time.Duration }

func (e *SnoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.Delay) }

// Snooze runs the task again after d; the attempt does not count against max attempts.
func Snooze(d time.Duration) error { return &SnoozeError{Delay: d} }

// PanicError is a recovered panic of a handler.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
