package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/store"
)

// fedInstance is one instance of the federation run: its database, identity, federation server
// and node, and (for the answering one) its API.
type fedInstance struct {
	db   *store.DB
	hub  *federation.Hub
	node *federation.Node
	self *federation.Self
}

func (fi *fedInstance) close() {
	if fi.node != nil {
		fi.node.Close()
	}
	if fi.hub != nil {
		fi.hub.Close()
	}
	if fi.db != nil {
		fi.db.Close()
	}
}

// startInstance starts an instance on a database of its own (database db, provisioned and
// migrated on the run's PostgreSQL server).
func startInstance(ctx context.Context, e *env, db, name string, listen bool, tasks func(*store.DB) (*agents.Client, error)) (*fedInstance, error) {
	url, err := e.provision(ctx, db)
	if err != nil {
		return nil, err
	}
	fi := &fedInstance{}
	if fi.db, err = store.Open(ctx, store.Config{URL: url, MaxConns: 16}); err != nil {
		return nil, err
	}
	kr, err := keyring.Open(filepath.Join(e.dir, name+"-keyring.json"), keyring.Options{})
	if err != nil {
		return fi, err
	}
	if _, err := kr.CreateKey(ctx, crypto.KeyFederation); err != nil {
		return fi, err
	}
	if fi.self, err = federation.LoadOrCreate(ctx, fi.db, kr, name); err != nil {
		return fi, err
	}
	hc := federation.HubConfig{}
	if listen {
		hc.Listen = "127.0.0.1:0"
	}
	if fi.hub, err = federation.StartHub(fi.self, hc); err != nil {
		return fi, err
	}
	// The asking instance's API is never called here (status goes the other way): any URL will do.
	cfg := federation.NodeConfig{Self: fi.self, Hub: fi.hub, DB: fi.db, PollInterval: 100 * time.Millisecond, HTTPURL: "http://127.0.0.1:9"}
	if tasks != nil {
		if cfg.Tasks, err = tasks(fi.db); err != nil {
			return fi, err
		}
	}
	fi.node, err = federation.StartNode(ctx, cfg)
	return fi, err
}

// federationBench links two instances (two databases on the run's PostgreSQL server, two
// federation servers joined by a leafnode on loopback) and measures what asking the peer costs:
// the round trip of tasks.list (20 tasks of a granted workspace) one at a time — signed, sent over
// the leafnode, verified, checked against the grant, served through the RLS door, signed back and
// verified — next to the same list read locally, and the rate of asks from 16 concurrent askers.
func federationBench(ctx context.Context, e *env, cfg config) ([]figure, error) {
	home, err := startInstance(ctx, e, "fed_home", "home", true, func(db *store.DB) (*agents.Client, error) {
		reg := agents.NewRegistry()
		demo.Register(reg)
		return agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	})
	defer home.close()
	if err != nil {
		return nil, err
	}
	work, err := startInstance(ctx, e, "fed_work", "work", false, nil)
	defer work.close()
	if err != nil {
		return nil, err
	}
	// home's API, for the CONNECT; its workspace with 20 queued tasks.
	const adminToken = "bench-admin-token-0123456789abcdef"
	srv, err := api.New(api.Config{DB: home.db, AdminToken: adminToken, Federation: home.node})
	if err != nil {
		return nil, err
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	w, err := home.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "notes"})
	if err != nil {
		return nil, err
	}
	reg := agents.NewRegistry()
	demo.Register(reg)
	client, err := agents.NewClient(agents.ClientConfig{DB: home.db, Registry: reg})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	for i := range 20 {
		if _, err := client.Publish(ctx, agents.TaskSpec{WorkspaceID: w.ID, Kind: "demo.echo", Args: map[string]int{"n": i}}); err != nil {
			return nil, err
		}
	}
	if _, err := work.node.Connect(ctx, ts.URL, home.self.PublicKey); err != nil {
		return nil, err
	}
	if _, err := home.node.Accept(ctx, "work", []federation.GrantRequest{{Workspace: "notes", Capabilities: []string{"tasks.read"}}}, "bench"); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		work.node.CheckRequests(ctx)
		if p, err := work.node.Peer(ctx, "home"); err == nil && p.Connected {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the leafnode did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	req := federation.Request{Op: "tasks.list", Params: json.RawMessage(`{"limit":20}`)}
	ask := func() error {
		var out []federation.RemoteTask
		if err := work.node.Ask(ctx, "home", req, &out); err != nil {
			return err
		}
		if len(out) != 20 {
			return fmt.Errorf("the peer listed %d tasks, not 20", len(out))
		}
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); ; { // interest crosses the fresh leafnode
		if err := ask(); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}

	n := cfg.fedAsks
	remoteP50 := figure{name: "federation tasks.list round trip p50", unit: "ms"}
	remoteP99 := figure{name: "federation tasks.list round trip p99", unit: "ms"}
	localP50 := figure{name: "the same list read locally, p50", unit: "ms"}
	rate := figure{name: "federation asks, 16 concurrent askers", unit: "asks/s"}
	for run := 0; run < cfg.runs; run++ {
		remote, local := &latencies{}, &latencies{}
		for range n {
			t0 := time.Now()
			if err := ask(); err != nil {
				return nil, err
			}
			remote.d = append(remote.d, time.Since(t0))
			t0 = time.Now()
			if _, _, err := home.db.ListTasks(ctx, w.ID, store.TaskFilter{Limit: 20}); err != nil {
				return nil, err
			}
			local.d = append(local.d, time.Since(t0))
		}
		var done, failed atomic.Int64
		var wg sync.WaitGroup
		started := time.Now()
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done.Add(1) <= int64(n) {
					if ask() != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			return nil, fmt.Errorf("%d of %d concurrent asks failed", failed.Load(), n)
		}
		r := float64(n) / time.Since(started).Seconds()
		say("  %-48s run %d: p50 %s, p99 %s (local p50 %s), %s", "federation tasks.list", run+1,
			format(percentile(remote.d, 0.5), "ms"), format(percentile(remote.d, 0.99), "ms"), format(percentile(local.d, 0.5), "ms"), format(r, "asks/s"))
		remoteP50.values = append(remoteP50.values, percentile(remote.d, 0.5))
		remoteP99.values = append(remoteP99.values, percentile(remote.d, 0.99))
		localP50.values = append(localP50.values, percentile(local.d, 0.5))
		rate.values = append(rate.values, r)
	}
	return []figure{remoteP50, remoteP99, localP50, rate}, nil
}
