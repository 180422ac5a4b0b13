package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/store"
)

// A SIGKILLed worker stops heartbeating; the supervisor (here in the second worker) marks it lost
// and requeues its task at once: the task finishes long before its message's 5-minute ack wait.
func TestSupervisorRequeuesAKilledWorkersTask(t *testing.T) {
	e := newWorkerEnv(t)
	first := e.startWorker(t, "--name", "victim", "--ack-wait", "5m", "--heartbeat", "300ms", "--concurrency", "2")
	id := e.publish(t, demo.StepsArgs{Steps: 30, StepMS: 100})
	e.waitFor(t, "five checkpoints on the first worker", 20*time.Second, func() bool { return e.task(t, id).CheckpointSeq >= 5 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	e.startWorker(t, "--name", "rescuer", "--ack-wait", "5m", "--heartbeat", "300ms", "--concurrency", "2")
	// Without the supervisor the task would wait for its message's ack wait: 5 minutes.
	e.waitFor(t, "the task to succeed on the second worker", 60*time.Second, func() bool {
		return e.task(t, id).Status == store.StatusSucceeded
	})
	evs := e.succeededOnce(t, id)
	requeued := false
	for _, ev := range evs {
		var d map[string]any
		_ = json.Unmarshal(ev.Detail, &d)
		if ev.Type == "requeued" && d["lost_worker"] == "victim" {
			requeued = true
		}
	}
	if !requeued {
		t.Fatalf("no requeued event naming the lost worker: %+v", evs)
	}
	res := stepsResult(t, e.task(t, id))
	if res.ResumedFrom < 5 {
		t.Fatalf("result %+v: the requeued task did not resume from its checkpoint", res)
	}
	list, err := e.db.ListAgents(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, a := range list {
		states[a.Name] = a.State
	}
	if states["victim"] != store.AgentLost || states["rescuer"] != store.AgentRunning {
		t.Fatalf("agent states %v; want victim lost, rescuer running", states)
	}
}

// The operator's controls from the CLI against `mosaic dev`: the agent registry, pool and
// workspace pause, a remote drain.
func TestAgentsAndPausesFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir, "--heartbeat", "200ms")
	r := runMosaic(t, nil, "workspaces", "create", "ops", "--output", "json", "--data-dir", dataDir)
	var ws struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ws); err != nil {
		t.Fatalf("workspaces create: %s %v", r.stdout, err)
	}
	r = runMosaic(t, nil, "agents", "--output", "json", "--data-dir", dataDir)
	var listed struct {
		Items []store.Agent `json:"items"`
	}
	err := json.Unmarshal([]byte(r.stdout), &listed)
	list := listed.Items
	if err != nil || len(list) != 1 || list[0].State != store.AgentRunning {
		t.Fatalf("agents: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Its handler slots: 8 for TASKS, 4 each for the credentials and knowledge agents' pools.
	if list[0].Concurrency != 16 {
		t.Fatalf("agent concurrency %d, want 16 (8 + 4 + 4 handler slots)", list[0].Concurrency)
	}
	if r = runMosaic(t, nil, "pools", "pause", "default", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "default-p5") {
		t.Fatalf("pools pause: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "pools", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "default paused until") {
		t.Fatalf("pools: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "pools", "pause", "Not A Pool", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "pool") {
		t.Fatalf("pause of a bad pool name: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "pools", "resume", "default", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("pools resume: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "workspaces", "pause", ws.ID, "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "paused") {
		t.Fatalf("workspaces pause: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "workspaces", "resume", ws.ID, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces resume: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "agents", "drain", list[0].Name, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("agents drain: %d %s %s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = runMosaic(t, nil, "agents", "show", list[0].ID.String(), "--data-dir", dataDir)
		if r.code == 0 && strings.Contains(r.stdout, "stopped") && strings.Contains(r.stdout, "drain_requested") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the drained agent did not stop: %d %s %s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Production starts on one server when JetStream fsyncs every write (the guard's other way out
// is --replicas 3 on a 3-node cluster).
func TestProductionStartsWhenEveryWriteIsSynced(t *testing.T) {
	t.Parallel()
	startDev(t, filepath.Join(t.TempDir(), "data"), "--env", "production", "--allow-local-keyring", "--nats-sync-always")
}
