package mosaic

import (
	"errors"
	"fmt"
)

var (
	// ErrStarted: Start on a runtime that is starting or running.
	ErrStarted = errors.New("mosaic: the runtime has started already")
	// ErrStopped: Start on a runtime that has stopped; a runtime runs once.
	ErrStopped = errors.New("mosaic: the runtime has stopped")
	// ErrServiceEnded is a ServiceError's Err when the service returned without an error while it
	// should have run on.
	ErrServiceEnded = errors.New("ended on its own")
)

// ServiceError is a service of the runtime (the outbox relay, the supervisor, …) that stopped on
// its own while the runtime ran: Runtime.Err and Stop return it, and Failed is closed.
type ServiceError struct {
	Service string // "outbox relay", "supervisor", "advisory watcher", "credential scheduler", "schedules", "retention cleaner"
	Err     error
}

func (e *ServiceError) Error() string { return fmt.Sprintf("mosaic: %s: %v", e.Service, e.Err) }
func (e *ServiceError) Unwrap() error { return e.Err }
