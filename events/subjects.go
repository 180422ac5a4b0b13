package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Subject roots and stream names.
const (
	TasksStream       = "TASKS"
	CredentialsStream = "CREDENTIALS"
	KnowledgeStream   = "KNOWLEDGE"
	EventsStream      = "EVENTS"

	tasksRoot       = "mosaic.tasks."
	credentialsRoot = "mosaic.credentials."
	knowledgeRoot   = "mosaic.knowledge."
	eventsRoot      = "mosaic.events."
	schedulesRoot   = "mosaic.schedules."
)

// Kind namespaces routed to their own streams: a kind "credentials.<op>" travels on
// mosaic.credentials.<workspace>.<op> (stream CREDENTIALS), "knowledge.<op>" on
// mosaic.knowledge.<workspace>.<op> (KNOWLEDGE); every other kind on the TASKS bands.
const (
	CredentialsNamespace = "credentials."
	KnowledgeNamespace   = "knowledge."
)

// StreamFor is the stream that carries a kind.
func StreamFor(kind string) string {
	switch {
	case strings.HasPrefix(kind, CredentialsNamespace):
		return CredentialsStream
	case strings.HasPrefix(kind, KnowledgeNamespace):
		return KnowledgeStream
	}
	return TasksStream
}

// SubjectFor is the subject of a task message: its stream's shape, by its kind's namespace.
func SubjectFor(priority int, workspace uuid.UUID, kind string) string {
	switch StreamFor(kind) {
	case CredentialsStream:
		return credentialsRoot + workspace.String() + "." + strings.TrimPrefix(kind, CredentialsNamespace)
	case KnowledgeStream:
		return knowledgeRoot + workspace.String() + "." + strings.TrimPrefix(kind, KnowledgeNamespace)
	}
	return TaskSubject(priority, workspace, kind)
}

// ParseJobSubject reads the subject of any work stream: a task band, or a credential or
// knowledge job (priority 0: the envelope's stands).
func ParseJobSubject(subject string) (TaskAddress, error) {
	for _, ns := range []struct{ root, namespace string }{{credentialsRoot, CredentialsNamespace}, {knowledgeRoot, KnowledgeNamespace}} {
		rest, ok := strings.CutPrefix(subject, ns.root)
		if !ok {
			continue
		}
		wsToken, op, ok := strings.Cut(rest, ".")
		if !ok {
			return TaskAddress{}, fmt.Errorf("%w: %q is not %s<workspace>.<op>", ErrInvalidSubject, subject, ns.root)
		}
		var addr TaskAddress
		var err error
		if addr.Workspace, err = ParseWorkspaceToken(wsToken); err != nil {
			return TaskAddress{}, err
		}
		if err := ValidateKind(op); err != nil {
			return addr, fmt.Errorf("%w: %w", ErrInvalidSubject, err)
		}
		addr.Kind = ns.namespace + op
		return addr, nil
	}
	return ParseTaskSubject(subject)
}

// Priorities run from 1 (most urgent) to 10; DefaultPriority is 5.
const (
	MinPriority     = 1
	MaxPriority     = 10
	DefaultPriority = 5
	maxKindLen      = 128
)

// Band is the subject token of a priority: "p1" … "p10".
func Band(priority int) string { return "p" + strconv.Itoa(priority) }

// ParseBand returns the priority of a band token.
func ParseBand(token string) (int, error) {
	if len(token) < 2 || token[0] != 'p' {
		return 0, fmt.Errorf("%w: band %q is not p1…p10", ErrInvalidSubject, token)
	}
	n, err := strconv.Atoi(token[1:])
	if err != nil || n < MinPriority || n > MaxPriority || strconv.Itoa(n) != token[1:] {
		return 0, fmt.Errorf("%w: band %q is not p1…p10", ErrInvalidSubject, token)
	}
	return n, nil
}

// ValidatePriority checks that p is within 1…10.
func ValidatePriority(p int) error {
	if p < MinPriority || p > MaxPriority {
		return fmt.Errorf("%w (got %d)", ErrInvalidPriority, p)
	}
	return nil
}

