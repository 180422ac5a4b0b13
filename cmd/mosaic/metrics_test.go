package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `mosaic dev` serves /metrics on its HTTP address, and `mosaic worker --metrics ADDR` serves it
// alone on ADDR.
func TestMetricsEndpoints(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	if r := runMosaic(t, nil, "workspaces", "create", "metrics", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	if r := runMosaic(t, nil, "publish", "--kind", "demo.echo", "--args", `{"a":1}`, "--wait", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("publish --wait: %d %s", r.code, r.stderr)
	}
	code, body := httpGet(t, dev.server+"/metrics")
	for _, want := range []string{
		`mosaic_tasks{kind="demo.echo",status="succeeded"} 1`,
		`mosaic_handler_runs_total{kind="demo.echo",outcome="succeeded",pool="default"} 1`,
		`mosaic_consumer_pending_messages{consumer="default-p5",stream="TASKS"}`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("dev GET /metrics: %d; want a line with %s in:\n%s", code, want, body)
		}
	}

	addr := freeAddr(t)
	worker := exec.Command(mosaicBin, "worker", "--data-dir", dataDir, "--metrics", addr)
	worker.Env = cleanEnv()
	stderr := &bytes.Buffer{}
	worker.Stderr = stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), "mosaic_tasks{") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosaic worker --metrics %s: no /metrics with mosaic_tasks after 30s:\n%s", addr, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := httpGet(t, "http://"+addr+"/healthz"); code != http.StatusNotFound {
		t.Fatalf("the worker's metrics address serves /healthz: %d; want 404 (metrics only)", code)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
