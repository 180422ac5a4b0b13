package events

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidSubject: a subject that is not one of Mosaic's shapes.
	ErrInvalidSubject = errors.New("invalid subject")
	// ErrInvalidKind: a kind that is not dot-separated lower-case words of at most 128 bytes.
	ErrInvalidKind = errors.New("invalid kind")
	// ErrInvalidPriority: a priority outside 1…10.
	ErrInvalidPriority = errors.New("priority must be between 1 and 10")
	// ErrInvalidEnvelope: a task message whose body or headers cannot be read as a task.
	ErrInvalidEnvelope = errors.New("invalid task envelope")
	// ErrInvalidEvent: a domain event whose body cannot be read as one (DecodeEvent).
	ErrInvalidEvent = errors.New("invalid domain event")
)

// TopologyConflictError reports streams that exist with settings Mosaic cannot change in place
// (retention, storage). They are left as they are.
type TopologyConflictError struct {
	Conflicts []string // one line per conflicting setting: "TASKS: retention is limits, want workqueue"
}

func (e *TopologyConflictError) Error() string {
	return fmt.Sprintf("existing streams conflict with Mosaic's topology (left unchanged; delete or migrate them): %s",
		strings.Join(e.Conflicts, "; "))
}
