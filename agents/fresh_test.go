package agents

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestFreshIsYoungAndNotFromTheFuture: a delivery skips reading its row only for a message
// stored less than freshFor ago by this clock; a timestamp ahead of it (a clock behind the
// server's) is not fresh.
func TestFreshIsYoungAndNotFromTheFuture(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		stored time.Time
		want   bool
	}{
		{now, true},
		{now.Add(-freshFor / 2), true},
		{now.Add(-freshFor), false},
		{now.Add(-time.Hour), false},
		{now.Add(time.Millisecond), false},
	} {
		if got := fresh(c.stored, now); got != c.want {
			t.Errorf("fresh(now%+v) = %v; want %v", c.stored.Sub(now), got, c.want)
		}
	}
}

// TestWorkspaceSetIsBounded: the set of workspaces a pool has seen starts again empty past its
// bound instead of growing.
func TestWorkspaceSetIsBounded(t *testing.T) {
	s := workspaceSet{max: 3}
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	for _, id := range ids[:3] {
		s.add(id)
	}
	for _, id := range ids[:3] {
		if !s.has(id) {
			t.Fatalf("%s forgotten below the bound", id)
		}
	}
	s.add(ids[3])
	if !s.has(ids[3]) || s.has(ids[0]) || len(s.m) != 1 {
		t.Fatalf("past the bound: %d entries", len(s.m))
	}
}
