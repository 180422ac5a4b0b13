package agents

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestProgressMessageIsCutAtACharacter: a progress message over the bound is cut at the start of
// a character, never inside one (PostgreSQL refuses text that is not UTF-8).
func TestProgressMessageIsCutAtACharacter(t *testing.T) {
	for _, tail := range []string{"é", "€", "𝄞"} {
		msg := strings.Repeat("a", maxProgressMessage-1) + tail
		_, got := progressOf(0.5, msg)
		if !utf8.ValidString(got) || len(got) > maxProgressMessage || got != strings.Repeat("a", maxProgressMessage-1) {
			t.Fatalf("tail %q: cut to %d bytes (valid UTF-8: %v); want the %d bytes before the character", tail, len(got),
				utf8.ValidString(got), maxProgressMessage-1)
		}
	}
	if _, got := progressOf(0.5, "short"); got != "short" {
		t.Fatalf("a short message changed: %q", got)
	}
}
