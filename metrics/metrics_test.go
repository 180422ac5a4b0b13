package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/crypto/transittest"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/metrics"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The tests of this package are not parallel: the task and dead-letter series sum every
// workspace of the package's database, so each test's deltas are exact only while it runs alone.

// testBundle is a real PostgreSQL database, a real embedded JetStream server with Mosaic's
// topology, a running outbox relay, a client and a workspace of the test's own.
type testBundle struct {
	db       *store.DB
	nc       *nats.Conn
	js       jetstream.JetStream
	registry *agents.Registry
	client   *agents.Client
	ws       uuid.UUID
	log      zerolog.Logger
	mu       sync.Mutex
	own      map[uuid.UUID]bool
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := &testBundle{db: pgtest.DB(t), own: map[uuid.UUID]bool{}, log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	b.nc, b.js = eventstest.Connect(t, eventstest.RunServer(t))
	if _, err := events.ApplyTopology(ctx, b.js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	b.registry = agents.NewRegistry()
	demo.Register(b.registry)
	var err error
	if b.client, err = agents.NewClient(agents.ClientConfig{DB: b.db, Registry: b.registry, JS: b.js}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.client.Close)
	relay := outbox.NewRelay(outbox.RelayConfig{DB: b.db, JS: b.js, SweepInterval: 200 * time.Millisecond,
		Accept: func(ws uuid.UUID) bool { b.mu.Lock(); defer b.mu.Unlock(); return b.own[ws] }})
	go relay.Run(ctx)
	b.ws = b.workspace(t)
	return b
}

func (b *testBundle) workspace(t *testing.T) uuid.UUID {
	t.Helper()
	w, err := b.db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "t-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.own[w.ID] = true
	b.mu.Unlock()
	return w.ID
}

// serve serves reg through the HTTP API, as `mosaic dev` does.
func (b *testBundle) serve(t *testing.T, reg *metrics.Registry) string {
	t.Helper()
	srv, err := api.New(api.Config{DB: b.db, AdminToken: "admin-token-for-tests", Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// scrape is one scrape of a server's /metrics: its text and its parsed families.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func get(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return scrape{text: string(body), families: families}
}

// find returns the series of name whose labels include labels ("k=v" pairs), or nil.
func (s scrape) find(name string, labels ...string) *dto.Metric {
	f := s.families[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is a counter's, gauge's or histogram's (its count) value; 0 for a missing series.
func (s scrape) value(name string, labels ...string) float64 {
	m := s.find(name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func (b *testBundle) publish(t *testing.T, kind string, args any) uuid.UUID {
	t.Helper()
	res, err := b.client.Publish(context.Background(), agents.TaskSpec{WorkspaceID: b.ws, Kind: kind, Args: args})
	if err != nil {
		t.Fatalf("publish %s: %v", kind, err)
	}
	return res.ID
}

func (b *testBundle) waitEnded(t *testing.T, ids ...uuid.UUID) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			task, err := b.db.GetTask(context.Background(), b.ws, id)
			if err == nil && store.Terminal(task.Status) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s: %q after 30s (%v)", id, task.Status, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestSeriesMoveWhenTasksRun(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	reg := metrics.New(metrics.Config{DB: b.db, Kinds: b.registry, JS: b.js, CacheTTL: -1, Logger: &b.log})
	url := b.serve(t, reg)
	before := get(t, url)

	p, err := agents.NewPool(agents.PoolConfig{DB: b.db, JS: b.js, NC: b.nc, Registry: b.registry, Name: "default",
		AckWait: 2 * time.Second, RetryPolicy: agents.ExponentialBackoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Observe: reg.ObserveHandler, Logger: &b.log})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(stopCtx)
	})
	var ids []uuid.UUID
	for i := range 3 {
		ids = append(ids, b.publish(t, "demo.echo", map[string]int{"n": i}))
	}
	ids = append(ids,
		b.publish(t, "demo.steps", demo.StepsArgs{Steps: 1, FailAt: 1, FailMode: "permanent"}),
		b.publish(t, "demo.steps", demo.StepsArgs{Steps: 2, FailAt: 1, FailMode: "retry", FailAttempts: 1}))
	b.waitEnded(t, ids...)
	after := get(t, url)

	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mosaic_handler_runs_total", []string{"pool=default", "kind=demo.echo", "outcome=succeeded"}, 3},
		{"mosaic_handler_duration_seconds", []string{"pool=default", "kind=demo.echo", "outcome=succeeded"}, 3},
		{"mosaic_handler_runs_total", []string{"pool=default", "kind=demo.steps", "outcome=failed"}, 2},
		{"mosaic_handler_runs_total", []string{"pool=default", "kind=demo.steps", "outcome=succeeded"}, 1},
		{"mosaic_tasks", []string{"kind=demo.echo", "status=succeeded"}, 3},
		{"mosaic_tasks", []string{"kind=demo.steps", "status=succeeded"}, 1},
		{"mosaic_tasks", []string{"kind=demo.steps", "status=dead"}, 1},
		{"mosaic_dead_letters", []string{"reason=" + store.ReasonPermanent}, 1},
	} {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v grew by %v; want %v", c.name, c.labels, got, c.want)
		}
	}
	// Every kind shown has every status, zero when none.
	if after.find("mosaic_tasks", "kind=demo.echo", "status=cancelled") == nil {
		t.Error("mosaic_tasks{kind=demo.echo,status=cancelled} is missing; want 0")
	}
	if after.value("mosaic_workspaces") < 1 {
		t.Error("mosaic_workspaces < 1")
	}

	// The pool's consumers, one per band, with their four gauges; the streams' sizes.
	for prio := 1; prio <= 10; prio++ {
		consumer := agents.ConsumerName("default", prio)
		for _, name := range []string{"mosaic_consumer_pending_messages", "mosaic_consumer_ack_pending_messages",
			"mosaic_consumer_redelivered_messages", "mosaic_consumer_waiting_pulls"} {
			if after.find(name, "stream="+events.TasksStream, "consumer="+consumer) == nil {
				t.Errorf("%s{stream=TASKS,consumer=%s} is missing", name, consumer)
			}
		}
	}
	for _, stream := range []string{events.TasksStream, events.CredentialsStream, events.KnowledgeStream, events.EventsStream} {
		if after.find("mosaic_stream_messages", "stream="+stream) == nil {
			t.Errorf("mosaic_stream_messages{stream=%s} is missing", stream)
		}
	}
	if after.value("mosaic_stream_messages", "stream="+events.EventsStream) == 0 {
		t.Error("mosaic_stream_messages{stream=EVENTS} is 0 after tasks ran (their domain events)")
	}
	for _, source := range []string{metrics.SourcePostgres, metrics.SourceJetStream} {
		if m := after.find("mosaic_scrape_errors_total", "source="+source); m == nil || m.Counter.GetValue() != 0 {
			t.Errorf("mosaic_scrape_errors_total{source=%s}: %v; want 0", source, m)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if after.find(name) == nil {
			t.Errorf("%s is missing (the standard collectors)", name)
		}
	}

	// Transit: a real client on the test double, with the hook plugged in.
	bao := transittest.New()
	t.Cleanup(bao.Close)
	tc, err := transit.New(ctx, transit.Config{Addr: bao.URL(), Token: bao.RootToken, Observe: reg.ObserveTransit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	if _, err := tc.CreateKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Encrypt(ctx, "k", []byte("x"), []byte("ctx")); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Decrypt(ctx, "k", "vault:v1:AAAA", []byte("ctx")); err == nil {
		t.Fatal("decrypting garbage succeeded")
	}
	s := get(t, url)
	if got := s.value("mosaic_transit_request_duration_seconds", "op=encrypt"); got != 1 {
		t.Errorf("mosaic_transit_request_duration_seconds{op=encrypt} count %v; want 1", got)
	}
	if got := s.value("mosaic_transit_errors_total", "op=decrypt", "kind="+transit.ErrorClient); got != 1 {
		t.Errorf("mosaic_transit_errors_total{op=decrypt,kind=client} = %v; want 1", got)
	}
	if s.find("mosaic_transit_errors_total", "op=encrypt") != nil {
		t.Error("a successful encrypt counted as an error")
	}

	// Agents: nothing until a counter is set; a failing counter leaves the series out and counts.
	if s.find("mosaic_agents") != nil {
		t.Error("mosaic_agents exposed with no agent counter set")
	}
	reg.SetAgentCounter(func(context.Context) (map[string]int, error) { return map[string]int{"running": 2, "lost": 1}, nil })
	s = get(t, url)
	if s.value("mosaic_agents", "state=running") != 2 || s.value("mosaic_agents", "state=lost") != 1 {
		t.Errorf("mosaic_agents: %v", s.families["mosaic_agents"])
	}
	reg.SetAgentCounter(func(context.Context) (map[string]int, error) { return nil, errors.New("registry down") })
	s = get(t, url)
	if s.find("mosaic_agents") != nil || s.value("mosaic_scrape_errors_total", "source="+metrics.SourceAgents) != 1 {
		t.Errorf("a failing agent counter: mosaic_agents %v, errors %v", s.families["mosaic_agents"], s.families["mosaic_scrape_errors_total"])
	}
}

func TestNoTaskOrWorkspaceIDInScrape(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	reg := metrics.New(metrics.Config{DB: b.db, Kinds: b.registry, JS: b.js, CacheTTL: -1})
	url := b.serve(t, reg)

	// A task run through a pool, and a task and dead letters planted with ids where labels come
	// from: a kind no worker knows that carries the task's id (a raw message could make one),
	// reasons that are the task's id and the workspace's.
	p, err := agents.NewPool(agents.PoolConfig{DB: b.db, JS: b.js, NC: b.nc, Registry: b.registry, Name: "default",
		Observe: reg.ObserveHandler, Logger: &b.log})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	ran := b.publish(t, "demo.echo", map[string]string{"ws": b.ws.String()})
	b.waitEnded(t, ran)
	planted := uuid.New()
	err = b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		if _, err := store.InsertTask(ctx, tx, store.NewTask{WorkspaceID: b.ws, ID: planted, Kind: "x" + planted.String(),
			Priority: 5, Status: store.StatusQueued, MaxAttempts: 1}); err != nil {
			return err
		}
		for _, reason := range []string{planted.String(), b.ws.String(), "x" + strings.ReplaceAll(planted.String(), "-", "")} {
			if err := store.InsertDeadLetter(ctx, tx, &store.DeadLetter{WorkspaceID: b.ws, TaskID: &planted, Kind: "demo.echo",
				Reason: reason, Error: "planted", Subject: "mosaic.tasks.p5." + b.ws.String() + ".demo.echo"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := get(t, url)
	ids, err := b.db.WorkspaceIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids, ran, planted) {
		for _, form := range []string{id.String(), strings.ReplaceAll(id.String(), "-", "")} {
			if strings.Contains(s.text, form) {
				t.Errorf("the scrape shows %s:\n%s", form, grep(s.text, form))
			}
		}
	}
	if s.value("mosaic_tasks", "kind="+metrics.Other, "status=queued") < 1 {
		t.Error("the planted task's kind is not counted as other")
	}
	if s.value("mosaic_dead_letters", "reason="+metrics.Other) < 3 {
		t.Error("the planted dead letters' reasons are not counted as other")
	}
}

func grep(text, needle string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, needle) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestCountsCachedAndKindsCapped(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	cached := b.serve(t, metrics.New(metrics.Config{DB: b.db})) // default: 10 s
	fresh := b.serve(t, metrics.New(metrics.Config{DB: b.db, CacheTTL: -1}))
	first := get(t, cached)

	// More kinds than MaxKinds, none known to a registry (Config.Kinds is nil here).
	err := b.db.InWorkspace(ctx, b.ws, func(tx pgx.Tx) error {
		for i := range metrics.MaxKinds + 5 {
			if _, err := store.InsertTask(ctx, tx, store.NewTask{WorkspaceID: b.ws, ID: uuid.New(), Kind: fmt.Sprintf("cap.k%03d", i),
				Priority: 5, Status: store.StatusQueued, MaxAttempts: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if again := get(t, cached); sumOf(again, "mosaic_tasks") != sumOf(first, "mosaic_tasks") {
		t.Errorf("a scrape within the cache's 10 s counted again: %v then %v tasks", sumOf(first, "mosaic_tasks"), sumOf(again, "mosaic_tasks"))
	}
	s := get(t, fresh)
	if got := sumOf(s, "mosaic_tasks") - sumOf(first, "mosaic_tasks"); got != float64(metrics.MaxKinds+5) {
		t.Errorf("an uncached scrape shows %v more tasks; want %d", got, metrics.MaxKinds+5)
	}
	kinds := map[string]bool{}
	for _, m := range s.families["mosaic_tasks"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "kind" {
				kinds[l.GetValue()] = true
			}
		}
	}
	if len(kinds) > metrics.MaxKinds+1 || !kinds[metrics.Other] {
		t.Errorf("%d kind label values (other among them: %v); want at most %d and other", len(kinds), kinds[metrics.Other], metrics.MaxKinds+1)
	}
}

func sumOf(s scrape, name string) float64 {
	var sum float64
	if f := s.families[name]; f != nil {
		for _, m := range f.Metric {
			sum += m.Gauge.GetValue()
		}
	}
	return sum
}

func TestJetStreamDownDoesNotFailTheScrape(t *testing.T) {
	b := setup(t)
	srv := eventstest.RunServer(t)
	_, js := eventstest.Connect(t, srv)
	if _, err := events.ApplyTopology(context.Background(), js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	url := b.serve(t, metrics.New(metrics.Config{DB: b.db, JS: js, CacheTTL: -1, JetStreamTimeout: 300 * time.Millisecond}))
	if s := get(t, url); s.find("mosaic_stream_messages", "stream="+events.TasksStream) == nil {
		t.Fatal("no stream gauges while NATS is up")
	}
	srv.Shutdown()
	start := time.Now()
	s := get(t, url)
	if s.value("mosaic_scrape_errors_total", "source="+metrics.SourceJetStream) != 1 {
		t.Errorf("mosaic_scrape_errors_total{source=jetstream}: %v; want 1", s.families["mosaic_scrape_errors_total"])
	}
	if s.find("mosaic_stream_messages") != nil {
		t.Error("stream gauges served while NATS is down")
	}
	if s.find("mosaic_tasks") == nil || s.find("go_goroutines") == nil {
		t.Error("NATS down took the other series with it")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the scrape took %s with NATS down", took)
	}
}

func TestNoRouteWithoutRegistry(t *testing.T) {
	b := setup(t)
	srv, err := api.New(api.Config{DB: b.db, AdminToken: "admin-token-for-tests"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics without Config.Metrics: %d; want 404", rec.Code)
	}
}
