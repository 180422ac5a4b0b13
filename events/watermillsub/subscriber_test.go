package watermillsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/events/watermillsub"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	t.Parallel()
	_, err := watermillsub.NewSubscriber(watermillsub.Config{Name: "billing.v2", Types: []string{"Task.*"}, AckWait: time.Millisecond})
	if err == nil {
		t.Fatal("NewSubscriber accepted a bad config")
	}
	for _, want := range []string{"Config.Conn", "Config.Name", "Config.Types", "Config.AckWait"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// publishEvent publishes a task event as the outbox relay does (Nats-Msg-Id = event id).
func publishEvent(t *testing.T, js jetstream.JetStream, ws uuid.UUID, typ string) events.DomainEvent {
	t.Helper()
	ev := events.DomainEvent{ID: uuid.New(), Type: typ, WorkspaceID: ws, TaskID: uuid.New(), Kind: "demo.echo", Attempt: 1, At: time.Now().UTC()}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.EventSubject(ws, typ), Data: body, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, ev.ID.String())
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestSubscriberReadsItsFilterAndRedeliversANack: a router reads one workspace's task.dead and
// task.succeeded events (not another workspace's, not task.failed), each message's UUID is its
// event id, a handler error brings the event back, and EVENTS is left exactly as it was.
func TestSubscriberReadsItsFilterAndRedeliversANack(t *testing.T) {
	t.Parallel()
	srv := eventstest.RunServer(t)
	_, js := eventstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	before := stream.CachedInfo().Config

	ws, other := uuid.New(), uuid.New()
	want := map[string]events.DomainEvent{}
	for _, typ := range []string{"task.succeeded", "task.failed", "task.dead", "task.succeeded"} {
		ev := publishEvent(t, js, ws, typ)
		if typ != "task.failed" {
			want[ev.ID.String()] = ev
		}
		publishEvent(t, js, other, typ)
	}
	var failOnce string
	for id := range want {
		failOnce = id
		break
	}

	nc, _, err := events.Connect(ctx, srv.SystemConn(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := watermillsub.NewSubscriber(watermillsub.Config{Conn: nc, Name: "audit", Workspace: ws,
		Types: []string{"task.dead", "task.succeeded"}, NakDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan struct{})
	router.AddConsumerHandler("audit", watermillsub.Topic, sub, func(msg *message.Message) error {
		ev, err := watermillsub.Decode(msg)
		if err != nil {
			t.Errorf("Decode: %v", err)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen[msg.UUID]++
		if ev.ID.String() != msg.UUID || ev.Task == nil || *ev.Task != want[msg.UUID] {
			t.Errorf("message %s decoded as %+v; want %+v", msg.UUID, ev.Task, want[msg.UUID])
		}
		if msg.UUID == failOnce && seen[msg.UUID] == 1 {
			return errAgain
		}
		if msg.UUID == failOnce && msg.Metadata.Get(watermillsub.MetadataDelivered) != "2" {
			t.Errorf("the nacked event came back with %s=%q", watermillsub.MetadataDelivered, msg.Metadata.Get(watermillsub.MetadataDelivered))
		}
		if len(seen) == len(want) && seen[failOnce] == 2 {
			close(done)
		}
		return nil
	})
	runErr := make(chan error, 1)
	go func() { runErr <- router.Run(ctx) }()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		t.Fatalf("handled %v; want each of %d events once and %s twice", seen, len(want), failOnce)
	}
	if err := router.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if n := seen[id]; n != 1 && id != failOnce {
			t.Errorf("event %s handled %d times", id, n)
		}
	}

	c, err := js.Consumer(ctx, events.EventsStream, "audit")
	if err != nil {
		t.Fatalf("the durable consumer is gone after the router closed: %v", err)
	}
	if got := c.CachedInfo().Config.FilterSubjects; len(got) != 2 || got[0] != events.EventSubject(ws, "task.dead") {
		t.Errorf("consumer filter %q", got)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Config, before) {
		t.Errorf("EVENTS changed: %+v, was %+v", info.Config, before)
	}

	// Any other topic is refused.
	nc2, _, err := events.Connect(ctx, srv.SystemConn(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := watermillsub.NewSubscriber(watermillsub.Config{Conn: nc2, Name: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	if _, err := sub2.Subscribe(ctx, "mosaic.events.>"); err == nil || !strings.Contains(err.Error(), `subscribe to "EVENTS"`) {
		t.Errorf("Subscribe to another topic: %v", err)
	}
}

var errAgain = errors.New("not yet")
