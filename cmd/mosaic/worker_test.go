package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// These tests run `mosaic worker` as separate OS processes against a real PostgreSQL and a real
// NATS server, and kill them. They do not run in parallel with each other: a worker's outbox
// relay serves every workspace of the shared test database.

type workerEnv struct {
	db     *store.DB
	js     jetstream.JetStream // on the workers' NATS server
	env    []string
	ws     uuid.UUID
	client *agents.Client
	since  time.Time // when the first worker started
}

func newWorkerEnv(t *testing.T) *workerEnv {
	t.Helper()
	srv := eventstest.RunServer(t)
	_, js := eventstest.Connect(t, srv)
	if _, err := events.ApplyTopology(context.Background(), js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	db := pgtest.DB(t)
	w, err := db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "w-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	reg := agents.NewRegistry()
	demo.Register(reg)
	client, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return &workerEnv{db: db, js: js, ws: w.ID, client: client,
		env: []string{"MOSAIC_DATABASE_URL=" + pgtest.OwnerURL(t), "MOSAIC_NATS_URL=" + srv.ClientURL(), "MOSAIC_NATS_USER=" + srv.SystemConn("").User, "MOSAIC_NATS_PASSWORD=" + srv.SystemConn("").Password, "MOSAIC_LOG_FORMAT=json"}}
}

type workerProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{} // closed when the process has exited; err is its exit then
	err    error
}

func (e *workerEnv) startWorker(t *testing.T, args ...string) *workerProc {
	t.Helper()
	if e.since.IsZero() {
		e.since = time.Now().Add(-time.Second) // the database's clock may lag a little
	}
	cmd := exec.Command(mosaicBin, append([]string{"worker", "--ack-wait", "1s", "--data-dir", t.TempDir()}, args...)...)
	cmd.Env = append(cleanEnv(), e.env...)
	w := &workerProc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.err = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
		if t.Failed() {
			t.Logf("worker %v log:\n%s", args, w.stderr)
		}
	})
	return w
}

