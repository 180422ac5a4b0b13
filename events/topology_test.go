package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
)

func TestApplyTopologyIsIdempotent(t *testing.T) {
	t.Parallel()
	eventstest.WithJS(t, func(t *testing.T, _ *nats.Conn, js jetstream.JetStream) {
		ctx := context.Background()
		topo := events.Topology(events.TopologyConfig{})
		first, err := events.ApplyTopology(ctx, js, topo)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range first {
			if c.Action != "created" {
				t.Fatalf("first apply: %+v; want created", c)
			}
		}
		infos := map[string]jetstream.StreamConfig{}
		for _, s := range topo {
			st, err := js.Stream(ctx, s.Name)
			if err != nil {
				t.Fatal(err)
			}
			infos[s.Name] = st.CachedInfo().Config
		}
		second, err := events.ApplyTopology(ctx, js, topo)
		if err != nil {
			t.Fatal(err)
		}
		if len(second) != len(topo) {
			t.Fatalf("second apply reported %d streams; want %d", len(second), len(topo))
		}
		for _, c := range second {
			if c.Action != "unchanged" {
				t.Fatalf("second apply: %+v; want unchanged", c)
			}
			st, _ := js.Stream(ctx, c.Stream)
			if got := st.CachedInfo().Config; got.Retention != infos[c.Stream].Retention ||
				got.Duplicates != infos[c.Stream].Duplicates || len(got.Subjects) != len(infos[c.Stream].Subjects) {
				t.Fatalf("%s changed on the second apply", c.Stream)
			}
		}
		tasks := infos[events.TasksStream]
		if tasks.Retention != jetstream.WorkQueuePolicy || tasks.Storage != jetstream.FileStorage || !tasks.AllowMsgSchedules {
			t.Fatalf("TASKS: %+v", tasks)
		}
		if ev := infos[events.EventsStream]; ev.Retention != jetstream.LimitsPolicy || ev.MaxBytes != events.DefaultEventsMaxBytes || ev.MaxAge != 7*24*time.Hour {
			t.Fatalf("EVENTS: retention %v, max bytes %d, max age %v; want limits, 1 GiB, 7 days", ev.Retention, ev.MaxBytes, ev.MaxAge)
		}

		// A mutable difference is applied and reported.
		changed := events.Topology(events.TopologyConfig{DuplicateWindow: 5 * time.Minute})
		third, err := events.ApplyTopology(ctx, js, changed)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range third {
			if c.Action != "updated" || len(c.Fields) != 1 || c.Fields[0] != "duplicate_window" {
				t.Fatalf("changed window: %+v", c)
			}
		}
		// A new size limit is applied (as to a stream made before EVENTS had one).
		smaller := events.Topology(events.TopologyConfig{DuplicateWindow: 5 * time.Minute, EventsMaxBytes: 512 << 20})
		fourth, err := events.ApplyTopology(ctx, js, smaller)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range fourth {
			want := "unchanged"
			if c.Stream == events.EventsStream {
				want = "updated"
			}
			if c.Action != want || want == "updated" && (len(c.Fields) != 1 || c.Fields[0] != "max_bytes") {
				t.Fatalf("EVENTS to 512 MiB: %+v", c)
			}
		}
	})
}

func TestApplyTopologyReportsConflicts(t *testing.T) {
	t.Parallel()
	eventstest.WithJS(t, func(t *testing.T, _ *nats.Conn, js jetstream.JetStream) {
		ctx := context.Background()
		// Someone made TASKS by hand with limits retention.
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: events.TasksStream, Subjects: []string{"mosaic.tasks.>"}, Retention: jetstream.LimitsPolicy,
		}); err != nil {
			t.Fatal(err)
		}
		changes, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{}))
		var conflict *events.TopologyConflictError
		if !errors.As(err, &conflict) || len(conflict.Conflicts) != 1 {
			t.Fatalf("got %v; want one conflict", err)
		}
		st, _ := js.Stream(ctx, events.TasksStream)
		if st.CachedInfo().Config.Retention != jetstream.LimitsPolicy {
			t.Fatal("the conflicting stream was changed")
		}
		// The other streams were still applied.
		if want := len(events.Topology(events.TopologyConfig{})) - 1; len(changes) != want {
			t.Fatalf("changes %+v; want the %d other streams", changes, want)
		}
	})
}

func TestEmbeddedServerPortInUse(t *testing.T) {
	t.Parallel()
	srv := eventstest.RunServer(t)
	_, err := events.StartServer(events.ServerConfig{StoreDir: t.TempDir(), Port: srv.Port(), Auth: events.GenerateServerAuth()})
	if !errors.Is(err, events.ErrPortInUse) {
		t.Fatalf("got %v; want ErrPortInUse", err)
	}
}

func TestConnConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []events.ConnConfig{
		{URL: ""},
		{URL: "http://localhost:4222"},
		{URL: "nats://"},
		{URL: "nats://h:4222", Token: "t", User: "u"},
		{URL: "nats://h:4222", CertFile: "a"},
		{URL: "nats://h:4222", CredsFile: "/does/not/exist.creds"},
		{URL: "nats://h:4222,::bad"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (events.ConnConfig{URL: "nats://127.0.0.1:4222, tls://other:4443"}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// TestTasksStreamRefusesSubjectsNoConsumerTakes: a task message on a band outside p1…p10 (p0,
// p11, P5, zz) or without its workspace and kind tokens is refused at publish — no stream takes
// it — where it used to be stored in TASKS and never delivered, dead-lettered or counted. A
// well-formed subject is stored, and so is one whose tokens are wrong but present (a consumer
// dead-letters it with invalid_subject). The CREDENTIALS and KNOWLEDGE streams likewise want a
// workspace and an op.
func TestTasksStreamRefusesSubjectsNoConsumerTakes(t *testing.T) {
	t.Parallel()
	eventstest.WithJS(t, func(t *testing.T, nc *nats.Conn, js jetstream.JetStream) {
		ctx := context.Background()
		if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
			t.Fatal(err)
		}
		ws := "01a2226a-57f6-791f-8b63-585890e3a89f"
		for _, subject := range []string{
			"mosaic.tasks.p0." + ws + ".demo.echo", "mosaic.tasks.p11." + ws + ".demo.echo",
			"mosaic.tasks.P5." + ws + ".demo.echo", "mosaic.tasks.zz." + ws + ".demo.echo",
			"mosaic.tasks.p5." + ws, "mosaic.tasks.p5", "mosaic.credentials." + ws, "mosaic.knowledge." + ws,
		} {
			if _, err := js.Publish(ctx, subject, []byte(`{}`)); !errors.Is(err, jetstream.ErrNoStreamResponse) {
				t.Errorf("publish on %s: %v; want refused (no stream)", subject, err)
			}
		}
		for _, subject := range []string{"mosaic.tasks.p5." + ws + ".demo.echo", "mosaic.tasks.p10.not-a-uuid.demo.echo"} {
			if _, err := js.Publish(ctx, subject, []byte(`{}`)); err != nil {
				t.Errorf("publish on %s: %v; want stored", subject, err)
			}
		}
		s, err := js.Stream(ctx, events.TasksStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 2 {
			t.Fatalf("TASKS holds %d messages; want the 2 well-formed ones", info.State.Msgs)
		}
	})
}
