package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// PublishRequest (mosaictype.PublishRequest) is the body of POST /v1/workspaces/{ws}/tasks.
type PublishRequest = mosaictype.PublishRequest

// PublishResponse (mosaictype.PublishResponse) answers a publish: 202 for a new task, 200 for a
// duplicate (same id or idempotency key), with the existing task's status.
type PublishResponse = mosaictype.PublishResponse

// TaskList (mosaictype.TaskList) is a page of tasks.
type TaskList = mosaictype.TaskList

// MaxWait bounds GET …/tasks/{id}?wait=.
const MaxWait = 60 * time.Second

func (s *Server) mountTasks(r *Router) {
	r.Handle("POST /v1/workspaces/{ws}/tasks", store.RoleMember, s.publishTask)
	r.Handle("GET /v1/workspaces/{ws}/tasks", store.RoleGuest, s.listTasks)
	r.Handle("GET /v1/workspaces/{ws}/tasks/{id}", store.RoleGuest, s.getTask)
	r.Handle("GET /v1/workspaces/{ws}/tasks/{id}/events", store.RoleGuest, s.taskEvents)
	r.Handle("POST /v1/workspaces/{ws}/tasks/{id}/cancel", store.RoleMember, s.cancelTask)
	r.Handle("POST /v1/workspaces/{ws}/tasks/{id}/retry", store.RoleAdmin, s.retryTask)
	r.Handle("DELETE /v1/workspaces/{ws}/tasks/{id}", store.RoleAdmin, s.deleteTask)
	r.Handle("POST /v1/workspaces/{ws}/tasks/{id}/run", store.RoleMember, s.runTaskNow)
	r.Handle("GET /v1/workspaces/{ws}/dead-letters", store.RoleMember, s.listDeadLetters)
	r.Handle("GET /v1/workspaces/{ws}/dead-letters/summary", store.RoleMember, s.deadLetterSummary)
	r.Handle("GET /v1/workspaces/{ws}/dead-letters/{id}", store.RoleMember, s.getDeadLetter)
	r.Handle("POST /v1/workspaces/{ws}/dead-letters/{id}/replay", store.RoleAdmin, s.replayDeadLetter)
	r.Handle("POST /v1/workspaces/{ws}/dead-letters/{id}/discard", store.RoleAdmin, s.discardDeadLetter)
	r.Handle("GET /v1/unrouted", AdminOnly, s.listUnrouted)
}

func (s *Server) publishTask(w http.ResponseWriter, r *Request) *Error {
	var req PublishRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	switch events.StreamFor(req.Kind) {
	case events.CredentialsStream:
		return errorf(CodeForbidden, "%s jobs belong to the rotation agent: rotate a credential with POST …/credentials/{id}/rotate, a key with POST …/keys/{key}/rotate (admin token)", req.Kind)
	case events.KnowledgeStream:
		return errorf(CodeForbidden, "%s jobs belong to the knowledge agent: they follow every write to an entry; re-index with POST …/knowledge/reindex", req.Kind)
	}
	spec := agents.TaskSpec{
		WorkspaceID: r.Workspace, Kind: req.Kind, Priority: req.Priority, Credentials: req.Credentials,
		MaxAttempts: req.MaxAttempts, IdempotencyKey: req.IdempotencyKey, Metadata: req.Metadata,
		PublishedBy: r.Caller.Principal.UserID,
	}
	// W3C trace context: a malformed header is ignored (the trace starts here), as the spec asks.
	if tp := r.Header.Get("traceparent"); events.ValidTraceParent(tp) {
		spec.TraceParent = tp
	}
	if len(req.Args) > 0 {
		spec.Args = req.Args
	}
	var err error
	if spec.Timeout, err = parseDuration("timeout", req.Timeout); err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	if spec.Delay, err = parseDuration("delay", req.Delay); err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	if req.RunAt != nil {
		spec.RunAt = *req.RunAt
	}
	res, err := s.cfg.Tasks.Publish(r.Context(), spec)
	if err != nil {
		return errorOf(err)
	}
	status := http.StatusAccepted
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, PublishResponse{ID: res.ID, Status: res.Status, Duplicate: res.Duplicate})
	return nil
}

func parseDuration(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New(name + " " + strconv.Quote(v) + " is not a duration (e.g. 30s, 5m)")
	}
	if d < 0 {
		return 0, errors.New(name + " must not be negative")
	}
	return d, nil
}

