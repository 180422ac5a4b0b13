package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/store"
)

// chaosSetting reads a MOSAIC_CHAOS_* variable (make chaos sets large ones).
func chaosSetting(t *testing.T, name string, def int) int {
	v := os.Getenv("MOSAIC_CHAOS_" + name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("MOSAIC_CHAOS_%s=%q is not a count", name, v)
	}
	return n
}

// TestChaos runs M demo.steps tasks on several worker processes and SIGKILLs one at random N
// times, starting a replacement each time; at the end every task has succeeded exactly once:
// one succeeded event, and a result whose steps add up (run + resumed = all). `make chaos` runs
// it larger: MOSAIC_CHAOS_TASKS, MOSAIC_CHAOS_KILLS, MOSAIC_CHAOS_WORKERS.
func TestChaos(t *testing.T) {
	tasks, kills, workers := chaosSetting(t, "TASKS", 150), chaosSetting(t, "KILLS", 3), chaosSetting(t, "WORKERS", 3)
	const steps, stepMS = 10, 80
	e := newWorkerEnv(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	start := func(name string) *workerProc {
		return e.startWorker(t, "--name", name, "--ack-wait", "30s", "--heartbeat", "300ms", "--concurrency", "8")
	}
	live := map[string]*workerProc{}
	for i := range workers {
		name := fmt.Sprintf("w%d", i)
		live[name] = start(name)
	}
	e.waitFor(t, "the workers to register", 30*time.Second, func() bool {
		list, err := e.db.ListAgents(context.Background(), time.Minute)
		running := 0
		for _, a := range list {
			if a.State == store.AgentRunning {
				running++
			}
		}
		return err == nil && running >= workers
	})
	specs := make([]agents.TaskSpec, tasks)
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

	// The kills are spread over the run: its length is about tasks × steps × step time / slots.
	run := time.Duration(tasks*steps*stepMS/(workers*8)) * time.Millisecond
	gap := run / time.Duration(kills+1)
	killed := 0
	for killed < kills {
		time.Sleep(gap/2 + time.Duration(rng.Int64N(int64(gap)+1)))
		names := make([]string, 0, len(live))
		for n := range live {
			names = append(names, n)
		}
		victim := names[rng.IntN(len(names))]
		_ = live[victim].cmd.Process.Signal(syscall.SIGKILL)
		<-live[victim].done
		delete(live, victim)
		killed++
		name := fmt.Sprintf("w%d-r%d", killed, rng.IntN(1000))
		live[name] = start(name)
	}

	deadline := time.Now().Add(time.Duration(60+tasks/20) * time.Second)
	for {
		done := 0
		for _, id := range ids {
			if store.Terminal(e.task(t, id).Status) {
				done++
			}
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks ended before the deadline", done, len(ids))
		}
		time.Sleep(250 * time.Millisecond)
	}

	lost, doubled, badSteps, reruns := 0, 0, 0, 0
	for _, id := range ids {
		task := e.task(t, id)
		if task.Status != store.StatusSucceeded {
			lost++
			continue
		}
		if _, n := e.succeededEvents(t, id); n != 1 {
			doubled++
		}
		res := stepsResult(t, task)
		if res.Steps != steps || res.Executed+res.ResumedFrom != steps {
			badSteps++
		}
		if task.Attempt > 1 {
			reruns++
		}
	}
	t.Logf("chaos verdict: %d tasks on %d workers, %d SIGKILLs; %d resumed on another worker; lost %d, doubled %d, inconsistent step counts %d",
		tasks, workers, killed, reruns, lost, doubled, badSteps)
	if lost+doubled+badSteps > 0 {
		t.Fatalf("not exactly once: lost %d, doubled %d, inconsistent %d", lost, doubled, badSteps)
	}
}