func (e *workerEnv) publish(t *testing.T, args demo.StepsArgs) uuid.UUID {
	t.Helper()
	res, err := e.client.Publish(context.Background(), agents.TaskSpec{WorkspaceID: e.ws, Kind: "demo.steps", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func (e *workerEnv) task(t *testing.T, id uuid.UUID) store.Task {
	t.Helper()
	task, err := e.db.GetTask(context.Background(), e.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func (e *workerEnv) waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func stepsResult(t *testing.T, task store.Task) demo.StepsResult {
	t.Helper()
	var r demo.StepsResult
	if err := json.Unmarshal(task.Result, &r); err != nil {
		t.Fatalf("result %s: %v", task.Result, err)
	}
	return r
}

// succeededEvents reads a task's events and counts its succeeded ones.
func (e *workerEnv) succeededEvents(t *testing.T, id uuid.UUID) ([]store.TaskEvent, int) {
	t.Helper()
	evs, err := e.db.TaskEvents(context.Background(), e.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type == string(store.StatusSucceeded) {
			n++
		}
	}
	return evs, n
}

func (e *workerEnv) succeededOnce(t *testing.T, id uuid.UUID) []store.TaskEvent {
	t.Helper()
	evs, n := e.succeededEvents(t, id)
	if n != 1 {
		t.Fatalf("task %s succeeded %d times: %+v", id, n, evs)
	}
	return evs
}

func TestWorkerKilledMidTaskResumesElsewhere(t *testing.T) {
	e := newWorkerEnv(t)
	first := e.startWorker(t, "--name", "first", "--concurrency", "2")
	id := e.publish(t, demo.StepsArgs{Steps: 30, StepMS: 100})
	e.waitFor(t, "five checkpoints on the first worker", 20*time.Second, func() bool { return e.task(t, id).CheckpointSeq >= 5 })

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	killedAt := e.task(t, id)
	if killedAt.Status != store.StatusRunning || killedAt.Attempt != 1 {
		t.Fatalf("after the kill: status %s attempt %d", killedAt.Status, killedAt.Attempt)
	}
	e.startWorker(t, "--name", "second", "--concurrency", "2")
	e.waitFor(t, "the task to succeed on the second worker", 30*time.Second, func() bool {
		return e.task(t, id).Status == store.StatusSucceeded
	})
	task := e.task(t, id)
	res := stepsResult(t, task)
	if task.Attempt != 2 {
		t.Fatalf("attempt %d; want 2", task.Attempt)
	}
	// Steps before the last checkpoint were not run again.
	if res.ResumedFrom != int(killedAt.CheckpointSeq) || res.Executed != 30-res.ResumedFrom {
		t.Fatalf("result %+v; want a resume from step %d running the %d remaining steps", res, killedAt.CheckpointSeq, 30-killedAt.CheckpointSeq)
	}
	evs := e.succeededOnce(t, id)
	var workers []string
	for _, ev := range evs {
		if ev.Type == "running" {
			workers = append(workers, ev.Worker)
		}
	}
	if len(workers) != 2 || workers[0] != "first" || workers[1] != "second" {
		t.Fatalf("runs by %v; want first, then second", workers)
	}
}

func TestWorkerSIGTERMLosesNothing(t *testing.T) {
	e := newWorkerEnv(t)
	// Short tasks finish within the drain window; long ones are interrupted and resumed elsewhere.
	w := e.startWorker(t, "--name", "first", "--concurrency", "4", "--drain-timeout", "1500ms")
	short := []uuid.UUID{e.publish(t, demo.StepsArgs{Steps: 8, StepMS: 100}), e.publish(t, demo.StepsArgs{Steps: 8, StepMS: 100})}
	long := []uuid.UUID{e.publish(t, demo.StepsArgs{Steps: 60, StepMS: 100}), e.publish(t, demo.StepsArgs{Steps: 60, StepMS: 100})}
	e.waitFor(t, "all four tasks running", 20*time.Second, func() bool {
		for _, id := range append(append([]uuid.UUID{}, short...), long...) {
			if e.task(t, id).CheckpointSeq == 0 {
				return false
			}
		}
		return true
	})
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
		if w.err != nil {
			t.Fatalf("worker exited with %v after SIGTERM", w.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not exit within 20s of SIGTERM")
	}
	for _, id := range short {
		if task := e.task(t, id); task.Status != store.StatusSucceeded {
			t.Fatalf("short task %s is %s after the drain; want succeeded", id, task.Status)
		}
	}
	for _, id := range long {
		task := e.task(t, id)
		if task.Status != store.StatusRetrying || task.CheckpointSeq == 0 {
			t.Fatalf("long task %s: %s with %d checkpoints after the drain; want retrying with its progress", id, task.Status, task.CheckpointSeq)
		}
	}
	e.startWorker(t, "--name", "second", "--concurrency", "4")
	for _, id := range long {
		e.waitFor(t, "the long tasks to succeed", 30*time.Second, func() bool { return e.task(t, id).Status == store.StatusSucceeded })
		task := e.task(t, id)
		res := stepsResult(t, task)
		if res.ResumedFrom == 0 || res.ResumedFrom+res.Executed != 60 || task.Attempt != 2 || task.MaxAttempts != 26 {
			t.Fatalf("long task %s: result %+v attempt %d/%d; want a resume, the interrupted attempt not counted", id, res, task.Attempt, task.MaxAttempts)
		}
		e.succeededOnce(t, id)
	}
	for _, id := range short {
		e.succeededOnce(t, id)
	}
}

// A worker killed while its batched writes are being committed: every task ends succeeded
// exactly once — none lost, none finished twice.
func TestWorkerKilledDuringGroupCommit(t *testing.T) {
	e := newWorkerEnv(t)
	const n = 600
	specs := make([]agents.TaskSpec, n)
	for i := range specs {
		specs[i] = agents.TaskSpec{WorkspaceID: e.ws, Kind: "demo.steps", Args: demo.StepsArgs{Steps: 2, StepMS: 5}}
	}
	published, err := e.client.PublishMany(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	first := e.startWorker(t, "--name", "first", "--concurrency", "64")
	countSucceeded := func() int {
		list, _, err := e.db.ListTasks(context.Background(), e.ws, store.TaskFilter{Status: store.StatusSucceeded, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	e.waitFor(t, "the first worker to be in full flow", 30*time.Second, func() bool { return countSucceeded() >= 50 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	e.startWorker(t, "--name", "second", "--concurrency", "64")
	for _, p := range published {
		e.waitFor(t, "every task to succeed", 60*time.Second, func() bool { return e.task(t, p.ID).Status == store.StatusSucceeded })
		task := e.task(t, p.ID)
		if r := stepsResult(t, task); r.ResumedFrom+r.Executed != 2 {
			t.Fatalf("task %s: result %+v", p.ID, r)
		}
		e.succeededOnce(t, p.ID)
	}
}

// waitAgentsRunning waits until n worker processes have registered as running agents.
// waitAgentsRunning waits until n of the workers this env started are registered as running (a
// worker registers once its pools have started). Agents of other tests share the database: only
// those started since this env's first worker count.
func (e *workerEnv) waitAgentsRunning(t *testing.T, n int) {
	t.Helper()
	e.waitFor(t, "the workers to register", 30*time.Second, func() bool {
		list, err := e.db.ListAgents(context.Background(), time.Minute)
		running := 0
		for _, a := range list {
			if a.State == store.AgentRunning && !a.StartedAt.Before(e.since) {
				running++
			}
		}
		return err == nil && running >= n
	})
}

// publishSteps publishes n demo.steps tasks at once and returns their ids.
func (e *workerEnv) publishSteps(t *testing.T, n, steps, stepMS int) []uuid.UUID {
	t.Helper()
	specs := make([]agents.TaskSpec, n)
	for i := range specs {
		specs[i] = agents.TaskSpec{WorkspaceID: e.ws, Kind: "demo.steps", Args: demo.StepsArgs{Steps: steps, StepMS: stepMS}}
	}
	published, err := e.client.PublishMany(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, len(published))
	for i, p := range published {
		ids[i] = p.ID
	}
	return ids
}

// onceVerdict is the exactly-once check of a run of demo.steps tasks.
type onceVerdict struct {
	lost, doubled, badSteps, reruns int
}

// exactlyOnce checks every task ended succeeded, with one succeeded event and step counts that
// add up (run + resumed = steps); it counts the tasks that needed more than one attempt.
func (e *workerEnv) exactlyOnce(t *testing.T, ids []uuid.UUID, steps int) onceVerdict {
	t.Helper()
	var v onceVerdict
	for _, id := range ids {
		task := e.task(t, id)
		if task.Status != store.StatusSucceeded {
			v.lost++
			t.Logf("task %s ended %s (attempt %d): %s", id, task.Status, task.Attempt, derefStr(task.LastError))
			continue
		}
		if evs, n := e.succeededEvents(t, id); n != 1 {
			v.doubled++
			t.Logf("task %s succeeded %d times: %+v", id, n, evs)
		}
		if res := stepsResult(t, task); res.Steps != steps || res.Executed+res.ResumedFrom != steps {
			v.badSteps++
		}
		if task.Attempt > 1 {
			v.reruns++
		}
	}
	return v
}

// succeededOnStream counts the task.succeeded events on EVENTS for each of ids (JetStream keeps
// one copy of an end's event sent twice within its duplicate window). It waits up to within for
// every task to have one: a worker killed between an end's commit and its event leaves the event
// to the message's redelivery, after the ack wait.
func (e *workerEnv) succeededOnStream(t *testing.T, ids []uuid.UUID, within time.Duration) map[uuid.UUID]int {
	t.Helper()
	counts := map[uuid.UUID]int{}
	everyTask := func(evs []eventstest.ReadEvent) bool {
		seen := map[uuid.UUID]bool{}
		for _, ev := range evs {
			seen[ev.TaskID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}
	for _, ev := range eventstest.ReadEvents(t, e.js, events.EventSubject(e.ws, "task.succeeded"), everyTask, within) {
		counts[ev.TaskID]++
	}
	return counts
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
