package main_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A succeeded task is deleted once its retention has passed: the process's default, unless its
// workspace keeps such tasks longer; the cleaner's progress shows in /metrics.
func TestRetentionFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir, "--retain-succeeded", "1s", "--clean-every", "1s")
	r := runMosaic(t, nil, "workspaces", "create", "retention", "--output", "json", "--data-dir", dataDir)
	var ws struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &ws); err != nil {
		t.Fatalf("workspaces create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--output", "json", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, `"succeeded": "1s"`) || !strings.Contains(r.stdout, `"dead": "168h0m0s"`) {
		t.Fatalf("workspaces retention: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--succeeded", "a while", "--data-dir", dataDir); r.code != 2 {
		t.Fatalf("a bad duration: exit %d (want 2) %s", r.code, r.stderr)
	}

	publish := func() string {
		t.Helper()
		r := runMosaic(t, nil, "publish", "--kind", "demo.echo", "--args", `{"a":1}`, "--wait", "--output", "json", "--data-dir", dataDir)
		var task struct{ ID, Status string }
		if err := json.Unmarshal([]byte(r.stdout), &task); err != nil || task.Status != "succeeded" {
			t.Fatalf("publish --wait: %d %s %s", r.code, r.stdout, r.stderr)
		}
		return task.ID
	}
	gone := func(id string) bool {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			r := runMosaic(t, nil, "tasks", "get", id, "--data-dir", dataDir)
			if r.code != 0 {
				if !strings.Contains(r.stderr, "not found") {
					t.Fatalf("tasks get: %d %s", r.code, r.stderr)
				}
				return true
			}
			time.Sleep(500 * time.Millisecond)
		}
		return false
	}
	if id := publish(); !gone(id) {
		t.Fatalf("task %s succeeded and is still there after 30 s with --retain-succeeded 1s", id)
	}

	// The workspace keeps its succeeded tasks for good: the next one stays through passes.
	r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--succeeded", "0s", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "own settings: succeeded 0s, cancelled default") {
		t.Fatalf("workspaces retention --succeeded 0s: %d %s %s", r.code, r.stdout, r.stderr)
	}
	kept := publish()
	passes := func() string {
		_, body := httpGet(t, dev.server+"/metrics")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "mosaic_retention_passes_total ") {
				return line
			}
		}
		return ""
	}
	before := passes()
	deadline := time.Now().Add(30 * time.Second)
	for passes() == before && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // and one more pass after the task's second has passed
	if r := runMosaic(t, nil, "tasks", "get", kept, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("a task of a workspace that keeps them was deleted: %d %s", r.code, r.stderr)
	}
	code, body := httpGet(t, dev.server+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `mosaic_retention_deleted_rows_total{class="succeeded",table="tasks"} 1`) ||
		!strings.Contains(body, `mosaic_retention_deleted_rows_total{class="succeeded",table="task_events"}`) {
		t.Fatalf("/metrics lacks the cleaner's deletes:\n%s", body)
	}
}
