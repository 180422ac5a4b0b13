package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/store"
)

// Client calls a Mosaic server's HTTP API.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client

	// TraceParent, when set, goes with every request as the W3C traceparent header: tasks
	// published through this client continue that trace.
	TraceParent string
}

// NewClient returns a client for the server at baseURL (http or https) that authenticates with
// token (an API key or the admin token).
func NewClient(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON answer into out (nil to
// discard it). A non-2xx answer is returned as an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, c.http, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return answerError(resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// send makes a request with a JSON body (nil for none) through hc.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.TraceParent != "" {
		req.Header.Set("traceparent", c.TraceParent)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the Mosaic server at %s (is `mosaic dev` running? --server / MOSAIC_SERVER): %w", c.base, err)
	}
	return resp, nil
}

// answerError is the *Error of a non-2xx answer.
func answerError(status int, raw []byte) error {
	var env struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != nil {
		env.Error.Status = status
		return env.Error
	}
	return &Error{Status: status, Code: "http_" + fmt.Sprint(status), Message: strings.TrimSpace(string(raw))}
}

// Event is one server-sent event of an event stream.
type Event struct {
	Type string
	Data string
}

// StreamEvents reads a workspace's event stream (with the peers' when federated) and calls fn for
// each event, with comment lines as events of type ":" (how each peer answered), until ctx ends,
// the server ends the stream, or fn returns an error.
func (c *Client) StreamEvents(ctx context.Context, ws string, federated bool, fn func(Event) error) error {
	path := "/v1/workspaces/" + url.PathEscape(ws) + "/events/stream"
	if federated {
		path += "?federated=true"
	}
	resp, err := c.send(ctx, &http.Client{Transport: c.http.Transport}, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return answerError(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Type != "" {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = Event{}
		case strings.HasPrefix(line, ": "):
			if err := fn(Event{Type: ":", Data: line[2:]}); err != nil {
				return err
			}
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			if ev.Data != "" {
				ev.Data += "\n"
			}
			ev.Data += line[len("data: "):]
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// CreateWorkspace creates a workspace (admin token).
func (c *Client) CreateWorkspace(ctx context.Context, req CreateWorkspaceRequest) (CreatedWorkspace, error) {
	var out CreatedWorkspace
	return out, c.Do(ctx, http.MethodPost, "/v1/workspaces", req, &out)
}

// ListWorkspaces lists every workspace (admin token).
func (c *Client) ListWorkspaces(ctx context.Context) ([]store.Workspace, error) {
	var out struct {
		Workspaces []store.Workspace `json:"workspaces"`
	}
	return out.Workspaces, c.Do(ctx, http.MethodGet, "/v1/workspaces", nil, &out)
}

// SetLimits sets a workspace's limits (admin token).
func (c *Client) SetLimits(ctx context.Context, ws uuid.UUID, l Limits) error {
	return c.Do(ctx, http.MethodPut, "/v1/workspaces/"+ws.String()+"/limits", l, nil)
}

// Retention reads a workspace's retention: its own settings and what holds.
func (c *Client) Retention(ctx context.Context, ws uuid.UUID) (Retention, error) {
	var out Retention
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+ws.String()+"/retention", nil, &out)
}

// SetRetention replaces a workspace's retention settings (admin token); an absent class takes the
// default.
func (c *Client) SetRetention(ctx context.Context, ws uuid.UUID, rs RetentionSettings) (Retention, error) {
	var out Retention
	return out, c.Do(ctx, http.MethodPut, "/v1/workspaces/"+ws.String()+"/retention", rs, &out)
}

// Minutes reads what the worker processes measured per minute over the last n minutes (1…60;
// admin token).
func (c *Client) Minutes(ctx context.Context, n int) (Minutes, error) {
	var out Minutes
	return out, c.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/stats/minutes?minutes=%d", n), nil, &out)
}

// Ready asks /readyz; it returns nil when the server is ready.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]any
	err := c.Do(ctx, http.MethodGet, "/readyz", nil, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		return fmt.Errorf("not ready: %s", e.Message)
	}
	return err
}

func wsPath(ws uuid.UUID, rest string) string { return "/v1/workspaces/" + ws.String() + rest }

// Publish publishes a task.
func (c *Client) Publish(ctx context.Context, ws uuid.UUID, req PublishRequest) (PublishResponse, error) {
	var out PublishResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks"), req, &out)
}

// GetTask reads a task; with wait > 0 the server holds the answer until the task ends or wait
// passes (at most a minute).
func (c *Client) GetTask(ctx context.Context, ws, id uuid.UUID, wait time.Duration) (store.Task, error) {
	var out store.Task
	path := wsPath(ws, "/tasks/"+id.String())
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	return out, c.Do(ctx, http.MethodGet, path, nil, &out)
}

// WaitTask waits until a task ends and returns it.
func (c *Client) WaitTask(ctx context.Context, ws, id uuid.UUID) (store.Task, error) {
	for {
		t, err := c.GetTask(ctx, ws, id, 30*time.Second)
		if err != nil || store.Terminal(t.Status) {
			return t, err
		}
		if err := ctx.Err(); err != nil {
			return t, err
		}
	}
}

// TaskQuery filters a task list (GET /v1/workspaces/{ws}/tasks); empty fields do not filter.
type TaskQuery struct {
	Status store.Status
	Kind   string
	// Search is a task id, name=value (an argument), or an idempotency key.
	Search       string
	Since, Until time.Time
	// Internal shows the system's own tasks (credentials.…, knowledge.…) in a list without a kind.
	Internal bool
	// Sort orders the list: created (default), updated, finished or priority (store.TaskSorts).
	Sort string
	// Oldest lists oldest first (default: newest first); with the priority order, least urgent
	// first.
	Oldest bool
	Cursor string
	Limit  int
}

// ListTasks lists tasks, newest first.
func (c *Client) ListTasks(ctx context.Context, ws uuid.UUID, tq TaskQuery) (TaskList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": string(tq.Status), "kind": tq.Kind, "q": tq.Search, "cursor": tq.Cursor, "sort": tq.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !tq.Since.IsZero() {
		q.Set("since", tq.Since.UTC().Format(time.RFC3339Nano))
	}
	if !tq.Until.IsZero() {
		q.Set("until", tq.Until.UTC().Format(time.RFC3339Nano))
	}
	if tq.Internal {
		q.Set("internal", "true")
	}
	if tq.Oldest {
		q.Set("order", "oldest")
	}
	if tq.Limit > 0 {
		q.Set("limit", fmt.Sprint(tq.Limit))
	}
	var out TaskList
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/tasks?"+q.Encode()), nil, &out)
}

// RetryTask queues an ended task again under a new generation (admin); fresh drops its checkpoint.
func (c *Client) RetryTask(ctx context.Context, ws, id uuid.UUID, fresh bool) (RetryResponse, error) {
	var out RetryResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks/"+id.String()+"/retry"), ReplayRequest{Fresh: fresh}, &out)
}

// RunTaskNow makes a scheduled task due now.
func (c *Client) RunTaskNow(ctx context.Context, ws, id uuid.UUID) (RetryResponse, error) {
	var out RetryResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks/"+id.String()+"/run"), nil, &out)
}

// DeleteTask deletes an ended task and its events (admin).
func (c *Client) DeleteTask(ctx context.Context, ws, id uuid.UUID) error {
	return c.Do(ctx, http.MethodDelete, wsPath(ws, "/tasks/"+id.String()), nil, nil)
}

// TaskEvents lists a task's transitions.
func (c *Client) TaskEvents(ctx context.Context, ws, id uuid.UUID) ([]store.TaskEvent, error) {
	var out struct {
		Events []store.TaskEvent `json:"events"`
	}
	return out.Events, c.Do(ctx, http.MethodGet, wsPath(ws, "/tasks/"+id.String()+"/events"), nil, &out)
}

// CancelTask cancels a task; the status is "cancelled", or "cancelling" for a running one.
func (c *Client) CancelTask(ctx context.Context, ws, id uuid.UUID) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	return out.Status, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks/"+id.String()+"/cancel"), nil, &out)
}

