package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// newTaskServer is an API server with the task routes (the demo kinds registered) on a database
// of its own; it returns the server's URL.
func newTaskServer(t *testing.T) (string, *store.DB) {
	t.Helper()
	db := pgtest.DB(t)
	reg := agents.NewRegistry()
	demo.Register(reg)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	return newServer(t, srv), db
}

func taskServer(t *testing.T) (*client.Client, uuid.UUID, *store.DB) {
	t.Helper()
	ts, db := newTaskServer(t)
	admin, _ := client.New(ts, adminToken)
	w, err := admin.CreateWorkspace(context.Background(), api.CreateWorkspaceRequest{Name: "tasks-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(ts, w.APIKey)
	return c, w.ID, db
}

func TestPublishRejectsBadInput(t *testing.T) {
	t.Parallel()
	c, ws, _ := taskServer(t)
	ctx := context.Background()
	in, far := time.Now().Add(time.Hour), time.Now().Add(2*366*24*time.Hour)
	for name, req := range map[string]api.PublishRequest{
		"unknown kind":      {Kind: "demo.nope"},
		"invalid kind":      {Kind: "Demo Echo"},
		"invalid args":      {Kind: "demo.steps", Args: json.RawMessage(`{"steps":-1}`)},
		"unknown arg":       {Kind: "demo.steps", Args: json.RawMessage(`{"stepz":1}`)},
		"args not an obj":   {Kind: "demo.echo", Args: json.RawMessage(`[1,2]`)},
		"priority 11":       {Kind: "demo.echo", Priority: 11},
		"priority -1":       {Kind: "demo.echo", Priority: -1},
		"negative delay":    {Kind: "demo.echo", Delay: "-5s"},
		"bad delay":         {Kind: "demo.echo", Delay: "soon"},
		"delay and run_at":  {Kind: "demo.echo", Delay: "5s", RunAt: &in},
		"negative timeout":  {Kind: "demo.echo", Timeout: "-1s"},
		"max attempts 5000": {Kind: "demo.echo", MaxAttempts: 5000},
		"oversize args":     {Kind: "demo.echo", Args: json.RawMessage(`{"pad":"` + strings.Repeat("x", 300<<10) + `"}`)},
		"duplicate creds":   {Kind: "demo.echo", Credentials: []string{"a", "a"}},
		"number beyond f64": {Kind: "demo.echo", Args: json.RawMessage(`{"n":1e400}`)},
		"delay of 2 years":  {Kind: "demo.echo", Delay: "17600h"},
		"run_at in 2 years": {Kind: "demo.echo", RunAt: &far},
	} {
		_, err := c.Publish(ctx, ws, req)
		if !mosaictype.IsCode(err, api.CodeInvalidArgument) && !mosaictype.IsCode(err, api.CodeTooLarge) {
			t.Errorf("%s: %v; want invalid_argument", name, err)
		}
	}
}

func TestPublishGetListCancel(t *testing.T) {
	t.Parallel()
	c, ws, _ := taskServer(t)
	ctx := context.Background()
	res, err := c.Publish(ctx, ws, api.PublishRequest{Kind: "demo.steps", Args: json.RawMessage(`{"steps":3}`), Priority: 2,
		IdempotencyKey: "k1", Metadata: map[string]string{"team": "search"}})
	if err != nil || res.Status != store.StatusQueued || res.Duplicate {
		t.Fatalf("publish: %+v %v", res, err)
	}
	again, err := c.Publish(ctx, ws, api.PublishRequest{Kind: "demo.steps", Args: json.RawMessage(`{"steps":3}`), IdempotencyKey: "k1"})
	if err != nil || !again.Duplicate || again.ID != res.ID {
		t.Fatalf("duplicate publish: %+v %v", again, err)
	}
	task, err := c.GetTask(ctx, ws, res.ID, 0)
	if err != nil || task.Kind != "demo.steps" || task.Priority != 2 || task.Status != store.StatusQueued || task.Metadata["team"] != "search" {
		t.Fatalf("get: %+v %v", task, err)
	}
	raw, _ := json.Marshal(task)
	for _, field := range []string{`"id"`, `"workspace_id"`, `"kind"`, `"priority"`, `"status"`, `"attempt"`, `"progress"`,
		`"result"`, `"last_error"`, `"checkpoint_seq"`, `"created_at"`, `"updated_at"`, `"started_at"`, `"finished_at"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("task JSON lacks %s", field)
		}
	}
	scheduled, err := c.Publish(ctx, ws, api.PublishRequest{Kind: "demo.echo", Delay: "1h"})
	if err != nil || scheduled.Status != store.StatusScheduled {
		t.Fatalf("delayed publish: %+v %v", scheduled, err)
	}
	list, err := c.ListTasks(ctx, ws, client.TaskQuery{Status: store.StatusQueued})
	if err != nil || len(list.Tasks) != 1 || list.Tasks[0].ID != res.ID {
		t.Fatalf("list queued: %+v %v", list, err)
	}
	page1, err := c.ListTasks(ctx, ws, client.TaskQuery{Limit: 1})
	if err != nil || len(page1.Tasks) != 1 || page1.NextCursor == "" || page1.Tasks[0].ID != scheduled.ID {
		t.Fatalf("page 1: %+v %v", page1, err)
	}
	page2, err := c.ListTasks(ctx, ws, client.TaskQuery{Cursor: page1.NextCursor, Limit: 1})
	if err != nil || len(page2.Tasks) != 1 || page2.Tasks[0].ID != res.ID {
		t.Fatalf("page 2: %+v %v", page2, err)
	}
	if _, err := c.ListTasks(ctx, ws, client.TaskQuery{Status: "finished"}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("bad status filter: %v", err)
	}
	for _, bad := range []string{"=5", "a..b=1", "customer.=1"} {
		if _, err := c.ListTasks(ctx, ws, client.TaskQuery{Search: bad}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
			t.Fatalf("search %q: %v; want an invalid argument", bad, err)
		}
	}
	found, err := c.ListTasks(ctx, ws, client.TaskQuery{Search: res.ID.String()})
	if err != nil || len(found.Tasks) != 1 || found.Tasks[0].ID != res.ID {
		t.Fatalf("search by id: %+v %v", found, err)
	}
	if none, err := c.ListTasks(ctx, ws, client.TaskQuery{Since: time.Now().Add(time.Hour)}); err != nil || len(none.Tasks) != 0 {
		t.Fatalf("created after an hour from now: %+v %v", none, err)
	}
	status, err := c.CancelTask(ctx, ws, scheduled.ID)
	if err != nil || status != string(store.StatusCancelled) {
		t.Fatalf("cancel: %s %v", status, err)
	}
	if _, err := c.CancelTask(ctx, ws, scheduled.ID); !mosaictype.IsCode(err, api.CodeConflict) {
		t.Fatalf("cancel twice: %v", err)
	}
	if _, err := c.GetTask(ctx, ws, uuid.New(), 0); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
	// ?wait returns at once for a finished task.
	start := time.Now()
	if task, err := c.GetTask(ctx, ws, scheduled.ID, 30*time.Second); err != nil || task.Status != store.StatusCancelled || time.Since(start) > 5*time.Second {
		t.Fatalf("wait on a finished task: %s %v after %s", task.Status, err, time.Since(start))
	}
	evs, err := c.TaskEvents(ctx, ws, scheduled.ID)
	if err != nil || len(evs) != 2 || evs[0].Type != "published" || evs[1].Type != string(store.StatusCancelled) {
		t.Fatalf("events: %+v %v", evs, err)
	}
	// A cancelled task retried: queued again under generation 1, with who asked; a task that has
	// not ended cannot be, an unknown one is not found.
	retried, err := c.RetryTask(ctx, ws, scheduled.ID, false)
	if err != nil || retried.Status != store.StatusQueued || retried.Generation != 1 {
		t.Fatalf("retry a cancelled task: %+v %v", retried, err)
	}
	if evs, err := c.TaskEvents(ctx, ws, scheduled.ID); err != nil || evs[len(evs)-1].Type != "retried" || !strings.Contains(string(evs[len(evs)-1].Detail), `"by"`) {
		t.Fatalf("the retry's event: %+v %v", evs, err)
	}
	if _, err := c.RetryTask(ctx, ws, scheduled.ID, false); !mosaictype.IsCode(err, api.CodeConflict) {
		t.Fatalf("retry a queued task: %v; want a conflict", err)
	}
	if _, err := c.RetryTask(ctx, ws, uuid.New(), false); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("retry an unknown task: %v; want not found", err)
	}
	// Deleting: not while it is queued; once cancelled, it and its events are gone.
	if err := c.DeleteTask(ctx, ws, scheduled.ID); !mosaictype.IsCode(err, api.CodeConflict) {
		t.Fatalf("delete a queued task: %v; want a conflict", err)
	}
	if _, err := c.CancelTask(ctx, ws, scheduled.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTask(ctx, ws, scheduled.ID); err != nil {
		t.Fatalf("delete a cancelled task: %v", err)
	}
	if _, err := c.GetTask(ctx, ws, scheduled.ID, 0); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("a deleted task: %v; want not found", err)
	}
	if evs, err := c.TaskEvents(ctx, ws, scheduled.ID); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("a deleted task's events: %+v %v; want not found", evs, err)
	}
	dl, err := c.ListDeadLetters(ctx, ws, client.DeadLetterQuery{})
	if err != nil || len(dl.DeadLetters) != 0 {
		t.Fatalf("dead letters: %+v %v", dl, err)
	}
	if _, err := c.ReplayDeadLetter(ctx, ws, uuid.New(), false); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("replay unknown: %v", err)
	}
}

// The W3C traceparent header of a publish stays with the task; a malformed one is ignored.
func TestPublishKeepsTraceContext(t *testing.T) {
	t.Parallel()
	c, ws, _ := taskServer(t)
	ctx := context.Background()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, header := range []string{tp, "garbage"} {
		c.TraceParent = header
		res, err := c.Publish(ctx, ws, api.PublishRequest{Kind: "demo.echo"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := c.GetTask(ctx, ws, res.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := task.Metadata["traceparent"]
		if header == tp && got != tp || header != tp && ok {
			t.Fatalf("header %q: task metadata %v", header, task.Metadata)
		}
	}
}

func TestListTasksSortIsValidated(t *testing.T) {
	t.Parallel()
	c, ws, _ := taskServer(t)
	ctx := context.Background()
	for _, sort := range []string{"created", "updated", "finished", "priority"} {
		if _, err := c.ListTasks(ctx, ws, client.TaskQuery{Sort: sort}); err != nil {
			t.Errorf("sort %s: %v", sort, err)
		}
	}
	if _, err := c.ListTasks(ctx, ws, client.TaskQuery{Sort: "size"}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("sort size: %v; want invalid argument", err)
	}
}
