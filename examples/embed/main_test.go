package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// embedBin is the example, built once.
var embedBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mosaic-embed-")
	if err != nil {
		panic(err)
	}
	embedBin = filepath.Join(dir, "embed")
	if out, err := exec.Command("go", "build", "-o", embedBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// The example, run as a process against a real PostgreSQL and an embedded NATS server, runs the
// task it publishes to success, and drains and exits 0 on SIGTERM.
func TestEmbedRunsItsOwnKind(t *testing.T) {
	ctx := context.Background()
	srv := eventstest.RunServer(t)
	_, js := eventstest.Connect(t, srv)
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	db := pgtest.DB(t)
	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "embed"})
	if err != nil {
		t.Fatal(err)
	}
	user, password := srv.Auth().System()
	cmd := exec.Command(embedBin)
	cmd.Env = append(os.Environ(), "MOSAIC_DATABASE_URL="+pgtest.OwnerURL(t), "MOSAIC_NATS_URL="+srv.ClientURL(),
		"MOSAIC_NATS_USER="+user, "MOSAIC_NATS_PASSWORD="+password, "MOSAIC_WORKSPACE="+w.ID.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	published, exited := make(chan uuid.UUID, 1), make(chan error, 1)
	go func() {
		out := bufio.NewScanner(stdout)
		for out.Scan() {
			if rest, ok := strings.CutPrefix(out.Text(), "published "); ok {
				if id, err := uuid.Parse(rest); err == nil {
					published <- id
				}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var id uuid.UUID
	select {
	case id = <-published:
	case err := <-exited:
		t.Fatalf("the example exited before publishing: %v\n%s", err, stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("the example published nothing within a minute\n%s", stderr.String())
	}
	deadline := time.Now().Add(time.Minute)
	for {
		task, err := db.GetTask(ctx, w.ID, id)
		if err == nil && task.Status == store.StatusSucceeded {
			var result struct{ Greeting string }
			if err := json.Unmarshal(task.Result, &result); err != nil || result.Greeting != "Hello, Mosaic" {
				t.Fatalf("result %s, want the greeting", task.Result)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: %q (%v), want succeeded\n%s", id, task.Status, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the example did not stop within a minute of SIGTERM")
	}
}
