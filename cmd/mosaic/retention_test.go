package main_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The retention settings from the CLI: the server's defaults, a workspace's own, the floor; and
// the cleaner at work in /metrics. (What the cleaner deletes: store's TestCleanerDeletesWhat
// RetentionNoLongerKeeps, on tasks that ended hours ago.)
func TestRetentionFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	if r := runMosaic(t, nil, "dev", "--data-dir", dataDir, "--retain-succeeded", "10m"); r.code == 0 || !strings.Contains(r.stderr, "--retain-succeeded") || !strings.Contains(r.stderr, "from 1h0m0s") {
		t.Fatalf("dev --retain-succeeded 10m: exit %d %s", r.code, r.stderr)
	}
	dev := startDev(t, dataDir, "--retain-succeeded", "2h", "--clean-every", "1s")
	r := runMosaic(t, nil, "workspaces", "create", "retention", "--output", "json", "--data-dir", dataDir)
	var ws struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &ws); err != nil {
		t.Fatalf("workspaces create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--output", "json", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, `"succeeded": "2h0m0s"`) || !strings.Contains(r.stdout, `"dead": "168h0m0s"`) {
		t.Fatalf("workspaces retention: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range []string{"a while", "30m"} {
		if r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--succeeded", bad, "--data-dir", dataDir); r.code == 0 {
			t.Fatalf("--succeeded %q was taken: %s", bad, r.stdout)
		}
	}
	r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--succeeded", "0s", "--dead", "72h", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "own settings: succeeded 0s, cancelled default, dead 72h0m0s") ||
		!strings.Contains(r.stdout, "what holds:   succeeded 0s, cancelled 24h0m0s, dead 72h0m0s") {
		t.Fatalf("workspaces retention --succeeded 0s --dead 72h: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "workspaces", "retention", ws.ID, "--dead", "default", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "own settings: succeeded 0s, cancelled default, dead default") {
		t.Fatalf("--dead default: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// The cleaner passes (every second here) show in /metrics; a fresh task is not touched.
	r = runMosaic(t, nil, "publish", "--kind", "demo.echo", "--args", `{"a":1}`, "--wait", "--output", "json", "--data-dir", dataDir)
	var task struct{ ID, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &task); err != nil || task.Status != "succeeded" {
		t.Fatalf("publish --wait: %d %s %s", r.code, r.stdout, r.stderr)
	}
	passes := func() int {
		_, body := httpGet(t, dev.server+"/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "mosaic_retention_passes_total "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		return 0
	}
	first := passes()
	deadline := time.Now().Add(30 * time.Second)
	for passes() < first+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two cleaning passes in 30 s after %d", first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := runMosaic(t, nil, "tasks", "get", task.ID, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("a fresh task after the cleaner's passes: %d %s", r.code, r.stderr)
	}
	if code, body := httpGet(t, dev.server+"/metrics"); code != http.StatusOK || !strings.Contains(body, "mosaic_retention_last_pass_timestamp_seconds ") {
		t.Fatalf("/metrics lacks the cleaner's last pass:\n%s", body)
	}
}
