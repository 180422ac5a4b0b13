package events

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Domain events are the JSON bodies on mosaic.events.<workspace>.<type>, one shape per family of
// types. Producers (agents, agents/credrotate) marshal these structs; subscribers read any of
// them with DecodeEvent. A new field is added, never renamed or removed.

// DomainEvent is the body of a task's domain event: task.succeeded, task.failed (an attempt
// failed and will be retried), task.dead and task.cancelled.
type DomainEvent struct {
	ID          uuid.UUID `json:"id"`
	Type        string    `json:"type"`
	WorkspaceID uuid.UUID `json:"workspace_id"`
	TaskID      uuid.UUID `json:"task_id"`
	Kind        string    `json:"kind"`
	// Attempt that ended (0 when the task ended without running: out of attempts, cancelled).
	Attempt int `json:"attempt"`
	// Error of the attempt; empty for task.succeeded.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

// SucceededEvent is the task.succeeded event of the attempt that ended with fence. Its id, which
// is also its Nats-Msg-Id, is that end's (a name-based UUID of workspace, task and fence): the
// same each time it is built, so that JetStream keeps one copy of an end's event sent twice
// within its duplicate window, and a subscriber can tell a late copy by its id.
func SucceededEvent(ws, task uuid.UUID, kind string, attempt int, fence int64) DomainEvent {
	name := make([]byte, 0, 2*36+2+20) // "<ws>/<task>/<fence>", without fmt: one allocation per end
	name = append(appendUUID(name, ws), '/')
	name = append(appendUUID(name, task), '/')
	id := uuid.NewSHA1(succeededSpace, strconv.AppendInt(name, fence, 10))
	return DomainEvent{ID: id, Type: "task.succeeded", WorkspaceID: ws, TaskID: task, Kind: kind, Attempt: attempt,
		At: time.Now().UTC()}
}

// appendUUID appends u's canonical text (uuid.UUID.String's) to b.
func appendUUID(b []byte, u uuid.UUID) []byte {
	b = append(hex.AppendEncode(b, u[0:4]), '-')
	b = append(hex.AppendEncode(b, u[4:6]), '-')
	b = append(hex.AppendEncode(b, u[6:8]), '-')
	b = append(hex.AppendEncode(b, u[8:10]), '-')
	return hex.AppendEncode(b, u[10:16])
}

// succeededSpace is the UUID namespace of SucceededEvent's ids.
var succeededSpace = uuid.MustParse("6f1c2f0e-8a4b-5d7e-9c1a-3b2d4e5f6a70")

// DeadMessageEvent is the body of message.dead: a message that JetStream gave up on outside a
// worker's own path (max deliveries, terminated), recorded as a dead letter.
type DeadMessageEvent struct {
	ID          uuid.UUID `json:"id"`
	Type        string    `json:"type"`
	WorkspaceID uuid.UUID `json:"workspace_id"`
	// Reason is the dead letter's (store.ReasonMaxDeliveries, store.ReasonTerminated).
	Reason    string `json:"reason"`
	Stream    string `json:"stream"`
	Consumer  string `json:"consumer"`
	StreamSeq uint64 `json:"stream_seq"`
	Subject   string `json:"subject"`
	// TaskID is the task the message carried; nil (JSON null) when its body named none.
	TaskID *uuid.UUID `json:"task_id"`
	At     time.Time  `json:"at"`
}

// CredentialEvent is the body of credential.expiring (it expires within the warning period) and
// credential.expired.
type CredentialEvent struct {
	ID           uuid.UUID `json:"id"`
	Type         string    `json:"type"`
	WorkspaceID  uuid.UUID `json:"workspace_id"`
	CredentialID uuid.UUID `json:"credential_id"`
	Name         string    `json:"name"`
	ExpiresAt    time.Time `json:"expires_at"`
	At           time.Time `json:"at"`
}

// Event is a domain event as a subscriber reads it: the fields every event has, and its body
// decoded by the family of its type. Exactly one of Task, DeadMessage and Credential is set for
// the types this version knows; none for a type it does not (a newer producer's), whose Body is
// still there to read.
type Event struct {
	ID          uuid.UUID
	Type        string
	WorkspaceID uuid.UUID
	At          time.Time

	Task        *DomainEvent      // task.*
	DeadMessage *DeadMessageEvent // message.dead
	Credential  *CredentialEvent  // credential.*

	// Body is the event's JSON as published.
	Body json.RawMessage
}

// DecodeEvent reads a domain event's body. A body that is not a JSON object with an id, a type
// and a workspace id is an ErrInvalidEvent; an unknown type is not an error (see Event).
func DecodeEvent(body []byte) (Event, error) {
	var head struct {
		ID          uuid.UUID `json:"id"`
		Type        string    `json:"type"`
		WorkspaceID uuid.UUID `json:"workspace_id"`
		At          time.Time `json:"at"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if head.ID == uuid.Nil || head.Type == "" || head.WorkspaceID == uuid.Nil {
		return Event{}, fmt.Errorf("%w: id, type and workspace_id are required", ErrInvalidEvent)
	}
	ev := Event{ID: head.ID, Type: head.Type, WorkspaceID: head.WorkspaceID, At: head.At, Body: body}
	var into any
	switch {
	case strings.HasPrefix(ev.Type, "task."):
		ev.Task = &DomainEvent{}
		into = ev.Task
	case ev.Type == "message.dead":
		ev.DeadMessage = &DeadMessageEvent{}
		into = ev.DeadMessage
	case strings.HasPrefix(ev.Type, "credential."):
		ev.Credential = &CredentialEvent{}
		into = ev.Credential
	default:
		return ev, nil
	}
	if err := json.Unmarshal(body, into); err != nil {
		return Event{}, fmt.Errorf("%w: %s: %w", ErrInvalidEvent, ev.Type, err)
	}
	return ev, nil
}
