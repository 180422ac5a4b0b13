package agents_test

import (
	"testing"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
)

func TestParseConsumerNameReadsConsumerConfig(t *testing.T) {
	t.Parallel()
	for _, pool := range []string{"default", "gpu-heavy", "a_b-p3"} {
		for p := events.MinPriority; p <= events.MaxPriority; p++ {
			name := agents.ConsumerConfig(agents.PoolConfig{Name: pool}, p).Durable
			got, prio, ok := agents.ParseConsumerName(events.TasksStream, name)
			if !ok || got != pool || prio != p {
				t.Errorf("ParseConsumerName(TASKS, %q) = %q, %d, %v; want %q, %d", name, got, prio, ok, pool, p)
			}
		}
		for _, stream := range []string{events.CredentialsStream, events.KnowledgeStream} {
			name := agents.ConsumerConfig(agents.PoolConfig{Name: pool, Stream: stream}, 0).Durable
			got, prio, ok := agents.ParseConsumerName(stream, name)
			if !ok || got != pool || prio != 0 {
				t.Errorf("ParseConsumerName(%s, %q) = %q, %d, %v; want %q, 0", stream, name, got, prio, ok, pool)
			}
		}
	}
	for _, c := range []struct{ stream, name string }{
		{events.TasksStream, "default-p11"}, {events.TasksStream, "default-p05"}, {events.TasksStream, "-p5"},
		{events.TasksStream, "relay"}, {events.CredentialsStream, "default-knowledge"}, {events.KnowledgeStream, "-knowledge"},
		{events.EventsStream, "default-events"},
	} {
		if pool, prio, ok := agents.ParseConsumerName(c.stream, c.name); ok {
			t.Errorf("ParseConsumerName(%s, %q) = %q, %d; want not a pool's", c.stream, c.name, pool, prio)
		}
	}
}
