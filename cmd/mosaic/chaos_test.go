package main_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

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
// one succeeded transition, one task.succeeded event on EVENTS, and a result whose steps add up
// (run + resumed = all). `make chaos` runs
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
	e.waitAgentsRunning(t, workers)
	ids := e.publishSteps(t, tasks, steps, stepMS)

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

	v := e.exactlyOnce(t, ids, steps)
	lost, doubled, badSteps, reruns := v.lost, v.doubled, v.badSteps, v.reruns
	t.Logf("chaos verdict: %d tasks on %d workers, %d SIGKILLs; %d resumed on another worker; lost %d, doubled %d, inconsistent step counts %d",
		tasks, workers, killed, reruns, lost, doubled, badSteps)
	if lost+doubled+badSteps > 0 {
		t.Fatalf("not exactly once: lost %d, doubled %d, inconsistent %d", lost, doubled, badSteps)
	}

	// The domain events: one task.succeeded per task on EVENTS, though a worker may have been
	// killed between an end's commit and its event (the redelivery sends it, after the 30 s ack
	// wait) or after the event and before its ack (the redelivery sends a copy, which JetStream
	// drops).
	counts := e.succeededOnStream(t, ids, 45*time.Second)
	var noEvent, twoEvents int
	for _, id := range ids {
		switch n := counts[id]; {
		case n == 0:
			noEvent++
		case n > 1:
			twoEvents++
			t.Logf("task %s: %d task.succeeded events", id, n)
		}
	}
	t.Logf("chaos events: %d tasks, without task.succeeded %d, with more than one %d", len(ids), noEvent, twoEvents)
	if noEvent+twoEvents > 0 {
		t.Fatalf("domain events not exactly once: %d tasks without task.succeeded, %d with more than one", noEvent, twoEvents)
	}
}