// DeadLetterQuery filters a dead-letter list; empty fields do not filter (State empty: all but
// the discarded).
type DeadLetterQuery struct {
	Reason, Kind, State string
	Cursor              string
	Limit               int
}

// ListDeadLetters lists dead letters, newest first.
func (c *Client) ListDeadLetters(ctx context.Context, ws uuid.UUID, dq DeadLetterQuery) (DeadLetterList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"reason": dq.Reason, "kind": dq.Kind, "state": dq.State, "cursor": dq.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if dq.Limit > 0 {
		q.Set("limit", fmt.Sprint(dq.Limit))
	}
	var out DeadLetterList
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters?"+q.Encode()), nil, &out)
}

// DiscardDeadLetter marks a dead letter discarded (admin).
func (c *Client) DiscardDeadLetter(ctx context.Context, ws, id uuid.UUID) (store.DeadLetter, error) {
	var out store.DeadLetter
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/dead-letters/"+id.String()+"/discard"), nil, &out)
}

// GetDeadLetter reads a dead letter.
func (c *Client) GetDeadLetter(ctx context.Context, ws, id uuid.UUID) (store.DeadLetter, error) {
	var out store.DeadLetter
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters/"+id.String()), nil, &out)
}

// ReplayDeadLetter re-queues a dead letter.
func (c *Client) ReplayDeadLetter(ctx context.Context, ws, id uuid.UUID, fresh bool) (ReplayResponse, error) {
	var out ReplayResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/dead-letters/"+id.String()+"/replay"), ReplayRequest{Fresh: fresh}, &out)
}

