package main_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// mosaic dev --otel-endpoint exports a task's spans, the API's publish and the pool's delivery.
func TestDevExportsTraces(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			bodies = append(bodies, body)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir, "--otel-endpoint", collector.URL)
	if r := runMosaic(t, nil, "workspaces", "create", "traced", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	if r := runMosaic(t, nil, "publish", "--kind", "demo.echo", "--wait", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("publish --wait: %d %s", r.code, r.stderr)
	}
	// The spans leave in batches (every 5 s by default).
	want := [][]byte{[]byte("mosaic.publish"), []byte("mosaic.deliver"), []byte("mosaic.handle"), []byte("mosaic.end")}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		all := bytes.Join(bodies, nil)
		mu.Unlock()
		missing := 0
		for _, w := range want {
			if !bytes.Contains(all, w) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector got %d bytes of spans; %d of the span names %q are missing", len(all), missing, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
