package agents

import (
	"errors"
	"fmt"
	"time"
)

// Fate is what the engine does with a task once an attempt's handler has returned: its error
// decides (the package overview tells the rules), and so does why its context ended, if it did.
type Fate uint8

const (
	// FateSucceeded: the handler returned nil. The task succeeded with its result; the message
	// is acked.
	FateSucceeded Fate = iota + 1
	// FateRetried: an ordinary error with attempts left. The task runs again after the retry
	// policy's backoff, or after RetryAfter's delay.
	FateRetried
	// FateSnoozed: Snooze(d). The task runs again after d; the attempt does not count.
	FateSnoozed
	// FatePermanent: Permanent(err). The task is dead-lettered at once.
	FatePermanent
	// FateExhausted: an error on the task's last attempt. The task is dead-lettered.
	FateExhausted
	// FateCancelled: the task was cancelled while it ran (its context ended with ErrCancelled).
	FateCancelled
	// FateRequeued: the pool stopped while the handler ran (its context ended with ErrShutdown).
	// The task goes back to the queue at once; the attempt does not count.
	FateRequeued
)

func (f Fate) String() string {
	switch f {
	case FateSucceeded:
		return "succeeded"
	case FateRetried:
		return "retried"
	case FateSnoozed:
		return "snoozed"
	case FatePermanent:
		return "dead (permanent)"
	case FateExhausted:
		return "dead (max attempts)"
	case FateCancelled:
		return "cancelled"
	case FateRequeued:
		return "requeued"
	}
	return fmt.Sprintf("Fate(%d)", uint8(f))
}

// retryPolicy is the kind's retry policy (WorkerConfig.RetryPolicy), else the pool's.
func (r *registered) retryPolicy(pool RetryPolicy) RetryPolicy {
	if r.cfg.RetryPolicy != nil {
		return r.cfg.RetryPolicy
	}
	return pool
}

// fateOf is the fate of an attempt (1-based, of maxAttempts) whose handler returned err, its
// context having ended with cause (nil: it had not), and for FateSnoozed and FateRetried the delay
// before the task runs again (policy's backoff unless RetryAfter set it).
func fateOf(err, cause error, attempt, maxAttempts int, policy RetryPolicy) (Fate, time.Duration) {
	var (
		permanent *PermanentError
		snooze    *SnoozeError
		retry     *RetryAfterError
	)
	switch {
	case err == nil:
		return FateSucceeded, 0
	case errors.Is(cause, ErrCancelled):
		return FateCancelled, 0
	case errors.Is(cause, ErrShutdown):
		return FateRequeued, 0
	case errors.As(err, &snooze):
		return FateSnoozed, snooze.Delay
	case errors.As(err, &permanent):
		return FatePermanent, 0
	case attempt >= maxAttempts:
		return FateExhausted, 0
	case errors.As(err, &retry):
		return FateRetried, retry.Delay
	}
	return FateRetried, policy.NextRetry(attempt, err)
}