// PutCredential stores a credential.
func (c *Client) PutCredential(ctx context.Context, ws uuid.UUID, req PutCredentialRequest) (store.Credential, error) {
	var out store.Credential
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/credentials"), req, &out)
}

// ListCredentials lists the credentials the caller may see.
func (c *Client) ListCredentials(ctx context.Context, ws uuid.UUID) ([]store.Credential, error) {
	var out struct {
		Credentials []store.Credential `json:"credentials"`
	}
	return out.Credentials, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials"), nil, &out)
}

// GetCredential reads a credential (masked).
func (c *Client) GetCredential(ctx context.Context, ws, id uuid.UUID) (store.Credential, error) {
	var out store.Credential
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials/"+id.String()), nil, &out)
}

// UpdateCredential changes a credential's description.
func (c *Client) UpdateCredential(ctx context.Context, ws, id uuid.UUID, req UpdateCredentialRequest) (store.Credential, error) {
	var out store.Credential
	return out, c.Do(ctx, http.MethodPatch, wsPath(ws, "/credentials/"+id.String()), req, &out)
}

// RotateCredential sets a new value, or (req.Agent) asks the rotation agent: then the answer
// holds the task id.
func (c *Client) RotateCredential(ctx context.Context, ws, id uuid.UUID, req RotateCredentialRequest) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/credentials/"+id.String()+"/rotate"), req, &out)
}

// RotateKey queues the rotation of a Transit key and the rewrap of every ciphertext (admin token).
func (c *Client) RotateKey(ctx context.Context, ws uuid.UUID, key string, req RotateKeyRequest) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/keys/"+url.PathEscape(key)+"/rotate"), req, &out)
}

// DeleteCredential soft-deletes a credential.
func (c *Client) DeleteCredential(ctx context.Context, ws, id uuid.UUID) error {
	return c.Do(ctx, http.MethodDelete, wsPath(ws, "/credentials/"+id.String()), nil, nil)
}

// CredentialAudit lists the credential access log (one credential when id is not uuid.Nil).
func (c *Client) CredentialAudit(ctx context.Context, ws, id uuid.UUID, limit int) ([]store.Access, error) {
	q := url.Values{}
	if id != uuid.Nil {
		q.Set("credential", id.String())
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out struct {
		Access []store.Access `json:"access"`
	}
	return out.Access, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials/audit?"+q.Encode()), nil, &out)
}

// DeadLetterSummary counts the workspace's dead letters by reason and kind.
func (c *Client) DeadLetterSummary(ctx context.Context, ws uuid.UUID) ([]store.DeadLetterGroup, error) {
	var out struct {
		Groups []store.DeadLetterGroup `json:"groups"`
	}
	return out.Groups, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters/summary"), nil, &out)
}
