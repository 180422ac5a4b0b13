package eventstest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FindInStreams reads every message still held by every stream on js — bodies and headers — and
// returns where needle occurs ("STREAM#seq subject"). Work-queue streams drop acknowledged
// messages, so a caller that wants to see what travelled must look before the work is done, or
// on streams that keep their messages (EVENTS, and those the test creates).
func FindInStreams(t testing.TB, js jetstream.JetStream, needle []byte) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var found []string
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("eventstest: stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("eventstest: stream %s: %v", name, err)
		}
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted (acknowledged on a work queue)
			}
			hit := bytes.Contains(m.Data, needle)
			for _, vs := range m.Header {
				for _, v := range vs {
					hit = hit || bytes.Contains([]byte(v), needle)
				}
			}
			if hit {
				found = append(found, fmt.Sprintf("%s#%d %s", name, seq, m.Subject))
			}
		}
	}
	if err := names.Err(); err != nil {
		t.Fatalf("eventstest: list streams: %v", err)
	}
	return found
}

// Tap records every message published on the server's account while the test runs — task
// messages, JetStream API calls and their replies, acks, control subjects — to check what went
// over the wire.
type Tap struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

// NewTap subscribes to ">" on nc; the subscription ends at cleanup.
func NewTap(t testing.TB, nc *nats.Conn) *Tap {
	t.Helper()
	tap := &Tap{}
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		tap.mu.Lock()
		tap.msgs = append(tap.msgs, m)
		tap.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("eventstest: tap: %v", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatalf("eventstest: tap: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("eventstest: tap: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return tap
}

// Len is how many messages the tap has seen.
func (tap *Tap) Len() int {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return len(tap.msgs)
}

// Find returns the subjects of the messages whose body or headers contain needle.
func (tap *Tap) Find(needle []byte) []string {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	var found []string
	for _, m := range tap.msgs {
		hit := bytes.Contains(m.Data, needle)
		for _, vs := range m.Header {
			for _, v := range vs {
				hit = hit || bytes.Contains([]byte(v), needle)
			}
		}
		if hit {
			found = append(found, m.Subject)
		}
	}
	return found
}
