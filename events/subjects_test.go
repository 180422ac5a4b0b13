package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/events"
)

func TestTaskSubjectRoundTrip(t *testing.T) {
	ws := uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	subj := events.TaskSubject(3, ws, "demo.steps")
	if subj != "mosaic.tasks.p3.0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.demo.steps" {
		t.Fatalf("subject %q", subj)
	}
	addr, err := events.ParseTaskSubject(subj)
	if err != nil || addr.Priority != 3 || addr.Workspace != ws || addr.Kind != "demo.steps" {
		t.Fatalf("parse: %+v %v", addr, err)
	}
}

func TestParseTaskSubjectRejects(t *testing.T) {
	ws := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for _, s := range []string{
		"mosaic.tasks",
		"mosaic.tasks.p5",
		"mosaic.tasks.p5." + ws,
		"mosaic.tasks.p0." + ws + ".demo",
		"mosaic.tasks.p11." + ws + ".demo",
		"mosaic.tasks.p05." + ws + ".demo",
		"mosaic.tasks.high." + ws + ".demo",
		"mosaic.tasks.p5.not-a-uuid.demo",
		"mosaic.tasks.p5.0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B.demo",
		"mosaic.tasks.p5.00000000-0000-0000-0000-000000000000.demo",
		"mosaic.tasks.p5." + ws + ".Demo",
		"mosaic.tasks.p5." + ws + ".demo..echo",
		"mosaic.tasks.p5." + ws + ".1demo",
		"mosaic.events.p5." + ws + ".demo",
	} {
		if _, err := events.ParseTaskSubject(s); !errors.Is(err, events.ErrInvalidSubject) {
			t.Errorf("%q: %v; want ErrInvalidSubject", s, err)
		}
	}
	// A bad band or kind still tells the workspace, so the message can be dead-lettered there.
	addr, err := events.ParseTaskSubject("mosaic.tasks.p99." + ws + ".demo")
	if err == nil || addr.Workspace.String() != ws {
		t.Fatalf("bad band: %+v %v; want the workspace with the error", addr, err)
	}
}

func TestValidateKind(t *testing.T) {
	for _, k := range []string{"demo.echo", "a", "knowledge.index-entry", "x_1.y-2"} {
		if err := events.ValidateKind(k); err != nil {
			t.Errorf("%q: %v", k, err)
		}
	}
	for _, k := range []string{"", ".", "a.", ".a", "A", "a b", "a*", "a>", "é", string(make([]byte, 129))} {
		if err := events.ValidateKind(k); err == nil {
			t.Errorf("%q accepted", k)
		}
	}
}

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
		if got := events.SubjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("SubjectMatches(%q, %q) = %v; want %v", c.filter, c.subject, got, c.want)
		}
	}
}

// TestEnvelopeRefusesNumbersBeyondFloat64AndFarRunAt: args with a number no 64-bit float holds
// are invalid_args on every path (the envelope is checked by HTTP, the CLI, Go and the worker
// reading a raw NATS message alike), never passed on changed; a run_at more than MaxDelay ahead is
// refused. Numbers a float64 holds, however written, pass.
func TestEnvelopeRefusesNumbersBeyondFloat64AndFarRunAt(t *testing.T) {
	ws := uuid.New()
	check := func(args string, runAt *time.Time) error {
		env := events.TaskEnvelope{Version: events.EnvelopeVersion, WorkspaceID: ws, Kind: "demo.echo", Args: json.RawMessage(args), RunAt: runAt}
		env.Normalize()
		return env.Validate()
	}
	for _, args := range []string{`{"n":1e400}`, `{"a":[1,2,{"b":-2E309}]}`, `[` + strings.Repeat("9", 400) + `]`} {
		var ee *events.EnvelopeError
		if err := check(args, nil); !errors.As(err, &ee) || ee.Reason != events.ReasonInvalidArgs {
			t.Errorf("args %.60s: %v; want invalid_args", args, err)
		}
	}
	for _, args := range []string{`{"n":1e308}`, `{"n":-1.7976931348623157e308,"s":"1e999"}`, `{"n":5e-400}`, `{"n":12345678901234567890}`} {
		if err := check(args, nil); err != nil {
			t.Errorf("args %s: %v; want valid", args, err)
		}
	}
	far, near := time.Now().Add(events.MaxDelay+time.Hour), time.Now().Add(events.MaxDelay-time.Hour)
	if err := check(`{}`, &far); !errors.Is(err, events.ErrInvalidEnvelope) {
		t.Errorf("run_at beyond MaxDelay: %v; want refused", err)
	}
	if err := check(`{}`, &near); err != nil {
		t.Errorf("run_at within MaxDelay: %v", err)
	}
}
