package agents_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// A raw message whose args PostgreSQL cannot hold (a lone UTF-16 surrogate) is dead-lettered,
// not retried forever.
func TestUnstorableArgsAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := uuid.New()
	msg := nats.NewMsg(events.TaskSubject(5, b.ws, "demo.echo"))
	msg.Data = []byte(`{"id":"` + id.String() + `","workspace_id":"` + b.ws.String() + `","kind":"demo.echo","args":{"s":"\ud800"}}`)
	if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a dead letter for the unstorable task", 20*time.Second, func() bool {
		list, _, err := b.db.ListDeadLetters(context.Background(), b.ws, store.DeadLetterFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.Reason == events.ReasonInvalidEnvelope && strings.Contains(d.Error, "PostgreSQL cannot store") {
				return true
			}
		}
		return false
	})
}