// taskSearch reads a task list's search parameters: order (newest, the default, or oldest
// first), internal (true shows the system's own
// tasks), since and until (RFC 3339), and q — a task id (that task, or the one whose idempotency
// key is that text), name=value (tasks whose args hold value at name: a dotted name reaches into
// objects, and value is JSON, or else text), or else an idempotency key.
func taskSearch(q url.Values, f *store.TaskFilter) *Error {
	switch v := q.Get("sort"); v {
	case "", store.SortCreated, store.SortUpdated, store.SortFinished, store.SortPriority:
		f.Sort = v
	default:
		return errorf(CodeInvalidArgument, "sort %q is not created, updated, finished or priority", v)
	}
	switch v := q.Get("order"); v {
	case "", "newest":
	case "oldest":
		f.Oldest = true
	default:
		return errorf(CodeInvalidArgument, "order %q is not newest or oldest", v)
	}
	switch v := q.Get("internal"); v {
	case "", "false":
	case "true":
		f.Internal = true
	default:
		return errorf(CodeInvalidArgument, "internal %q is not true or false", v)
	}
	for _, b := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return errorf(CodeInvalidArgument, "%s %q is not an RFC 3339 time (e.g. 2026-12-07T08:00:00Z)", b.name, v)
			}
			*b.to = t
		}
	}
	search := strings.TrimSpace(q.Get("q"))
	switch {
	case search == "":
	case len(search) > 1024:
		return errorf(CodeInvalidArgument, "q is longer than 1024 bytes")
	default:
		if id, err := uuid.Parse(search); err == nil {
			f.ID = id
			return nil
		}
		if name, value, ok := strings.Cut(search, "="); ok {
			args, err := argsContaining(strings.TrimSpace(name), strings.TrimSpace(value))
			if err != nil {
				return errorf(CodeInvalidArgument, "q %q: %v", search, err)
			}
			f.Args = args
			return nil
		}
		f.IdempotencyKey = search
	}
	return nil
}

// argsContaining is the JSON that args holding value at the dotted name contain: "a.b" and 42
// give {"a":{"b":42}}. A value that is not JSON is text.
func argsContaining(name, value string) (json.RawMessage, error) {
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if p == "" {
			return nil, errors.New("a field name is empty (write name=value, or a.b=value for a field inside an object)")
		}
	}
	var v any = value
	if json.Valid([]byte(value)) {
		v = json.RawMessage(value)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		v = map[string]any{parts[i]: v}
	}
	return json.Marshal(v)
}

