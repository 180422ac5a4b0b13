package events_test

// Fuzzing the subject parsers. Plain `go test` replays the seeds below and the corpus in
// testdata/fuzz/<FuzzName>; to search for new inputs, one target at a time:
//
//	go test -run '^$' -fuzz '^FuzzParseTaskSubject$' -fuzztime 40s ./events/
//	go test -run '^$' -fuzz '^FuzzParseJobSubject$' -fuzztime 40s ./events/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn).

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/events"
)

// subjectSeeds are subjects of every shape, good and bad.
func subjectSeeds() []string {
	ws := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	return []string{
		"mosaic.tasks.p5." + ws + ".demo.steps",
		"mosaic.tasks.p1." + ws + ".a",
		"mosaic.tasks.p10." + ws + ".x_1.y-2.z",
		"mosaic.tasks.p5." + ws + ".credentials.rotate-secret",
		"mosaic.tasks.p5." + ws + ".knowledge.index",
		"mosaic.credentials." + ws + ".rotate-secret",
		"mosaic.credentials." + ws + ".rewrap.all",
		"mosaic.knowledge." + ws + ".index-entry",
		"mosaic.credentials." + ws,
		"mosaic.knowledge." + ws + ".",
		"mosaic.tasks",
		"mosaic.tasks.p5." + ws,
		"mosaic.tasks.p05." + ws + ".demo",
		"mosaic.tasks.p+5." + ws + ".demo",
		"mosaic.tasks.p11." + ws + ".demo",
		"mosaic.tasks.p5." + strings.ToUpper(ws) + ".demo",
		"mosaic.tasks.p5.{" + ws + "}.demo",
		"mosaic.tasks.p5.urn:uuid:" + ws + ".demo",
		"mosaic.tasks.p5.00000000-0000-0000-0000-000000000000.demo",
		"mosaic.tasks.p5." + ws + ".demo..echo",
		"mosaic.tasks.p5." + ws + ".demo.*",
		"mosaic.tasks.p5." + ws + ".>",
		"mosaic.events." + ws + ".task.succeeded",
		"mosaic.schedules.tasks." + ws + "." + ws,
		"",
	}
}

// FuzzParseTaskSubject: a subject ParseTaskSubject accepts is exactly TaskSubject of what it read;
// every error is ErrInvalidSubject, and a workspace given with an error is the subject's own.
func FuzzParseTaskSubject(f *testing.F) {
	for _, s := range subjectSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		addr, err := events.ParseTaskSubject(subject)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidSubject) {
				t.Fatalf("ParseTaskSubject(%q): %v; want ErrInvalidSubject", subject, err)
			}
			checkPartial(t, subject, addr, 3)
			return
		}
		checkAddress(t, subject, addr, true)
		if got := events.TaskSubject(addr.Priority, addr.Workspace, addr.Kind); got != subject {
			t.Fatalf("ParseTaskSubject(%q) = %+v; TaskSubject of it is %q", subject, addr, got)
		}
	})
}

// FuzzParseJobSubject: a subject ParseJobSubject accepts is exactly SubjectFor of what it read (so
// each kind is read from its own stream's subjects only); every error is ErrInvalidSubject.
func FuzzParseJobSubject(f *testing.F) {
	for _, s := range subjectSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		addr, err := events.ParseJobSubject(subject)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidSubject) {
				t.Fatalf("ParseJobSubject(%q): %v; want ErrInvalidSubject", subject, err)
			}
			wsToken := 3
			if !strings.HasPrefix(subject, "mosaic.tasks.") {
				wsToken = 2
			}
			checkPartial(t, subject, addr, wsToken)
			return
		}
		checkAddress(t, subject, addr, strings.HasPrefix(subject, "mosaic.tasks."))
		if got := events.SubjectFor(addr.Priority, addr.Workspace, addr.Kind); got != subject {
			t.Fatalf("ParseJobSubject(%q) = %+v; SubjectFor of it is %q", subject, addr, got)
		}
		if stream := events.StreamFor(addr.Kind); (stream == events.TasksStream) != (addr.Priority != 0) {
			t.Fatalf("ParseJobSubject(%q) = %+v: a %s kind with priority %d", subject, addr, stream, addr.Priority)
		}
	})
}

func checkAddress(t *testing.T, subject string, addr events.TaskAddress, banded bool) {
	t.Helper()
	if addr.Workspace == uuid.Nil || events.ValidateKind(addr.Kind) != nil {
		t.Fatalf("%q read as %+v", subject, addr)
	}
	if banded && events.ValidatePriority(addr.Priority) != nil || !banded && addr.Priority != 0 {
		t.Fatalf("%q read with priority %d", subject, addr.Priority)
	}
}

// checkPartial: with an error, the address is empty but for the workspace, which must be the
// canonical UUID of the subject's token at index wsToken.
func checkPartial(t *testing.T, subject string, addr events.TaskAddress, wsToken int) {
	t.Helper()
	if addr.Priority != 0 && addr.Kind != "" {
		t.Fatalf("%q rejected, yet read as %+v", subject, addr)
	}
	if addr.Workspace == uuid.Nil {
		return
	}
	tokens := strings.Split(subject, ".")
	if len(tokens) <= wsToken || tokens[wsToken] != addr.Workspace.String() {
		t.Fatalf("%q rejected with workspace %s, which is not its token %d", subject, addr.Workspace, wsToken)
	}
}