// ValidateKind checks a task kind (or an op, or an event type): dot-separated words of lower-case
// letters, digits, '_' and '-', each starting with a letter, 128 bytes at most.
func ValidateKind(kind string) error {
	if kind == "" || len(kind) > maxKindLen {
		return fmt.Errorf("%w: %q must be 1 to %d bytes", ErrInvalidKind, kind, maxKindLen)
	}
	for _, word := range strings.Split(kind, ".") {
		if word == "" || word[0] < 'a' || word[0] > 'z' {
			return fmt.Errorf("%w: %q: each dot-separated word must start with a lower-case letter", ErrInvalidKind, kind)
		}
		for i := 0; i < len(word); i++ {
			c := word[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q: only lower-case letters, digits, '_', '-' and '.'", ErrInvalidKind, kind)
			}
		}
	}
	return nil
}

// ParseWorkspaceToken reads a workspace id token, which must be canonical UUID text.
func ParseWorkspaceToken(token string) (uuid.UUID, error) {
	id, err := uuid.Parse(token)
	if err != nil || id.String() != token || id == uuid.Nil {
		return uuid.Nil, fmt.Errorf("%w: workspace %q is not a canonical lower-case UUID", ErrInvalidSubject, token)
	}
	return id, nil
}

// TaskSubject is mosaic.tasks.<band>.<workspace>.<kind>.
func TaskSubject(priority int, workspace uuid.UUID, kind string) string {
	return tasksRoot + Band(priority) + "." + workspace.String() + "." + kind
}

// TaskAddress is what a task subject says.
type TaskAddress struct {
	Priority  int
	Workspace uuid.UUID
	Kind      string
}

// ParseTaskSubject reads mosaic.tasks.<band>.<workspace>.<kind>. When the band or kind is wrong but
// the workspace token is a UUID, the workspace is still returned with the error, so that the
// message can be dead-lettered in its workspace. A kind of the credentials. or knowledge. namespace
// is an error here: those jobs travel on their own streams (SubjectFor), never on a task band.
func ParseTaskSubject(subject string) (TaskAddress, error) {
	rest, ok := strings.CutPrefix(subject, tasksRoot)
	if !ok {
		return TaskAddress{}, fmt.Errorf("%w: %q is not under %s", ErrInvalidSubject, subject, tasksRoot)
	}
	band, rest, _ := strings.Cut(rest, ".")
	wsToken, kind, ok := strings.Cut(rest, ".")
	if !ok {
		return TaskAddress{}, fmt.Errorf("%w: %q is not mosaic.tasks.<band>.<workspace>.<kind>", ErrInvalidSubject, subject)
	}
	var addr TaskAddress
	var err error
	if addr.Workspace, err = ParseWorkspaceToken(wsToken); err != nil {
		return TaskAddress{}, err
	}
	if addr.Priority, err = ParseBand(band); err != nil {
		return addr, err
	}
	if err := ValidateKind(kind); err != nil {
		return addr, fmt.Errorf("%w: %w", ErrInvalidSubject, err)
	}
	if stream := StreamFor(kind); stream != TasksStream {
		return addr, fmt.Errorf("%w: %q is a %s job, which travels on %s", ErrInvalidSubject, kind, stream, SubjectFor(0, addr.Workspace, kind))
	}
	addr.Kind = kind
	return addr, nil
}

// DelayedSubject is the subject of a delayed task's schedule message, in the stream of its kind
// (a schedule delivers only into its own stream): mosaic.schedules.<stream>.<workspace>.<task>,
// which no consumer's filter takes.
func DelayedSubject(kind string, workspace, task uuid.UUID) string {
	return schedulesRoot + strings.ToLower(StreamFor(kind)) + "." + workspace.String() + "." + task.String()
}

// JobFilter is the consumer filter of a credential or knowledge stream for a set of kinds (all
// kinds of the stream when empty).
func JobFilter(stream string, kinds []string) []string {
	root, ns := credentialsRoot, CredentialsNamespace
	if stream == KnowledgeStream {
		root, ns = knowledgeRoot, KnowledgeNamespace
	}
	if len(kinds) == 0 {
		return []string{root + ">"}
	}
	var out []string
	for _, k := range kinds {
		if op, ok := strings.CutPrefix(k, ns); ok {
			out = append(out, root+"*."+op)
		}
	}
	return out
}

// CredentialSubject is mosaic.credentials.<workspace>.<op>.
func CredentialSubject(workspace uuid.UUID, op string) string {
	return credentialsRoot + workspace.String() + "." + op
}

