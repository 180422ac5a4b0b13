package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConsumersAndTop(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir)
	if r := runMosaic(t, nil, "workspaces", "create", "watched", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	// Long enough to be running while the views look.
	for range 3 {
		if r := runMosaic(t, nil, "publish", "--kind", "demo.steps", "--args", `{"steps":100,"step_ms":100}`, "--data-dir", dataDir); r.code != 0 {
			t.Fatalf("publish: %d %s", r.code, r.stderr)
		}
	}

	r := runMosaic(t, nil, "consumers", "--data-dir", dataDir)
	t.Logf("mosaic consumers:\n%s", r.stdout)
	if r.code != 0 {
		t.Fatalf("consumers: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"TASKS  (", "POOL  ", "BAND", "PENDING", "ACK PENDING", "REDELIVERED", "WAITING", "OLDEST UNACKED",
		"RATE", "DEAD", "CREDENTIALS  (", "KNOWLEDGE  (", "EVENTS  ("} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("consumers output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^default\s+p5\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+\d+\s*$`).MatchString(r.stdout) {
		t.Errorf("consumers output has no row for the default pool's band p5")
	}
	if !regexp.MustCompile(`(?m)^total\s+\d+`).MatchString(r.stdout) {
		t.Errorf("consumers output has no stream total")
	}

	r = runMosaic(t, nil, "consumers", "--output", "json", "--data-dir", dataDir)
	var rep struct {
		Streams []struct {
			Stream    string `json:"stream"`
			Consumers []struct {
				Name       string `json:"name"`
				Pool       string `json:"pool"`
				Band       string `json:"band"`
				Pending    int    `json:"pending"`
				AckPending int    `json:"ack_pending"`
			} `json:"consumers"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("consumers --output json: %d %v\n%s", r.code, err, r.stdout)
	}
	held := -1
	for _, sr := range rep.Streams {
		for _, c := range sr.Consumers {
			if sr.Stream == "TASKS" && c.Name == "default-p5" && c.Pool == "default" && c.Band == "p5" {
				held = c.Pending + c.AckPending
			}
		}
	}
	if held != 3 {
		t.Errorf("JSON: default-p5 holds %d messages; want the 3 running tasks", held)
	}

	// A delivered message is claimed (its row marked running) a moment later: on a busy machine
	// the first frame may still show the tasks queued.
	deadline := time.Now().Add(15 * time.Second)
	for {
		r = runMosaic(t, nil, "top", "--once", "--data-dir", dataDir)
		if r.code != 0 {
			t.Fatalf("top --once: exit %d\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "running 3") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("mosaic top --once:\n%s", r.stdout)
	for _, want := range []string{"mosaic top  http://", "tasks  queued", "running 3", "CONSUMERS", "TASKS", "  default p5", "BUSIEST WORKSPACES", "watched"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("top frame lacks %q", want)
		}
	}
	if !strings.Contains(r.stdout, "AGENTS") && !strings.Contains(r.stdout, "agents: ") {
		t.Errorf("top frame has no agents section")
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if len([]rune(line)) > 80 && !strings.HasPrefix(line, "mosaic top") {
			t.Errorf("top line wider than 80 columns: %q", line)
		}
	}
}

func TestTopWhenTheServerIsDown(t *testing.T) {
	t.Parallel()
	env := []string{"MOSAIC_ADMIN_TOKEN=an-admin-token-for-nothing"}
	r := runMosaic(t, env, "top", "--once", "--server", "http://127.0.0.1:1")
	if r.code == 0 || !strings.Contains(r.stderr, "mosaic: server unreachable: ") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("top --once on a dead server: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// Without --once it keeps trying, and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mosaicBin, "top", "--server", "http://127.0.0.1:1", "--interval", "1s")
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // killed at the deadline
	if ctx.Err() == nil {
		t.Fatalf("top exited before the deadline: %s", stderr.String())
	}
	if n := strings.Count(stdout.String(), "server unreachable: "); n < 2 || !strings.Contains(stdout.String(), "retrying in 1s") {
		t.Fatalf("top on a dead server printed %d unreachable frames in 3s; want ≥2 saying it retries:\n%s\n%s", n, stdout.String(), stderr.String())
	}
}
