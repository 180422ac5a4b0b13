package events_test

// Fuzzing the task envelope, the one body any NATS client may publish. Plain `go test` replays the
// seeds below and the corpus in testdata/fuzz/FuzzDecodeTask; to search for new inputs:
//
//	go test -run '^$' -fuzz '^FuzzDecodeTask$' -fuzztime 40s ./events/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn).

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/events"
)

// decodeReasons are the reason codes of docs/envelope.md that DecodeTask can give (unknown_kind,
// unknown_workspace and the advisories' come from the worker, which knows its registry).
var decodeReasons = map[string]bool{
	events.ReasonInvalidSubject:    true,
	events.ReasonInvalidEnvelope:   true,
	events.ReasonWorkspaceMismatch: true,
	events.ReasonKindMismatch:      true,
	events.ReasonInvalidPriority:   true,
	events.ReasonArgsTooLarge:      true,
	events.ReasonInvalidArgs:       true,
}

// FuzzDecodeTask checks DecodeTask on any subject, headers and body: it never panics; a decoded
// task is a valid envelope addressed like its subject, holds nothing PostgreSQL cannot store (NUL),
// and its encoding decodes to the same task; a
// rejected one is an *EnvelopeError with a documented reason, and keeps the subject's workspace
// whenever the subject was readable.
func FuzzDecodeTask(f *testing.F) {
	ws := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	other := "01a2226a-57f6-791f-8b63-585890e3a89f"
	full := `{"v":1,"id":"01a2226a-5803-7dea-bfc2-8091b5204e4d","workspace_id":"` + ws + `","kind":"demo.steps",` +
		`"priority":5,"args":{"steps":20,"step_ms":50},"credentials":["github-token"],"max_attempts":25,` +
		`"timeout_ms":60000,"run_at":"2026-11-28T09:00:00Z","idempotency_key":"nightly-2026-11-28","metadata":{"team":"search"}}`
	tasks := "mosaic.tasks.p5." + ws + ".demo.steps"
	for _, s := range []struct {
		subject, generation, msgID, body string
		seq                              uint64
	}{
		{tasks, "", "", full, 1},
		{tasks, "3", ws + ":01a2226a-5803-7dea-bfc2-8091b5204e4d:3", full, 7},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo"}`, 42},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "msg-1", `{"workspace_id":"` + ws + `","kind":"demo.echo","args":null}`, 42},
		{"mosaic.tasks.p1." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","priority":1,"args":[1, 2 ,"<&>"]}`, 2},
		{"mosaic.tasks.p10." + ws + ".a", "0", "", `{"workspace_id":"` + ws + `","kind":"a","priority":10,"idempotency_key":"k"}`, 3},
		{"mosaic.credentials." + ws + ".rotate-secret", "", "", `{"workspace_id":"` + ws + `","kind":"credentials.rotate-secret","priority":2}`, 4},
		{"mosaic.knowledge." + ws + ".index", "", "", `{"workspace_id":"` + ws + `","kind":"knowledge.index"}`, 5},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","run_at":"2026-01-01T00:00:00+05:30","timeout_ms":0}`, 6},
		// Rejections, one per reason.
		{"mosaic.tasks.p0." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo"}`, 1},
		{"mosaic.tasks.p5.not-a-uuid.demo.echo", "", "", `{}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + other + `","kind":"demo.echo"}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.steps"}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","priority":3}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","priority":11}`, 1},
		{"mosaic.credentials." + ws + ".rotate", "", "", `{"workspace_id":"` + ws + `","kind":"credentials.rotate","priority":-4}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","args":{"pad":"` + strings.Repeat("x", events.MaxArgsBytes) + `"}}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","colour":"blue"}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo"} {}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","credentials":["a","a"]}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","max_attempts":1001}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","timeout_ms":-1}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","v":2}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "-1", "", `{"workspace_id":"` + ws + `","kind":"demo.echo"}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "1073741825", "", `{"workspace_id":"` + ws + `","kind":"demo.echo"}`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `not json`, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", ``, 1},
		{"mosaic.tasks.p5." + ws + ".demo.echo", "", "", `{"workspace_id":"` + ws + `","kind":"demo.echo","metadata":{"k":"\u0000"},"idempotency_key":"\ud800"}`, 1},
	} {
		f.Add(s.subject, s.generation, s.msgID, []byte(s.body), s.seq)
	}
	f.Fuzz(func(t *testing.T, subject, generation, msgID string, data []byte, seq uint64) {
		header := nats.Header{}
		if generation != "" {
			header.Set(events.HeaderGeneration, generation)
		}
		if msgID != "" {
			header.Set(nats.MsgIdHdr, msgID)
		}
		parsed, parseErr := events.ParseJobSubject(subject)
		dec, addr, err := events.DecodeTask(subject, header, data, seq)
		if err != nil {
			var ee *events.EnvelopeError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v (%T) is not an *EnvelopeError", err, err)
			}
			if !decodeReasons[ee.Reason] || ee.Msg == "" || !errors.Is(err, events.ErrInvalidEnvelope) {
				t.Fatalf("error %+v: want a documented reason, a message, and ErrInvalidEnvelope", ee)
			}
			if (ee.Reason == events.ReasonInvalidSubject) != (parseErr != nil) {
				t.Fatalf("reason %s, while ParseJobSubject says %v", ee.Reason, parseErr)
			}
			if parseErr == nil && addr != parsed {
				t.Fatalf("rejected with address %+v; the subject says %+v", addr, parsed)
			}
			return
		}
		env := dec.Envelope
		if parseErr != nil || addr != parsed {
			t.Fatalf("decoded with address %+v; ParseJobSubject says %+v, %v", addr, parsed, parseErr)
		}
		if err := env.Validate(); err != nil {
			t.Fatalf("decoded an invalid envelope: %v", err)
		}
		if env.WorkspaceID != addr.Workspace || env.Kind != addr.Kind {
			t.Fatalf("envelope %s/%s on subject %s/%s", env.WorkspaceID, env.Kind, addr.Workspace, addr.Kind)
		}
		if addr.Priority != 0 && env.Priority != addr.Priority {
			t.Fatalf("priority %d on band %s", env.Priority, events.Band(addr.Priority))
		}
		if env.ID == uuid.Nil || dec.Generation < 0 {
			t.Fatalf("task id %s, generation %d", env.ID, dec.Generation)
		}
		if field := nulField(env); field != "" {
			t.Fatalf("decoded a task whose %s holds NUL, which PostgreSQL cannot store", field)
		}

		// What Mosaic re-publishes (retries, replays) reads back as the same task.
		b, err := env.Encode()
		if err != nil {
			t.Fatalf("encode a decoded envelope: %v", err)
		}
		again, _, err := events.DecodeTask(subject, header, b, seq+1)
		if err != nil {
			t.Fatalf("decode the re-encoded envelope %s: %v", b, err)
		}
		if again.Generation != dec.Generation {
			t.Fatalf("generation %d, then %d", dec.Generation, again.Generation)
		}
		if b2, _ := again.Envelope.Encode(); string(b2) != string(b) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b, b2)
		}
		sameEnvelope(t, env, again.Envelope)
	})
}

