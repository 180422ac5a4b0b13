package eventstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
)

// ReadEvent is a domain event as read from EVENTS, with the subject it was on.
type ReadEvent struct {
	Subject string
	events.DomainEvent
}

// ReadEvents reads the domain events on EVENTS under subject (a filter, wildcards allowed), from
// the first, until a second passes without one once done says what was read is enough, or once
// within has passed.
func ReadEvents(t testing.TB, js jetstream.JetStream, subject string, done func([]ReadEvent) bool, within time.Duration) []ReadEvent {
	t.Helper()
	cons, err := js.OrderedConsumer(context.Background(), events.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []ReadEvent
	deadline := time.Now().Add(within)
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if done(got) || time.Now().After(deadline) {
				return got
			}
			continue
		}
		ev := ReadEvent{Subject: msg.Subject()}
		if err := json.Unmarshal(msg.Data(), &ev.DomainEvent); err != nil {
			t.Fatalf("event on %s: %v", msg.Subject(), err)
		}
		got = append(got, ev)
	}
}
