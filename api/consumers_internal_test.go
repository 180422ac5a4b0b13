package api

import (
	"testing"
	"time"
)

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
