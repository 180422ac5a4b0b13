package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/internal/strictjson"
)

// Headers Mosaic sets on task messages.
const (
	// HeaderGeneration carries the task's generation (0 when absent): it grows with every replay
	// or deliberate republish, and sits in front of the delivery count in the fencing token.
	HeaderGeneration = "Mosaic-Generation"
	// HeaderTraceParent carries W3C trace context from publisher to handler.
	HeaderTraceParent = "traceparent"
	// HeaderRowFollows marks a task message that JetStream accepted before the publisher wrote
	// the task's row: a delivery that does not find the row waits a moment for it (the row
	// carries what the publisher alone knows, such as who published) before it runs the task
	// as a raw message.
	HeaderRowFollows = "Mosaic-Row-Follows"
)

// EnvelopeVersion is the version of the task envelope this code writes.
const EnvelopeVersion = 1

// Limits of a task envelope, checked on every path (HTTP, CLI, Go, raw NATS).
const (
	MaxArgsBytes       = 256 << 10 // task args, as JSON
	MaxCredentials     = 16
	MaxCredentialName  = 128
	MaxIdempotencyKey  = 255
	MaxMetadataEntries = 32
	MaxMetadataBytes   = 8 << 10
	MaxAttemptsLimit   = 1000
	DefaultMaxAttempts = 25
	// MaxDelay bounds how far ahead run_at (or a delay) may be: a year.
	MaxDelay = 366 * 24 * time.Hour
)

