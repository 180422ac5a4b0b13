package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
)

func numCPU() int { return runtime.NumCPU() }

var workerBinary string

// mainModuleDir is Mosaic's module directory, the bench's parent: found from this file's source
// path, so that a bench binary built once runs from any directory; ".." (the bench's own
// directory being the working one) when that path is not on this machine (a -trimpath build).
func mainModuleDir() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	return ".."
}

// workerMemory starts a real `mosaic worker` process with cfg.inflight concurrency, gives it
// cfg.inflight long tasks, and reads its resident memory once they all run.
func workerMemory(ctx context.Context, e *env, cfg config) (float64, error) {
	if workerBinary == "" {
		workerBinary = filepath.Join(e.dir, "mosaic")
		build := exec.CommandContext(ctx, "go", "build", "-o", workerBinary, "./cmd/mosaic")
		build.Dir = mainModuleDir() // the main module: its go.sum, not the bench's
		out, err := build.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("build the worker: %v: %s", err, out)
		}
	}
	s, err := startSystem(ctx, e, cfg, benchRegistry(&latencies{}))
	if err != nil {
		return 0, err
	}
	defer s.stop() // the relay; this process runs no pool here
	stderr := &bytes.Buffer{}
	cmd := exec.CommandContext(ctx, workerBinary, "worker", "--concurrency", strconv.Itoa(cfg.inflight), "--ack-wait", "60s",
		"--name", "memory", "--log-level", "warn", "--data-dir", filepath.Join(e.dir, "worker"))
	cmd.Env = append(os.Environ(), "MOSAIC_DATABASE_URL="+e.ownerURL, "MOSAIC_NATS_URL="+e.ns.ClientURL(), "MOSAIC_NATS_USER="+e.ns.SystemConn("").User, "MOSAIC_NATS_PASSWORD="+e.ns.SystemConn("").Password)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	specs := make([]agents.TaskSpec, cfg.inflight)
	for i := range specs {
		specs[i] = agents.TaskSpec{WorkspaceID: s.ws, Kind: "demo.steps", Args: demo.StepsArgs{Steps: 1, StepMS: 60000}}
	}
	if _, err := s.client.PublishMany(ctx, specs); err != nil {
		return 0, err
	}
	// Every task is delivered and running when the pool's consumer holds them all unacknowledged.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cons, err := e.js.Consumer(ctx, events.TasksStream, agents.ConsumerName("default", 5))
		if err == nil {
			if ci, err := cons.Info(ctx); err == nil && ci.NumAckPending >= cfg.inflight {
				break
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("fewer than %d tasks in flight after 2 minutes; worker log: %s", cfg.inflight, lastLines(stderr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a heartbeat round with every task live
	rss, err := residentMiB(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	// Leave nothing behind for the next run: stop the worker, drop its tasks' messages.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if st, err := e.js.Stream(ctx, events.TasksStream); err == nil {
		_ = st.Purge(ctx)
	}
	return rss, nil
}

func residentMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				return 0, err
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
