package events_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/events"
)

func TestDecodeEventReadsEveryFamily(t *testing.T) {
	t.Parallel()
	ws, task, at := uuid.New(), uuid.New(), time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dead := events.DomainEvent{ID: uuid.New(), Type: "task.dead", WorkspaceID: ws, TaskID: task, Kind: "demo.steps", Attempt: 3, Error: "boom", At: at}
	msg := events.DeadMessageEvent{ID: uuid.New(), Type: "message.dead", WorkspaceID: ws, Reason: "max_deliveries", Stream: "TASKS",
		Consumer: "default-p5", StreamSeq: 42, Subject: "mosaic.tasks.p5." + ws.String() + ".demo.echo", At: at}
	cred := events.CredentialEvent{ID: uuid.New(), Type: "credential.expiring", WorkspaceID: ws, CredentialID: uuid.New(), Name: "stripe", ExpiresAt: at.Add(time.Hour), At: at}

	ev, err := events.DecodeEvent(marshal(dead))
	if err != nil || ev.Task == nil || *ev.Task != dead || ev.ID != dead.ID || ev.Type != "task.dead" || ev.WorkspaceID != ws || !ev.At.Equal(at) {
		t.Fatalf("task event: %+v, %v", ev, err)
	}
	ev, err = events.DecodeEvent(marshal(msg))
	if err != nil || ev.DeadMessage == nil || ev.DeadMessage.TaskID != nil || ev.DeadMessage.StreamSeq != 42 || ev.Task != nil {
		t.Fatalf("message.dead: %+v, %v", ev, err)
	}
	if !json.Valid(ev.Body) || string(ev.Body) != string(marshal(msg)) {
		t.Fatalf("Body %s is not the event as published", ev.Body)
	}
	ev, err = events.DecodeEvent(marshal(cred))
	if err != nil || ev.Credential == nil || *ev.Credential != cred {
		t.Fatalf("credential event: %+v, %v", ev, err)
	}
	// A type this version does not know: the common fields, no body struct, no error.
	ev, err = events.DecodeEvent([]byte(`{"id":"` + uuid.NewString() + `","type":"workspace.renamed","workspace_id":"` + ws.String() + `","name":"x"}`))
	if err != nil || ev.Type != "workspace.renamed" || ev.Task != nil || ev.DeadMessage != nil || ev.Credential != nil {
		t.Fatalf("unknown type: %+v, %v", ev, err)
	}
	for _, bad := range []string{`not json`, `{}`, `{"id":"` + uuid.NewString() + `","type":"task.dead"}`,
		`{"id":"` + uuid.NewString() + `","type":"task.dead","workspace_id":"` + ws.String() + `","attempt":"three"}`} {
		if _, err := events.DecodeEvent([]byte(bad)); !errors.Is(err, events.ErrInvalidEvent) {
			t.Errorf("DecodeEvent(%s): %v; want ErrInvalidEvent", bad, err)
		}
	}
}

func TestEventFilter(t *testing.T) {
	t.Parallel()
	ws := uuid.MustParse("01a2226a-57f6-791f-8b63-585890e3a89f")
	subject := events.EventSubject(ws, "task.dead")
	cases := []struct {
		ws       uuid.UUID
		patterns []string
		match    bool
	}{
		{uuid.Nil, nil, true},
		{ws, nil, true},
		{uuid.New(), nil, false},
		{ws, []string{"task.*"}, true},
		{uuid.Nil, []string{"credential.>", "task.dead"}, true},
		{ws, []string{"task.succeeded", "message.dead"}, false},
	}
	for _, c := range cases {
		matched := false
		for _, f := range events.EventFilter(c.ws, c.patterns) {
			matched = matched || events.SubjectMatches(f, subject)
		}
		if matched != c.match {
			t.Errorf("EventFilter(%s, %q) matches %s: %v, want %v", c.ws, c.patterns, subject, matched, c.match)
		}
	}
	for _, ok := range []string{"task.dead", "task.*", "credential.>", "*.dead", ">"} {
		if err := events.ValidateEventPattern(ok); err != nil {
			t.Errorf("ValidateEventPattern(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "task.", "Task.dead", ">.dead", "task.>.x", "task dead", "task.**"} {
		if err := events.ValidateEventPattern(bad); !errors.Is(err, events.ErrInvalidKind) {
			t.Errorf("ValidateEventPattern(%q): %v; want ErrInvalidKind", bad, err)
		}
	}
}

// TestIDsKeepTheirText pins the text a success's event id and a task message's Nats-Msg-Id are
// made from: a worker of another version must make the same ones, or JetStream would keep two
// copies of an end's event sent by both, and a republished task would not be taken for a duplicate.
func TestIDsKeepTheirText(t *testing.T) {
	t.Parallel()
	ws := uuid.MustParse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
	task := uuid.MustParse("f0e1d2c3-b4a5-4968-8776-655443322110")
	// uuid.NewSHA1(succeededSpace, "<ws>/<task>/<fence>"), computed when it was built with fmt.
	if got, want := events.SucceededEvent(ws, task, "demo.echo", 3, 4294967299).ID.String(), "e8aa5608-a69d-5f4e-ae44-93ffce8d4302"; got != want {
		t.Errorf("SucceededEvent id = %s, want %s", got, want)
	}
	if got, want := events.MsgID(ws, task, 7), "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:f0e1d2c3-b4a5-4968-8776-655443322110:7"; got != want {
		t.Errorf("MsgID = %s, want %s", got, want)
	}
}