// TaskEnvelope is the JSON body of a task message on mosaic.tasks.<band>.<workspace>.<kind>. See
// docs/envelope.md. Fields other than WorkspaceID and Kind are optional.
type TaskEnvelope struct {
	Version        int               `json:"v,omitempty"`
	ID             uuid.UUID         `json:"id,omitzero"`
	WorkspaceID    uuid.UUID         `json:"workspace_id"`
	Kind           string            `json:"kind"`
	Priority       int               `json:"priority,omitempty"`
	Args           json.RawMessage   `json:"args,omitempty"`
	Credentials    []string          `json:"credentials,omitempty"`
	MaxAttempts    int               `json:"max_attempts,omitempty"`
	TimeoutMS      int64             `json:"timeout_ms,omitempty"`
	RunAt          *time.Time        `json:"run_at,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// Normalize fills defaults (priority 5, max attempts 25, args {}).
func (e *TaskEnvelope) Normalize() {
	if e.Version == 0 {
		e.Version = EnvelopeVersion
	}
	if e.Priority == 0 {
		e.Priority = DefaultPriority
	}
	if e.MaxAttempts == 0 {
		e.MaxAttempts = DefaultMaxAttempts
	}
	if len(e.Args) == 0 {
		e.Args = json.RawMessage(`{}`)
	}
}

// Reason codes of invalid tasks, as recorded with their dead letters.
const (
	ReasonInvalidEnvelope   = "invalid_envelope"
	ReasonInvalidSubject    = "invalid_subject"
	ReasonWorkspaceMismatch = "workspace_mismatch"
	ReasonKindMismatch      = "kind_mismatch"
	ReasonInvalidPriority   = "invalid_priority"
	ReasonArgsTooLarge      = "args_too_large"
	ReasonInvalidArgs       = "invalid_args"
	ReasonInvalidDelay      = "invalid_delay"
	ReasonUnknownKind       = "unknown_kind"
	ReasonUnknownWorkspace  = "unknown_workspace"
)

// EnvelopeError says why a task is invalid, with a reason code for its dead letter.
type EnvelopeError struct {
	Reason string
	Msg    string
}

func (e *EnvelopeError) Error() string { return e.Msg }

// Is makes every EnvelopeError match ErrInvalidEnvelope.
func (e *EnvelopeError) Is(target error) bool { return target == ErrInvalidEnvelope }

func invalid(reason, format string, args ...any) *EnvelopeError {
	return &EnvelopeError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks an envelope (after Normalize) on its own: every limit and format. It does not
// know the registered kinds or the handlers' own argument rules.
func (e *TaskEnvelope) Validate() error {
	if e.Version != EnvelopeVersion {
		return invalid(ReasonInvalidEnvelope, "envelope version %d is not supported (want %d)", e.Version, EnvelopeVersion)
	}
	if e.WorkspaceID == uuid.Nil {
		return invalid(ReasonInvalidEnvelope, "workspace_id is missing")
	}
	if err := ValidateKind(e.Kind); err != nil {
		return invalid(ReasonInvalidEnvelope, "%v", err)
	}
	if err := ValidatePriority(e.Priority); err != nil {
		return invalid(ReasonInvalidPriority, "%v", err)
	}
	if len(e.Args) > MaxArgsBytes {
		return invalid(ReasonArgsTooLarge, "args are %d bytes; the limit is %d", len(e.Args), MaxArgsBytes)
	}
	if !json.Valid(e.Args) {
		return invalid(ReasonInvalidArgs, "args are not valid JSON")
	}
	if hasNULEscape(e.Args) {
		return invalid(ReasonInvalidArgs, `args must not contain \u0000 (PostgreSQL's jsonb cannot hold it)`)
	}
	if n, ok := outOfFloat64(e.Args); !ok {
		return invalid(ReasonInvalidArgs, "args: the number %.40s is beyond a 64-bit float (handlers in most languages could not read it)", n)
	}
	if e.RunAt != nil && time.Until(*e.RunAt) > MaxDelay {
		return invalid(ReasonInvalidEnvelope, "run_at %s is more than %s ahead", e.RunAt.Format(time.RFC3339), MaxDelay)
	}
	if len(e.Credentials) > MaxCredentials {
		return invalid(ReasonInvalidEnvelope, "%d credentials; the limit is %d", len(e.Credentials), MaxCredentials)
	}
	seen := map[string]bool{}
	for _, c := range e.Credentials {
		if c == "" || len(c) > MaxCredentialName || !utf8.ValidString(c) || strings.ContainsRune(c, 0) {
			return invalid(ReasonInvalidEnvelope, "credential name %q must be 1 to %d bytes of UTF-8 without NUL", c, MaxCredentialName)
		}
		if seen[c] {
			return invalid(ReasonInvalidEnvelope, "credential %q is listed twice", c)
		}
		seen[c] = true
	}
	if e.MaxAttempts < 1 || e.MaxAttempts > MaxAttemptsLimit {
		return invalid(ReasonInvalidEnvelope, "max_attempts must be between 1 and %d (got %d)", MaxAttemptsLimit, e.MaxAttempts)
	}
	if e.TimeoutMS < 0 {
		return invalid(ReasonInvalidEnvelope, "timeout_ms must not be negative (got %d)", e.TimeoutMS)
	}
	if len(e.IdempotencyKey) > MaxIdempotencyKey || !utf8.ValidString(e.IdempotencyKey) || strings.ContainsRune(e.IdempotencyKey, 0) {
		return invalid(ReasonInvalidEnvelope, "idempotency_key must be at most %d bytes of UTF-8 without NUL", MaxIdempotencyKey)
	}
	if len(e.Metadata) > MaxMetadataEntries {
		return invalid(ReasonInvalidEnvelope, "%d metadata entries; the limit is %d", len(e.Metadata), MaxMetadataEntries)
	}
	size := 0
	for k, v := range e.Metadata {
		size += len(k) + len(v)
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return invalid(ReasonInvalidEnvelope, "metadata %q: keys and values must not contain NUL", k)
		}
	}
	if size > MaxMetadataBytes {
		return invalid(ReasonInvalidEnvelope, "metadata is %d bytes; the limit is %d", size, MaxMetadataBytes)
	}
	return nil
}

// outOfFloat64 finds a number in valid JSON that does not fit a float64 (parses to ±Inf): such a
// number would reach a handler changed, or not at all. ok is false with the number when one is
// found. Only JSON with an exponent or a long run of digits can hold one: the rest is not walked.
func outOfFloat64(b []byte) (number string, ok bool) {
	if !bytes.ContainsAny(b, "eE") && len(b) < 310 {
		return "", true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", true // the end (the JSON is valid)
		}
		if n, isNum := tok.(json.Number); isNum {
			if f, err := strconv.ParseFloat(string(n), 64); err != nil || math.IsInf(f, 0) {
				return string(n), false
			}
		}
	}
}

// hasNULEscape reports whether valid JSON has a \u0000 escape in a string: NUL is the one
// character that PostgreSQL's text and jsonb cannot hold, so such a task could never be stored.
func hasNULEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		// Only strings hold backslashes; each escape is consumed whole, so b[i] starts one.
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++
	}
	return false
}

// Fence is the fencing token of a delivery: generation in the high 32 bits, the JetStream delivery
// count in the low 32. It grows with every redelivery and with every replay.
func Fence(generation int, delivered uint64) int64 {
	return int64(generation)<<32 | int64(delivered&0xffffffff)
}

