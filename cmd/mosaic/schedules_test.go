package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A schedule made with the CLI publishes a task every second on a running mosaic dev; each run's
// task runs like any other and names its schedule; pause stops the runs.
func TestSchedulesFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir)
	if r := runMosaic(t, nil, "workspaces", "create", "schedules", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	if r := runMosaic(t, nil, "schedules", "create", "tick", "--kind", "demo.echo", "--data-dir", dataDir); r.code != 2 || !strings.Contains(r.stderr, "--cron") {
		t.Fatalf("create without a timing: exit %d (want 2) %s", r.code, r.stderr)
	}
	if r := runMosaic(t, nil, "schedules", "create", "tick", "--kind", "demo.echo", "--cron", "61 * * * *", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "cron expression") {
		t.Fatalf("create with a bad cron expression: exit %d %s", r.code, r.stderr)
	}
	r := runMosaic(t, nil, "schedules", "create", "tick", "--kind", "demo.echo", "--args", `{"from":"schedule"}`, "--every", "1s", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "every 1s") {
		t.Fatalf("schedules create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "schedules", "create", "nightly", "--kind", "demo.echo", "--cron", "30 2 * * *", "--tz", "Asia/Tokyo", "--overlap", "skip", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "30 2 * * * (Asia/Tokyo)") {
		t.Fatalf("schedules create --cron: %d %s %s", r.code, r.stdout, r.stderr)
	}

	type run struct {
		TaskID     string `json:"task_id"`
		TaskStatus string `json:"task_status"`
	}
	var got struct {
		Name     string `json:"name"`
		Runs     int    `json:"runs"`
		LastRuns []run  `json:"last_runs"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = runMosaic(t, nil, "schedules", "get", "tick", "--output", "json", "--data-dir", dataDir)
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("schedules get: %d %s %s", r.code, r.stdout, r.stderr)
		}
		done := 0
		for _, run := range got.LastRuns {
			if run.TaskStatus == "succeeded" {
				done++
			}
		}
		if done >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, runs of tick: %+v", got)
		}
		time.Sleep(300 * time.Millisecond)
	}
	r = runMosaic(t, nil, "tasks", "get", got.LastRuns[len(got.LastRuns)-1].TaskID, "--output", "json", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, `"schedule": "tick"`) || !strings.Contains(r.stdout, `"scheduled_for"`) || !strings.Contains(r.stdout, `"from": "schedule"`) {
		t.Fatalf("a run's task: %d %s %s", r.code, r.stdout, r.stderr)
	}

	r = runMosaic(t, nil, "schedules", "list", "--output", "json", "--data-dir", dataDir)
	var list struct {
		Items []struct {
			Name     string   `json:"name"`
			NextRuns []string `json:"next_runs"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Items) != 2 || list.Items[0].Name != "nightly" || len(list.Items[0].NextRuns) != 5 {
		t.Fatalf("schedules list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "schedules", "list", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "NEXT RUN") || !strings.Contains(r.stdout, "every 1s") {
		t.Fatalf("schedules list (text): %d %s", r.code, r.stdout)
	}

	if r = runMosaic(t, nil, "schedules", "pause", "tick", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "paused; next run paused") {
		t.Fatalf("pause: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "schedules", "get", "tick", "--output", "json", "--data-dir", dataDir)
	_ = json.Unmarshal([]byte(r.stdout), &got)
	before := got.Runs
	time.Sleep(2500 * time.Millisecond)
	r = runMosaic(t, nil, "schedules", "get", "tick", "--output", "json", "--data-dir", dataDir)
	_ = json.Unmarshal([]byte(r.stdout), &got)
	if got.Runs != before {
		t.Fatalf("a paused schedule ran: %d runs, then %d", before, got.Runs)
	}
	if r = runMosaic(t, nil, "schedules", "delete", "tick", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("delete: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "schedules", "get", "tick", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("get after delete: %d %s", r.code, r.stderr)
	}
}