func (s *Server) listTasks(w http.ResponseWriter, r *Request) *Error {
	q := r.URL.Query()
	f := store.TaskFilter{Status: store.Status(q.Get("status")), Kind: q.Get("kind")}
	if f.Status != "" && !store.ValidStatus(f.Status) {
		return errorf(CodeInvalidArgument, "status %q is not queued, scheduled, running, retrying, succeeded, dead or cancelled", f.Status)
	}
	var e *Error
	if e = taskSearch(q, &f); e != nil {
		return e
	}
	if f.Before, f.BeforeKey, f.Limit, e = taskPage(q.Get("cursor"), q.Get("limit")); e != nil {
		return e
	}
	fed, e := federated(r)
	if e != nil {
		return e
	}
	if fed && (f.Internal || f.Oldest || (f.Sort != "" && f.Sort != store.SortCreated) || !f.Since.IsZero() || !f.Until.IsZero() || q.Get("q") != "") {
		return errorf(CodeInvalidArgument, "federated: a federated list filters by status and kind only")
	}
	if fed && (s.cfg.Federation == nil || f.Before != uuid.Nil) {
		return errorf(CodeInvalidArgument, "federated: this instance has no federation, or a cursor was given (a federated list has one page)")
	}
	tasks, next, err := s.cfg.DB.ListTasks(r.Context(), r.Workspace, f)
	if errors.Is(err, store.ErrCursorGone) {
		return errorf(CodeInvalidArgument, "cursor %q: %v", q.Get("cursor"), err)
	} else if err != nil {
		return errorOf(err)
	}
	if fed {
		return s.federatedTasks(w, r, f, tasks)
	}
	out := TaskList{Tasks: tasks}
	if out.Tasks == nil {
		out.Tasks = []store.Task{}
	}
	if next != uuid.Nil {
		out.NextCursor = taskCursor(next, store.TaskSortKey(tasks[len(tasks)-1], f.Sort))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// taskCursor is a task list's cursor: the last task shown and its sort key, so that the next page
// goes on from where that task stood even if it has changed or gone since
// ("<id>.<unix ns>[.<priority>]").
func taskCursor(id uuid.UUID, key store.SortKey) string {
	c := id.String() + "." + strconv.FormatInt(key.At.UnixNano(), 10)
	if key.Priority != 0 {
		c += "." + strconv.Itoa(key.Priority)
	}
	return c
}

// taskPage reads a task list's cursor (taskCursor's, or a bare task id) and limit.
func taskPage(cursor, limit string) (uuid.UUID, store.SortKey, int, *Error) {
	id, rest, _ := strings.Cut(cursor, ".")
	before, n, e := page(id, limit)
	if e != nil || rest == "" {
		return before, store.SortKey{}, n, e
	}
	bad := errorf(CodeInvalidArgument, "cursor %q is not valid", cursor)
	at, prio, _ := strings.Cut(rest, ".")
	ns, err := strconv.ParseInt(at, 10, 64)
	if err != nil || ns <= 0 {
		return uuid.Nil, store.SortKey{}, 0, bad
	}
	key := store.SortKey{At: time.Unix(0, ns).UTC()}
	if prio != "" {
		if key.Priority, err = strconv.Atoi(prio); err != nil || key.Priority < 1 || key.Priority > 10 {
			return uuid.Nil, store.SortKey{}, 0, bad
		}
	}
	return before, key, n, nil
}

func page(cursor, limit string) (uuid.UUID, int, *Error) {
	var before uuid.UUID
	if cursor != "" {
		id, err := uuid.Parse(cursor)
		if err != nil {
			return uuid.Nil, 0, errorf(CodeInvalidArgument, "cursor %q is not valid", cursor)
		}
		before = id
	}
	n := 50
	if limit != "" {
		v, err := strconv.Atoi(limit)
		if err != nil || v < 1 || v > 500 {
			return uuid.Nil, 0, errorf(CodeInvalidArgument, "limit must be 1…500")
		}
		n = v
	}
	return before, n, nil
}

// pathID is the route's {id}: a UUID, or an invalid_argument naming what it identifies (noun).
func pathID(r *Request, noun string) (uuid.UUID, *Error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, errorf(CodeInvalidArgument, "%s %q is not a UUID", noun, r.PathValue("id"))
	}
	return id, nil
}

// getTask answers GET …/tasks/{id}; with ?wait=DURATION it waits (up to 60s) for the task to end.
func (s *Server) getTask(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	wait, err := parseDuration("wait", r.URL.Query().Get("wait"))
	if err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(wait, MaxWait))
	defer cancel()
	for {
		task, err := s.cfg.DB.GetTask(r.Context(), r.Workspace, id)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(CodeNotFound, "task %s not found", id)
		} else if err != nil {
			return errorOf(err)
		}
		if store.Terminal(task.Status) || ctx.Err() != nil {
			writeJSON(w, http.StatusOK, task)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) taskEvents(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	evs, err := s.cfg.DB.TaskEvents(r.Context(), r.Workspace, id)
	if err != nil {
		return errorOf(err)
	}
	if len(evs) == 0 {
		return errorf(CodeNotFound, "task %s not found", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (s *Server) cancelTask(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	res, err := s.cfg.Tasks.Cancel(r.Context(), s.cfg.NC, r.Workspace, id, r.Caller.Name())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(CodeNotFound, "task %s not found", id)
	case err != nil:
		return errorOf(err)
	}
	status := res.Status
	if res.WasRunning {
		status = "cancelling"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": status})
	return nil
}

// DeadLetterList (mosaictype.DeadLetterList) is a page of dead letters.
type DeadLetterList = mosaictype.DeadLetterList

func (s *Server) listDeadLetters(w http.ResponseWriter, r *Request) *Error {
	q := r.URL.Query()
	f := store.DeadLetterFilter{Reason: q.Get("reason"), Kind: q.Get("kind"), State: q.Get("state")}
	if !store.ValidDeadLetterState(f.State) {
		return errorf(CodeInvalidArgument, "state %q is not pending, replayed, discarded or all", f.State)
	}
	var e *Error
	if f.Before, f.Limit, e = page(q.Get("cursor"), q.Get("limit")); e != nil {
		return e
	}
	list, next, err := s.cfg.DB.ListDeadLetters(r.Context(), r.Workspace, f)
	if err != nil {
		return errorOf(err)
	}
	out := DeadLetterList{DeadLetters: list}
	if out.DeadLetters == nil {
		out.DeadLetters = []store.DeadLetter{}
	}
	if next != uuid.Nil {
		out.NextCursor = next.String()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// discardDeadLetter marks a dead letter discarded (admin, as a replay): kept, and out of the
// default list and the count of those waiting.
func (s *Server) discardDeadLetter(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	d, err := s.cfg.DB.DiscardDeadLetter(r.Context(), r.Workspace, id, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) getDeadLetter(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	d, err := s.cfg.DB.GetDeadLetter(r.Context(), r.Workspace, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(CodeNotFound, "dead letter %s not found", id)
	} else if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// ReplayRequest (mosaictype.ReplayRequest) is the (optional) body of POST
// …/dead-letters/{id}/replay.
type ReplayRequest = mosaictype.ReplayRequest

// ReplayResponse (mosaictype.ReplayResponse) says what was re-queued.
type ReplayResponse = mosaictype.ReplayResponse

// RetryResponse (mosaictype.RetryResponse) says which generation of the task was queued.
type RetryResponse = mosaictype.RetryResponse

// retryTask queues an ended task again (POST …/tasks/{id}/retry, body as a replay's: fresh drops
// the checkpoint), as a dead letter's replay does, for any task that ended: dead, cancelled or
// succeeded. Admin, as a replay.
func (s *Server) retryTask(w http.ResponseWriter, r *Request) *Error {
	return replayLike(w, r, func(id uuid.UUID, fresh bool) (any, error) {
		t, err := agents.RetryTask(r.Context(), s.cfg.DB, r.Workspace, id, fresh, r.Caller.Name())
		return RetryResponse{TaskID: t.ID, Status: t.Status, Generation: t.Generation}, err
	})
}

func (s *Server) replayDeadLetter(w http.ResponseWriter, r *Request) *Error {
	return replayLike(w, r, func(id uuid.UUID, fresh bool) (any, error) {
		res, err := agents.Replay(r.Context(), s.cfg.DB, r.Workspace, id, fresh, r.Caller.Name())
		out := ReplayResponse{DeadLetterID: id, TaskID: res.DeadLetter.TaskID}
		if res.Task != nil {
			out.Generation = res.Task.Generation
		}
		return out, err
	})
}

// replayLike runs a replay or a retry of the {id} in the path, with the optional ReplayRequest
// body, and answers 202 with what it returns (404 and 409 for ErrNotFound and ErrConflict).
func replayLike(w http.ResponseWriter, r *Request, run func(id uuid.UUID, fresh bool) (any, error)) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	var req ReplayRequest
	if r.ContentLength != 0 {
		if e := r.Decode(&req); e != nil {
			return e
		}
	}
	out, err := run(id, req.Fresh)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// runTaskNow makes a scheduled task due now (member, as a publish).
func (s *Server) runTaskNow(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	t, err := agents.RunTaskNow(r.Context(), s.cfg.DB, r.Workspace, id, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, RetryResponse{TaskID: t.ID, Status: t.Status, Generation: t.Generation})
	return nil
}

// deleteTask deletes an ended task and its events (admin); the server's log records who did.
func (s *Server) deleteTask(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	if err := s.cfg.DB.DeleteTask(r.Context(), r.Workspace, id); err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("workspace_id", r.Workspace.String()).Str("task_id", id.String()).Str("by", r.Caller.Name()).Msg("task deleted")
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
	return nil
}

func (s *Server) listUnrouted(w http.ResponseWriter, r *Request) *Error {
	_, limit, e := page("", r.URL.Query().Get("limit"))
	if e != nil {
		return e
	}
	list, err := s.cfg.DB.ListUnrouted(r.Context(), limit)
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.UnroutedMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"unrouted": list})
	return nil
}

func (s *Server) deadLetterSummary(w http.ResponseWriter, r *Request) *Error {
	groups, err := s.cfg.DB.DeadLetterSummary(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
	}
	if groups == nil {
		groups = []store.DeadLetterGroup{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": groups})
	return nil
}
