package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TopologyConfig parameterises the streams. The zero value gives the embedded defaults.
type TopologyConfig struct {
	// Replicas of every stream. Default 1 (one server); 3 in a cluster.
	Replicas int
	// DuplicateWindow for Nats-Msg-Id dedupe (task id, outbox message id). Default
	// DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// EventsMaxAge bounds how long domain events are kept. Default 7 days.
	EventsMaxAge time.Duration
	// EventsMaxBytes bounds the domain events kept, whatever their age: the oldest go first.
	// JetStream reserves that much of its storage for the stream. Default 1 GiB: the events of
	// about 2.7 million tasks (~390 bytes of EVENTS a task, measured), so the 7 days of
	// EventsMaxAge up to 4.5 tasks/s on average; `--events-max-gib` raises it, and
	// docs/operations.md has the arithmetic.
	EventsMaxBytes int64
}

// DefaultEventsMaxBytes is EventsMaxBytes when none is given: small enough for JetStream to
// reserve on any machine that runs `mosaic dev`.
const DefaultEventsMaxBytes = 1 << 30

// MaxMessageSize is the largest message the work streams accept: 1 MiB, NATS's default
// max_payload. Task args are limited to 256 KiB (agents.MaxArgsBytes) to leave room.
const MaxMessageSize = 1 << 20

// Topology is the streams Mosaic needs, as data: TASKS, CREDENTIALS and KNOWLEDGE keep work until
// a consumer acks it (work-queue retention) and accept delayed messages (Nats-Schedule); EVENTS
// keeps domain events for EventsMaxAge and up to EventsMaxBytes (limits retention); ADVISORIES keeps the JetStream
// advisories of failed messages until they are recorded. All are file-backed.
// DefaultDuplicateWindow is the streams' duplicate window unless TopologyConfig says otherwise. A
// success's domain event may be sent more than once (after its end's commit, and again by a
// redelivery of its message); JetStream keeps one copy when they come within this window, so a
// pool's AckWait should stay well below it.
const DefaultDuplicateWindow = 2 * time.Minute

func Topology(cfg TopologyConfig) []jetstream.StreamConfig {
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	if cfg.EventsMaxAge == 0 {
		cfg.EventsMaxAge = 7 * 24 * time.Hour
	}
	if cfg.EventsMaxBytes == 0 {
		cfg.EventsMaxBytes = DefaultEventsMaxBytes
	}
	work := func(name, desc string, subjects []string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:              name,
			Description:       desc,
			Subjects:          append(subjects, schedulesRoot+strings.ToLower(name)+".>"),
			Retention:         jetstream.WorkQueuePolicy,
			Storage:           jetstream.FileStorage,
			Replicas:          cfg.Replicas,
			Duplicates:        cfg.DuplicateWindow,
			MaxMsgSize:        MaxMessageSize,
			Discard:           jetstream.DiscardOld,
			AllowMsgSchedules: true,
			AllowRollup:       true, // required by message schedules
		}
	}
	return []jetstream.StreamConfig{
		work(TasksStream, "Mosaic tasks: mosaic.tasks.<band>.<workspace>.<kind>", TaskStreamSubjects()),
		work(CredentialsStream, "Mosaic credential jobs: mosaic.credentials.<workspace>.<op>", []string{credentialsRoot + "*.>"}),
		work(KnowledgeStream, "Mosaic knowledge jobs: mosaic.knowledge.<workspace>.<op>", []string{knowledgeRoot + "*.>"}),
		{
			Name:        EventsStream,
			Description: "Mosaic domain events: mosaic.events.<workspace>.<type>",
			Subjects:    []string{eventsRoot + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			MaxAge:      cfg.EventsMaxAge,
			MaxBytes:    cfg.EventsMaxBytes,
			MaxMsgSize:  MaxMessageSize,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        AdvisoriesStream,
			Description: "JetStream advisories Mosaic turns into dead letters: max deliveries, terminated messages",
			Subjects:    AdvisorySubjects,
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			MaxAge:      cfg.EventsMaxAge,
			MaxMsgSize:  MaxMessageSize,
			Discard:     jetstream.DiscardOld,
		},
	}
}