// KnowledgeSubject is mosaic.knowledge.<workspace>.<op>.
func KnowledgeSubject(workspace uuid.UUID, op string) string {
	return knowledgeRoot + workspace.String() + "." + op
}

// EventSubject is mosaic.events.<workspace>.<type>.
func EventSubject(workspace uuid.UUID, typ string) string {
	return eventsRoot + workspace.String() + "." + typ
}

// EventFilter is the consumer filter of domain events on EVENTS: those of one workspace (of every
// workspace when uuid.Nil) whose type matches one of patterns (every type when none). A pattern is
// a type with NATS wildcards among its words: "task.dead", "task.*", "credential.>".
func EventFilter(workspace uuid.UUID, patterns []string) []string {
	ws := "*"
	if workspace != uuid.Nil {
		ws = workspace.String()
	}
	if len(patterns) == 0 {
		return []string{eventsRoot + ws + ".>"}
	}
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		out = append(out, eventsRoot+ws+"."+p)
	}
	return out
}

// ValidateEventPattern checks a pattern of EventFilter: words as in ValidateKind, any of them '*'
// (one word), the last one possibly '>' (one or more words).
func ValidateEventPattern(pattern string) error {
	words := strings.Split(pattern, ".")
	for i, w := range words {
		if w == "*" || (w == ">" && i == len(words)-1) {
			words[i] = "any"
		}
	}
	if err := ValidateKind(strings.Join(words, ".")); err != nil {
		return fmt.Errorf("event type pattern %q: %w", pattern, err)
	}
	return nil
}

// TaskStreamSubjects are the TASKS stream's subjects: one per band, p1 … p10, each with a
// workspace and at least one kind token (mosaic.tasks.p<n>.*.>). No wider: a message on a band
// no consumer serves (p0, p11, P5, zz) or with tokens missing is refused at publish (a JetStream
// publish gets "no responders"; a core publish is stored nowhere) instead of waiting in the
// stream for ever. What matches but is still wrong (a workspace that is not a UUID, a bad kind)
// reaches the band's consumer, which dead-letters it with invalid_subject.
func TaskStreamSubjects() []string {
	out := make([]string, 0, MaxPriority-MinPriority+1)
	for p := MinPriority; p <= MaxPriority; p++ {
		out = append(out, tasksRoot+Band(p)+".*.>")
	}
	return out
}

// TaskFilter is the consumer filter of one band for a set of kinds (all kinds when empty).
func TaskFilter(priority int, kinds []string) []string {
	if len(kinds) == 0 {
		return []string{tasksRoot + Band(priority) + ".*.>"}
	}
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, tasksRoot+Band(priority)+".*."+k)
	}
	return out
}

// Control subjects (core NATS, in no stream): a cancel request for a running task reaches every
// worker process, and the one running it cancels the handler's context.
const controlCancelRoot = "mosaic.control.tasks.cancel."

// CancelSubject is the control subject of a cancel request for one task.
func CancelSubject(workspace, task uuid.UUID) string {
	return controlCancelRoot + workspace.String() + "." + task.String()
}

// CancelSubjectAll matches every cancel request.
const CancelSubjectAll = controlCancelRoot + ">"

// ParseCancelSubject reads a cancel request's subject.
func ParseCancelSubject(subject string) (workspace, task uuid.UUID, err error) {
	rest, ok := strings.CutPrefix(subject, controlCancelRoot)
	wsTok, taskTok, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: %q", ErrInvalidSubject, subject)
	}
	if workspace, err = ParseWorkspaceToken(wsTok); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if task, err = uuid.Parse(taskTok); err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: task %q", ErrInvalidSubject, taskTok)
	}
	return workspace, task, nil
}

// Headers of message schedules (nats-server 2.12+): the server publishes the schedule message's
// body to the target subject at the given time.
const (
	HeaderSchedule       = "Nats-Schedule"
	HeaderScheduleTarget = "Nats-Schedule-Target"
	// HeaderScheduler is set by the server on the message a schedule produced: the schedule's subject.
	HeaderScheduler = "Nats-Scheduler"
)

// ScheduleAt is the Nats-Schedule value for a single delivery at t (rounded up to the second).
func ScheduleAt(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() != 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	return "@at " + t.Format(time.RFC3339)
}

// SubjectMatches reports whether a subject matches a filter with NATS wildcards: '*' is one
// token, '>' one or more trailing tokens.
func SubjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}