// idNamespace derives task ids that the publisher did not give (UUIDv5).
var idNamespace = uuid.MustParse("5f3c8a52-6a2e-4c5e-9d83-6d2f3b1e7a10")

// IDForIdempotencyKey is the task id of a workspace's idempotency key: the same key always names
// the same task, so a second publish is a duplicate on every path.
func IDForIdempotencyKey(ws uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(ws.String()+"\x00idempotency\x00"+key))
}

func idForMessage(ws uuid.UUID, msgID string, stream string, seq uint64) uuid.UUID {
	if msgID != "" {
		return uuid.NewSHA1(idNamespace, []byte(ws.String()+"\x00msgid\x00"+msgID))
	}
	return uuid.NewSHA1(idNamespace, []byte(stream+"\x00"+strconv.FormatUint(seq, 10)))
}

// DecodedTask is a task message read and checked against its subject.
type DecodedTask struct {
	Envelope   TaskEnvelope
	Generation int
}

// DecodeTask reads a task message. The address is returned whenever the subject named a
// workspace, even with an error, so that the message can be dead-lettered in it. Errors are
// *EnvelopeError with a reason code. seq is the message's stream sequence, which names a task
// that came without an id (and without Nats-Msg-Id or idempotency key).
func DecodeTask(subject string, header nats.Header, data []byte, seq uint64) (DecodedTask, TaskAddress, error) {
	addr, err := ParseJobSubject(subject)
	if err != nil {
		return DecodedTask{}, addr, invalid(ReasonInvalidSubject, "%v", err)
	}
	var env TaskEnvelope
	if err := strictjson.Decode(data, &env); err != nil {
		if errors.Is(err, strictjson.ErrTrailingData) {
			return DecodedTask{}, addr, invalid(ReasonInvalidEnvelope, "body has data after the envelope")
		}
		return DecodedTask{}, addr, invalid(ReasonInvalidEnvelope, "body is not a task envelope: %v", err)
	}
	env.Normalize()
	if env.WorkspaceID != addr.Workspace {
		return DecodedTask{}, addr, invalid(ReasonWorkspaceMismatch, "envelope workspace %s differs from the subject's %s", env.WorkspaceID, addr.Workspace)
	}
	if env.Kind != addr.Kind {
		return DecodedTask{}, addr, invalid(ReasonKindMismatch, "envelope kind %q differs from the subject's %q", env.Kind, addr.Kind)
	}
	if addr.Priority != 0 && env.Priority != addr.Priority {
		if ValidatePriority(env.Priority) != nil {
			return DecodedTask{}, addr, invalid(ReasonInvalidPriority, "%v", ValidatePriority(env.Priority))
		}
		return DecodedTask{}, addr, invalid(ReasonInvalidPriority, "envelope priority %d differs from the subject's band %s", env.Priority, Band(addr.Priority))
	}
	if err := env.Validate(); err != nil {
		return DecodedTask{}, addr, err
	}
	gen := 0
	if g := header.Get(HeaderGeneration); g != "" {
		n, err := strconv.Atoi(g)
		if err != nil || n < 0 || n > 1<<30 {
			return DecodedTask{}, addr, invalid(ReasonInvalidEnvelope, "header %s=%q is not a generation", HeaderGeneration, g)
		}
		gen = n
	}
	if env.ID == uuid.Nil {
		switch {
		case env.IdempotencyKey != "":
			env.ID = IDForIdempotencyKey(env.WorkspaceID, env.IdempotencyKey)
		default:
			env.ID = idForMessage(env.WorkspaceID, header.Get(nats.MsgIdHdr), TasksStream, seq)
		}
	}
	return DecodedTask{Envelope: env, Generation: gen}, addr, nil
}

// Encode marshals an envelope (after Normalize and Validate).
func (e *TaskEnvelope) Encode() ([]byte, error) { return json.Marshal(e) }

// MsgID is the Nats-Msg-Id of a task's message in a generation: JetStream drops a second publish
// of it within the duplicate window, and a replay (next generation) is never taken for a duplicate.
func MsgID(ws, task uuid.UUID, generation int) string {
	var b [2*36 + 2 + 20]byte
	id := append(appendUUID(b[:0], ws), ':')
	id = append(appendUUID(id, task), ':')
	return string(strconv.AppendInt(id, int64(generation), 10))
}
