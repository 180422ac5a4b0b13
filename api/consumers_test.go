package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// consumersBundle is a server with a real JetStream (topology applied), a database of the
// test's own (the report walks every workspace), a workspace and a pool not yet started.
type consumersBundle struct {
	db    *store.DB
	js    jetstream.JetStream
	nc    *nats.Conn
	reg   *agents.Registry
	admin *client.Client
	owner *client.Client
	url   string
	ws    uuid.UUID
}

// poolConfig is the pool of the test; its consumers are created from the same data before the
// pool starts, so that published tasks wait in them.
func (b *consumersBundle) poolConfig() agents.PoolConfig {
	return agents.PoolConfig{DB: b.db, JS: b.js, NC: b.nc, Registry: b.reg, Name: "default", Concurrency: 2,
		AckWait: 5 * time.Second, MaxAckPending: 100}
}

// setupConsumers builds the bundle; fresh gives it a database of its own (only one test of the
// package may ask: pgtest cannot provision two at once).
func setupConsumers(t *testing.T, fresh bool) *consumersBundle {
	t.Helper()
	ctx := context.Background()
	b := &consumersBundle{reg: agents.NewRegistry()}
	if fresh {
		b.db, _ = pgtest.FreshDB(t)
	} else {
		b.db = pgtest.DB(t)
	}
	b.nc, b.js = eventstest.Connect(t, eventstest.RunServer(t))
	if _, err := events.ApplyTopology(ctx, b.js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	demo.Register(b.reg)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: b.db, Registry: b.reg, JS: b.js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	srv, err := api.New(api.Config{DB: b.db, AdminToken: adminToken, Tasks: tasks, NC: b.nc, JS: b.js,
		ConsumerSampleInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	b.url = newServer(t, srv)
	b.admin, _ = client.New(b.url, adminToken)
	w, err := b.admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "consumers-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	b.ws = w.ID
	b.owner, _ = client.New(b.url, w.APIKey)
	for p := events.MinPriority; p <= events.MaxPriority; p++ {
		if _, err := b.js.CreateOrUpdateConsumer(ctx, events.TasksStream, agents.ConsumerConfig(b.poolConfig(), p)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *consumersBundle) publish(t *testing.T, priority int, args demo.StepsArgs) {
	t.Helper()
	raw, _ := json.Marshal(args)
	if _, err := b.owner.Publish(context.Background(), b.ws, api.PublishRequest{Kind: "demo.steps", Priority: priority, Args: raw}); err != nil {
		t.Fatal(err)
	}
}

// waitReport polls the report until ok accepts it.
func (b *consumersBundle) waitReport(t *testing.T, what string, ok func(api.ConsumerReport) bool) api.ConsumerReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := b.admin.Consumers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(rep, "", "  ")
			t.Fatalf("%s: not seen in 30s; last report:\n%s", what, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumer finds a consumer in a report (the zero value when it is missing).
func consumer(rep api.ConsumerReport, stream, name string) api.ConsumerState {
	for _, sr := range rep.Streams {
		for _, c := range sr.Consumers {
			if sr.Stream == stream && c.Name == name {
				return c
			}
		}
	}
	return api.ConsumerState{}
}

func TestConsumersReportPendingRunningAndRates(t *testing.T) {
	t.Parallel()
	b := setupConsumers(t, true) // exact counts over every workspace
	ctx := context.Background()

	// Published, left pending: the pool has not started.
	long := demo.StepsArgs{Steps: 30, StepMS: 100}
	for range 3 {
		b.publish(t, 5, long)
	}
	for range 2 {
		b.publish(t, 2, demo.StepsArgs{Steps: 1})
	}
	rep := b.waitReport(t, "3 pending on p5, 2 on p2", func(r api.ConsumerReport) bool {
		return consumer(r, events.TasksStream, "default-p5").Pending == 3 && consumer(r, events.TasksStream, "default-p2").Pending == 2
	})
	var streams, want []string
	for _, sr := range rep.Streams {
		streams = append(streams, sr.Stream)
	}
	for _, sc := range events.Topology(events.TopologyConfig{}) {
		want = append(want, sc.Name)
	}
	if fmt.Sprint(streams) != fmt.Sprint(want) || want[0] != events.TasksStream {
		t.Fatalf("streams %v; want the topology's, %v", streams, want)
	}
	p5 := consumer(rep, events.TasksStream, "default-p5")
	if p5.Pool != "default" || p5.Band != "p5" || p5.Priority != 5 || p5.AckPending != 0 || p5.OldestUnackedSeconds != nil ||
		p5.DeadLetters == nil || *p5.DeadLetters != 0 || p5.Paused {
		t.Fatalf("p5 before the pool starts: %+v", p5)
	}
	if len(p5.FilterSubjects) != 1 || p5.FilterSubjects[0] != "mosaic.tasks.p5.*.>" {
		t.Fatalf("p5 filters %v", p5.FilterSubjects)
	}
	if tasks := rep.Streams[0]; tasks.Total.Pending != 5 || len(tasks.Consumers) != 10 {
		t.Fatalf("TASKS total %+v with %d consumers; want 5 pending over 10 bands", tasks.Total, len(tasks.Consumers))
	}

	// Run: two handler slots, p2 first (higher band, quick), then two long p5 tasks at once.
	pool, err := agents.NewPool(b.poolConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pool.StopAndCancel(stopCtx)
	})
	rep = b.waitReport(t, "2 ack pending and 1 pending on p5, p2 done", func(r api.ConsumerReport) bool {
		c, p2 := consumer(r, events.TasksStream, "default-p5"), consumer(r, events.TasksStream, "default-p2")
		return c.AckPending == 2 && c.Pending == 1 && p2.Pending == 0 && p2.AckPending == 0
	})
	p5 = consumer(rep, events.TasksStream, "default-p5")
	if p5.OldestUnackedSeconds == nil || *p5.OldestUnackedSeconds < 0 || p5.OldestUnackedAt == nil {
		t.Fatalf("p5 while running: no oldest unacked age: %+v", p5)
	}
	if consumer(rep, events.TasksStream, "default-p2").OldestUnackedSeconds != nil {
		t.Fatal("p2 has nothing unacked, yet an oldest unacked age")
	}

	// The busiest workspace is ours, with its running tasks.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ov, err := b.admin.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ov.Busiest) == 1 && ov.Busiest[0].ID == b.ws && ov.Busiest[0].Running+ov.Busiest[0].Queued == 3 && ov.Workspaces == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("overview while running: %+v", ov)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Acks move the ack floor: the rate becomes a positive number.
	rep = b.waitReport(t, "a positive rate on p5", func(r api.ConsumerReport) bool {
		c := consumer(r, events.TasksStream, "default-p5")
		return c.RatePerSecond != nil && *c.RatePerSecond > 0
	})
	if total := rep.Streams[0].Total.RatePerSecond; total == nil || *total <= 0 {
		t.Fatalf("TASKS total rate %v; want the sum of the known rates", total)
	}
	b.waitReport(t, "everything settled", func(r api.ConsumerReport) bool {
		return r.Streams[0].Total.Pending == 0 && r.Streams[0].Total.AckPending == 0
	})

	// A dead letter is attributed to the consumer that took its message.
	b.publish(t, 5, demo.StepsArgs{Steps: 1, FailAt: 1, FailMode: "permanent"})
	rep = b.waitReport(t, "a dead letter on p5", func(r api.ConsumerReport) bool {
		c := consumer(r, events.TasksStream, "default-p5")
		return c.DeadLetters != nil && *c.DeadLetters == 1
	})
	p5 = consumer(rep, events.TasksStream, "default-p5")
	if p5.DeadLettersByReason[store.ReasonPermanent] != 1 || rep.DeadLetters[store.ReasonPermanent] != 1 ||
		*rep.Streams[0].Total.DeadLetters != 1 || len(rep.Streams[0].UnattributedDeadLetters) != 0 {
		t.Fatalf("dead letters: p5 %+v, report %v, TASKS total %+v", p5, rep.DeadLetters, rep.Streams[0].Total)
	}
	ov, err := b.admin.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Totals[store.StatusSucceeded] != 5 || ov.Totals[store.StatusDead] != 1 || ov.DeadLastHour != 1 ||
		len(ov.Busiest) != 1 || ov.Busiest[0].DeadLastHour != 1 || ov.Busiest[0].Name == "" {
		t.Fatalf("overview at the end: %+v", ov)
	}
}

func TestConsumersAndOverviewNeedTheAdminToken(t *testing.T) {
	t.Parallel()
	b := setupConsumers(t, false)
	ctx := context.Background()
	anon, _ := client.New(b.url, "")
	for _, path := range []string{"/v1/consumers", "/v1/overview"} {
		if err := b.owner.Do(ctx, "GET", path, nil, nil); !mosaictype.IsCode(err, api.CodeForbidden) {
			t.Errorf("%s with a workspace owner's key: %v; want forbidden (403)", path, err)
		}
		if err := anon.Do(ctx, "GET", path, nil, nil); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
			t.Errorf("%s without a token: %v; want unauthenticated (401)", path, err)
		}
		if err := b.admin.Do(ctx, "GET", path, nil, nil); err != nil {
			t.Errorf("%s with the admin token: %v", path, err)
		}
	}
}

func TestConsumersRouteNeedsJetStream(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := b.admin.Consumers(context.Background()); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("GET /v1/consumers without Config.JS: %v; want not_found", err)
	}
}