// nulField names a field of env that holds NUL (PostgreSQL's text and jsonb cannot), or "".
func nulField(env events.TaskEnvelope) string {
	if strings.ContainsRune(env.IdempotencyKey, 0) {
		return "idempotency_key"
	}
	for _, c := range env.Credentials {
		if strings.ContainsRune(c, 0) {
			return "credentials"
		}
	}
	for k, v := range env.Metadata {
		if strings.ContainsRune(k+v, 0) {
			return "metadata"
		}
	}
	var args any
	if json.Unmarshal(env.Args, &args) == nil && holdsNUL(args) {
		return "args"
	}
	return ""
}

func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if holdsNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// sameEnvelope compares two envelopes field by field; args as JSON values (encoding compacts
// them), run_at as instants, and an empty list or map as an absent one.
func sameEnvelope(t *testing.T, a, b events.TaskEnvelope) {
	t.Helper()
	if !sameJSON(a.Args, b.Args) {
		t.Fatalf("args %s, then %s", a.Args, b.Args)
	}
	if (a.RunAt == nil) != (b.RunAt == nil) || a.RunAt != nil && !a.RunAt.Equal(*b.RunAt) {
		t.Fatalf("run_at %v, then %v", a.RunAt, b.RunAt)
	}
	a.Args, b.Args, a.RunAt, b.RunAt = nil, nil, nil, nil
	// omitempty drops an empty list or map: absent and empty mean the same.
	for _, e := range []*events.TaskEnvelope{&a, &b} {
		if len(e.Credentials) == 0 {
			e.Credentials = nil
		}
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("envelope changed in a round trip:\n%+v\n%+v", a, b)
	}
}

func sameJSON(a, b []byte) bool {
	var va, vb any
	da := json.NewDecoder(strings.NewReader(string(a)))
	da.UseNumber()
	db := json.NewDecoder(strings.NewReader(string(b)))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
