package agents

import (
	"testing"

	"github.com/google/uuid"
)

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
