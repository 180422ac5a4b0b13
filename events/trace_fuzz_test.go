package events_test

// Fuzzing the W3C traceparent check against a regular expression. Plain `go test` replays the
// seeds below and the corpus in testdata/fuzz/FuzzValidTraceParent; to search for new inputs:
//
//	go test -run '^$' -fuzz '^FuzzValidTraceParent$' -fuzztime 40s ./events/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn).

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/events"
)

// traceParentRE is version 00 of https://www.w3.org/TR/trace-context/#traceparent-header, lower-case
// hex only; the all-zero ids are excluded separately.
var traceParentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`)

// FuzzValidTraceParent: ValidTraceParent agrees with the regular expression, and TraceID gives the
// trace id of exactly the valid ones.
func FuzzValidTraceParent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
		" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736g-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
		"00--00f067aa0ba902b7-01",
		"",
		"---",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := traceParentRE.FindStringSubmatch(s)
		want := m != nil && strings.Trim(m[1], "0") != "" && strings.Trim(m[2], "0") != ""
		if got := events.ValidTraceParent(s); got != want {
			t.Fatalf("ValidTraceParent(%q) = %v; want %v", s, got, want)
		}
		id := events.TraceID(s)
		if want && id != m[1] || !want && id != "" {
			t.Fatalf("TraceID(%q) = %q", s, id)
		}
	})
}
