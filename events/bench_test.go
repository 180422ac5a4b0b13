package events_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/events"
)

// Hot paths of every task message: figures are printed, never asserted.

var benchWS = uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")

func benchEnvelope() events.TaskEnvelope {
	env := events.TaskEnvelope{ID: uuid.New(), WorkspaceID: benchWS, Kind: "demo.steps",
		Args: json.RawMessage(`{"steps":20,"step_ms":50}`), Credentials: []string{"github"}, Metadata: map[string]string{"team": "search"}}
	env.Normalize()
	return env
}

func BenchmarkEnvelopeEncode(b *testing.B) {
	env := benchEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeDecode(b *testing.B) {
	env := benchEnvelope()
	data, _ := env.Encode()
	subject := events.TaskSubject(env.Priority, env.WorkspaceID, env.Kind)
	hdr := nats.Header{}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := events.DecodeTask(subject, hdr, data, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTaskSubject(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = events.TaskSubject(5, benchWS, "demo.steps")
	}
}

func BenchmarkParseTaskSubject(b *testing.B) {
	subject := events.TaskSubject(5, benchWS, "demo.steps")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.ParseTaskSubject(subject); err != nil {
			b.Fatal(err)
		}
	}
}
