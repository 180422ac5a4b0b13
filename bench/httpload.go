package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

// httpPublishLoad publishes cfg.httpRequests tasks through POST /v1/workspaces/{ws}/tasks on
// loopback with cfg.httpClients concurrent clients, bounded by cfg.httpFor, with the outbox relay
// running (as `mosaic dev` does), and returns the request latencies' p50 and p99 (ms), the
// requests/s and the number of failed requests.
func httpPublishLoad(ctx context.Context, e *env, cfg config) (p50, p99, rate float64, failed int64, err error) {
	reg := agents.NewRegistry()
	demo.Register(reg)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: e.db, Registry: reg, JS: e.js})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer tasks.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relay := outbox.NewRelay(outbox.RelayConfig{DB: e.db, JS: e.js, BatchSize: 1000})
	go func() { _ = relay.Run(rctx) }()
	const adminToken = "bench-admin-token-0123456789abcdef"
	srv, err := api.New(api.Config{DB: e.db, AdminToken: adminToken, Tasks: tasks})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	admin, _ := client.New(ts.URL, adminToken)
	w, err := admin.CreateWorkspace(ctx, mosaictype.CreateWorkspaceRequest{Name: "http-bench-" + uuid.NewString()[:8]})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var next atomic.Int64
	var errs atomic.Int64
	lat := &latencies{}
	var prof *pgProfile
	if cfg.pgstats {
		prof = startProfile(ctx, e)
	}
	deadline := time.Now().Add(cfg.httpFor)
	started := time.Now()
	var wg sync.WaitGroup
	for range cfg.httpClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := client.New(ts.URL, w.APIKey)
			for next.Add(1) <= int64(cfg.httpRequests) && time.Now().Before(deadline) {
				t0 := time.Now()
				_, err := c.Publish(ctx, w.ID, mosaictype.PublishRequest{Kind: "demo.echo", Args: []byte(`{"n":1}`)})
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					continue
				}
				lat.mu.Lock()
				lat.d = append(lat.d, d)
				lat.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(started)
	prof.report(ctx, len(lat.d), took.Seconds())
	if len(lat.d) == 0 {
		return 0, 0, 0, errs.Load(), errors.New("no request succeeded")
	}
	n, err := countStatus(ctx, e, w.ID, store.StatusQueued)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if n != len(lat.d) {
		return 0, 0, 0, 0, fmt.Errorf("%d publishes answered 202 but %d tasks are queued", len(lat.d), n)
	}
	return percentile(lat.d, 0.5), percentile(lat.d, 0.99), float64(len(lat.d)) / took.Seconds(), errs.Load(), nil
}
