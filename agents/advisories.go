package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// AdvisoryWatcher turns JetStream's advisories of failed messages into dead letters and domain
// events, so that a message that fails outside a worker's own path — a consumer reaching its
// max deliveries, a message terminated by a consumer that is not Mosaic's — fails loudly. The
// advisories wait in the ADVISORIES stream; any number of watchers share its one consumer.
type AdvisoryWatcher struct {
	DB     *store.DB
	JS     jetstream.JetStream
	Logger *zerolog.Logger
	// OnNak, when set, is called with the stream of every nak advisory (core NATS, not kept: a
	// nak is a routine retry or deferral, counted for metrics only).
	OnNak func(stream string)

	cons      jetstream.Consumer // Setup's
	processed atomic.Int64
	recorded  atomic.Int64
}

// recordedByWorkers are the reasons Mosaic's workers terminate a message with, after they have
// recorded its dead letter themselves.
var recordedByWorkers = map[string]bool{
	store.ReasonPermanent: true, store.ReasonMaxAttempts: true,
	events.ReasonInvalidEnvelope: true, events.ReasonInvalidSubject: true, events.ReasonWorkspaceMismatch: true,
	events.ReasonKindMismatch: true, events.ReasonInvalidPriority: true, events.ReasonArgsTooLarge: true,
	events.ReasonInvalidArgs: true, events.ReasonInvalidDelay: true, events.ReasonUnknownKind: true,
	events.ReasonUnknownWorkspace: true,
}

// advisory is the part of a JetStream consumer advisory the watcher reads.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason"`
}

// Processed counts the advisories handled (acked); Recorded the dead letters they made.
func (w *AdvisoryWatcher) Processed() int64 { return w.processed.Load() }

// Recorded counts the dead letters the watcher made.
func (w *AdvisoryWatcher) Recorded() int64 { return w.recorded.Load() }

// Setup creates (or updates) the watcher's durable consumer of the ADVISORIES stream. Run calls
// it when it has not been called; a runtime calls it first, so that a consumer that cannot be made
// fails the runtime's start rather than a service already running.
func (w *AdvisoryWatcher) Setup(ctx context.Context) error {
	cons, err := w.JS.CreateOrUpdateConsumer(ctx, events.AdvisoriesStream, jetstream.ConsumerConfig{
		Durable: "mosaic-advisories", Description: "Mosaic: advisories to dead letters",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	})
	if err != nil {
		return fmt.Errorf("advisories consumer: %w", err)
	}
	w.cons = cons
	return nil
}

// Run consumes advisories until ctx ends, and returns nil then.
func (w *AdvisoryWatcher) Run(ctx context.Context) error {
	log := zerolog.Nop()
	if w.Logger != nil {
		log = w.Logger.With().Str("component", "advisories").Logger()
	}
	if w.cons == nil {
		if err := w.Setup(ctx); err != nil {
			return err
		}
	}
	cc, err := w.cons.Consume(func(m jetstream.Msg) {
		if err := w.handle(ctx, m); err != nil {
			log.Warn().Err(err).Str("subject", m.Subject()).Msg("advisory not recorded; it comes back")
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
		_ = m.Ack()
		w.processed.Add(1)
	})
	if err != nil {
		return err
	}
	defer cc.Stop()
	if w.OnNak != nil {
		sub, err := w.JS.Conn().Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.>", func(m *nats.Msg) {
			var a advisory
			if json.Unmarshal(m.Data, &a) == nil {
				w.OnNak(a.Stream)
			}
		})
		if err != nil {
			return fmt.Errorf("nak advisories: %w", err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	<-ctx.Done()
	return nil
}

func (w *AdvisoryWatcher) handle(ctx context.Context, m jetstream.Msg) error {
	var a advisory
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		return nil // not an advisory we know: nothing to record
	}
	var reason string
	switch {
	case strings.HasSuffix(a.Type, ".max_deliver"):
		reason = store.ReasonMaxDeliveries
	case strings.HasSuffix(a.Type, ".terminated"):
		reason = store.ReasonTerminated
	default:
		return nil
	}
	if a.Stream != events.TasksStream && a.Stream != events.CredentialsStream && a.Stream != events.KnowledgeStream {
		return nil
	}
	if reason == store.ReasonTerminated && recordedByWorkers[a.Reason] {
		return nil // a Mosaic worker dead-lettered it, then terminated it with the reason
	}
	stream, err := w.JS.Stream(ctx, a.Stream)
	if err != nil {
		return err
	}
	raw, err := stream.GetMsg(ctx, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		raw = nil // a terminated message has left the work queue: the advisory is all there is
	} else if err != nil {
		return err
	}
	seq := int64(a.StreamSeq)
	msg := fmt.Sprintf("JetStream %s: consumer %s on %s, %d deliveries", reason, a.Consumer, a.Stream, a.Deliveries)
	if a.Reason != "" {
		msg += ", reason: " + a.Reason
	}
	d := store.DeadLetter{Reason: reason, Error: msg, StreamSeq: &seq, Attempt: int(a.Deliveries)}
	if raw == nil {
		d.Subject = fmt.Sprintf("%s#%d", a.Stream, a.StreamSeq)
		return w.unrouted(ctx, d)
	}
	d.Subject, d.Headers, d.Payload = raw.Subject, raw.Header, raw.Data
	decoded, addr, _ := events.DecodeTask(raw.Subject, raw.Header, raw.Data, raw.Sequence)
	if addr.Workspace == uuid.Nil {
		return w.unrouted(ctx, d)
	}
	d.WorkspaceID, d.Kind = addr.Workspace, addr.Kind
	if decoded.Envelope.ID != uuid.Nil {
		id := decoded.Envelope.ID
		d.TaskID = &id
	}
	ev := events.DeadMessageEvent{ID: store.NewID(), Type: "message.dead", WorkspaceID: addr.Workspace, Reason: reason,
		Stream: a.Stream, Consumer: a.Consumer, StreamSeq: a.StreamSeq, Subject: raw.Subject, TaskID: d.TaskID,
		At: time.Now().UTC()}
	payload, _ := json.Marshal(ev)
	recorded, err := w.DB.RecordAdvisoryDeadLetter(ctx, d, []store.OutboxMessage{{WorkspaceID: addr.Workspace,
		MsgID: ev.ID.String(), Subject: events.EventSubject(addr.Workspace, "message.dead"), Payload: payload}})
	if errors.Is(err, store.ErrNotFound) {
		return w.unrouted(ctx, d)
	}
	if err != nil {
		return err
	}
	if recorded {
		w.recorded.Add(1)
	}
	if reason == store.ReasonMaxDeliveries {
		// Recorded: the message leaves the work queue, where no consumer would take it again.
		if err := stream.DeleteMsg(ctx, a.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
	}
	return nil
}

func (w *AdvisoryWatcher) unrouted(ctx context.Context, d store.DeadLetter) error {
	err := w.DB.InsertUnrouted(ctx, store.UnroutedMessage{Reason: d.Reason, Error: d.Error, Subject: d.Subject,
		Headers: d.Headers, Payload: d.Payload, StreamSeq: d.StreamSeq})
	if err == nil {
		w.recorded.Add(1)
	}
	return err
}
