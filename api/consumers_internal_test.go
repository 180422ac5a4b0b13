package api

import (
	"testing"
	"time"
)

func TestSubjectMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"mosaic.tasks.p5.>", "mosaic.tasks.p5.ws.demo.steps", true},
		{"mosaic.tasks.p5.>", "mosaic.tasks.p5", false},
		{"mosaic.tasks.p5.>", "mosaic.tasks.p50.ws.demo", false},
		{"mosaic.tasks.p5.*.demo.steps", "mosaic.tasks.p5.ws.demo.steps", true},
		{"mosaic.tasks.p5.*.demo.steps", "mosaic.tasks.p5.ws.demo.echo", false},
		{"mosaic.tasks.p5.*.demo.steps", "mosaic.tasks.p5.ws.demo.steps.x", false},
		{"mosaic.credentials.*.rotate", "mosaic.credentials.ws.rotate", true},
		{">", "a", true},
		{"a.b", "a.b", true},
		{"a.b", "a", false},
	} {
		if got := subjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v; want %v", c.filter, c.subject, got, c.want)
		}
	}
}

func TestRateSamplerRing(t *testing.T) {
	t.Parallel()
	rs := &rateSampler{rings: map[consumerKey][]rateSample{}, created: map[consumerKey]time.Time{}}
	key := consumerKey{"TASKS", "default-p5"}
	created := time.Unix(100, 0)
	start := time.Unix(1000, 0)
	rs.record(key, created, rateSample{at: start, floor: 10})
	if rs.rate(key) != nil {
		t.Fatal("a rate from one sample")
	}
	for i := 1; i <= 20; i++ { // 5 s apart, 2 acks per second
		rs.record(key, created, rateSample{at: start.Add(time.Duration(i) * 5 * time.Second), floor: uint64(10 + 10*i)})
	}
	if r := rs.rate(key); r == nil || *r != 2 || len(rs.rings[key]) != rateSamples {
		t.Fatalf("rate %v over %d samples; want 2/s over %d", r, len(rs.rings[key]), rateSamples)
	}
	// The consumer was created again: its sequences start over, and so does its ring.
	rs.record(key, created.Add(time.Hour), rateSample{at: start.Add(time.Hour), floor: 1})
	if rs.rate(key) != nil {
		t.Fatal("a rate across a re-created consumer")
	}
}