// AdvisoriesStream keeps the JetStream advisories of AdvisorySubjects until Mosaic's advisory
// watcher has recorded them, so that none is lost while no process listens.
const AdvisoriesStream = "ADVISORIES"

// AdvisorySubjects are the advisories that mean a message failed outside a worker's own path.
// (Naks are routine retries: they are counted, not kept.)
var AdvisorySubjects = []string{
	"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
	"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>",
}

// StreamChange says what ApplyTopology did to one stream.
type StreamChange struct {
	Stream string
	Action string   // "created", "updated" or "unchanged"
	Fields []string // for "updated": the settings that changed
}

// ApplyTopology makes the server's streams match streams: missing streams are created, streams
// whose mutable settings differ are updated, identical ones are left alone. A stream whose
// retention or storage differs cannot be changed in place: it is left untouched and reported in a
// *TopologyConflictError (after the other streams have been applied).
func ApplyTopology(ctx context.Context, js jetstream.JetStream, streams []jetstream.StreamConfig) ([]StreamChange, error) {
	var changes []StreamChange
	conflict := &TopologyConflictError{}
	for _, want := range streams {
		s, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if _, err := js.CreateStream(ctx, want); err != nil {
				return changes, fmt.Errorf("create stream %s: %w", want.Name, err)
			}
			changes = append(changes, StreamChange{Stream: want.Name, Action: "created"})
			continue
		} else if err != nil {
			return changes, fmt.Errorf("look up stream %s: %w", want.Name, err)
		}
		have := s.CachedInfo().Config
		if c := immutableDiff(have, want); len(c) > 0 {
			conflict.Conflicts = append(conflict.Conflicts, c...)
			continue
		}
		fields := mutableDiff(have, want)
		if len(fields) == 0 {
			changes = append(changes, StreamChange{Stream: want.Name, Action: "unchanged"})
			continue
		}
		if _, err := js.UpdateStream(ctx, want); err != nil {
			return changes, fmt.Errorf("update stream %s (%v): %w", want.Name, fields, err)
		}
		changes = append(changes, StreamChange{Stream: want.Name, Action: "updated", Fields: fields})
	}
	if len(conflict.Conflicts) > 0 {
		return changes, conflict
	}
	return changes, nil
}

func immutableDiff(have, want jetstream.StreamConfig) []string {
	var out []string
	if have.Retention != want.Retention {
		out = append(out, fmt.Sprintf("%s: retention is %s, want %s", want.Name, have.Retention, want.Retention))
	}
	if have.Storage != want.Storage {
		out = append(out, fmt.Sprintf("%s: storage is %s, want %s", want.Name, have.Storage, want.Storage))
	}
	return out
}

func mutableDiff(have, want jetstream.StreamConfig) []string {
	var out []string
	add := func(differs bool, name string) {
		if differs {
			out = append(out, name)
		}
	}
	add(!slices.Equal(have.Subjects, want.Subjects), "subjects")
	add(have.Replicas != want.Replicas, "replicas")
	add(have.Duplicates != want.Duplicates, "duplicate_window")
	add(have.MaxAge != want.MaxAge, "max_age")
	add(have.MaxBytes != want.MaxBytes && !(want.MaxBytes == 0 && have.MaxBytes == -1), "max_bytes")
	add(have.MaxMsgSize != want.MaxMsgSize, "max_msg_size")
	add(have.Discard != want.Discard, "discard")
	add(have.AllowMsgSchedules != want.AllowMsgSchedules, "allow_msg_schedules")
	add(have.AllowRollup != want.AllowRollup, "allow_rollup")
	add(have.Description != want.Description, "description")
	return out
}
