package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Publish publishes a task.
func (c *Client) Publish(ctx context.Context, ws uuid.UUID, req mosaictype.PublishRequest) (mosaictype.PublishResponse, error) {
	var out mosaictype.PublishResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks"), req, &out)
}

// GetTask reads a task; with wait > 0 the server holds the answer until the task ends or wait
// passes (at most a minute).
func (c *Client) GetTask(ctx context.Context, ws, id uuid.UUID, wait time.Duration) (mosaictype.Task, error) {
	var out mosaictype.Task
	path := wsPath(ws, "/tasks/"+id.String())
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	return out, c.Do(ctx, http.MethodGet, path, nil, &out)
}

// WaitTask waits until a task ends and returns it.
func (c *Client) WaitTask(ctx context.Context, ws, id uuid.UUID) (mosaictype.Task, error) {
	for {
		t, err := c.GetTask(ctx, ws, id, 30*time.Second)
		if err != nil || t.Status.Terminal() {
			return t, err
		}
		if err := ctx.Err(); err != nil {
			return t, err
		}
	}
}

// TaskQuery filters a task list (GET /v1/workspaces/{ws}/tasks); empty fields do not filter.
type TaskQuery struct {
	Status mosaictype.Status
	Kind   string
	// Search is a task id, name=value (an argument), or an idempotency key.
	Search       string
	Since, Until time.Time
	// Internal shows the system's own tasks (credentials.…, knowledge.…) in a list without a kind.
	Internal bool
	// Sort orders the list: created (default), updated, finished or priority.
	Sort string
	// Oldest lists oldest first (default: newest first); with the priority order, least urgent
	// first.
	Oldest bool
	Cursor string
	Limit  int
}

// ListTasks lists tasks, newest first.
func (c *Client) ListTasks(ctx context.Context, ws uuid.UUID, tq TaskQuery) (mosaictype.TaskList, error) {
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
	var out mosaictype.TaskList
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/tasks?"+q.Encode()), nil, &out)
}

// RetryTask queues an ended task again under a new generation (admin); fresh drops its checkpoint.
func (c *Client) RetryTask(ctx context.Context, ws, id uuid.UUID, fresh bool) (mosaictype.RetryResponse, error) {
	var out mosaictype.RetryResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks/"+id.String()+"/retry"), mosaictype.ReplayRequest{Fresh: fresh}, &out)
}

// RunTaskNow makes a scheduled task due now.
func (c *Client) RunTaskNow(ctx context.Context, ws, id uuid.UUID) (mosaictype.RetryResponse, error) {
	var out mosaictype.RetryResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/tasks/"+id.String()+"/run"), nil, &out)
}

// DeleteTask deletes an ended task and its events (admin).
func (c *Client) DeleteTask(ctx context.Context, ws, id uuid.UUID) error {
	return c.Do(ctx, http.MethodDelete, wsPath(ws, "/tasks/"+id.String()), nil, nil)
}

// TaskEvents lists a task's transitions.
func (c *Client) TaskEvents(ctx context.Context, ws, id uuid.UUID) ([]mosaictype.TaskEvent, error) {
	var out struct {
		Events []mosaictype.TaskEvent `json:"events"`
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
func (c *Client) ListDeadLetters(ctx context.Context, ws uuid.UUID, dq DeadLetterQuery) (mosaictype.DeadLetterList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"reason": dq.Reason, "kind": dq.Kind, "state": dq.State, "cursor": dq.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if dq.Limit > 0 {
		q.Set("limit", fmt.Sprint(dq.Limit))
	}
	var out mosaictype.DeadLetterList
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters?"+q.Encode()), nil, &out)
}

// DeadLetterSummary counts the workspace's dead letters by reason and kind.
func (c *Client) DeadLetterSummary(ctx context.Context, ws uuid.UUID) ([]mosaictype.DeadLetterGroup, error) {
	var out struct {
		Groups []mosaictype.DeadLetterGroup `json:"groups"`
	}
	return out.Groups, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters/summary"), nil, &out)
}

// DiscardDeadLetter marks a dead letter discarded (admin).
func (c *Client) DiscardDeadLetter(ctx context.Context, ws, id uuid.UUID) (mosaictype.DeadLetter, error) {
	var out mosaictype.DeadLetter
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/dead-letters/"+id.String()+"/discard"), nil, &out)
}

// GetDeadLetter reads a dead letter.
func (c *Client) GetDeadLetter(ctx context.Context, ws, id uuid.UUID) (mosaictype.DeadLetter, error) {
	var out mosaictype.DeadLetter
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/dead-letters/"+id.String()), nil, &out)
}

// ReplayDeadLetter re-queues a dead letter.
func (c *Client) ReplayDeadLetter(ctx context.Context, ws, id uuid.UUID, fresh bool) (mosaictype.ReplayResponse, error) {
	var out mosaictype.ReplayResponse
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/dead-letters/"+id.String()+"/replay"), mosaictype.ReplayRequest{Fresh: fresh}, &out)
}
