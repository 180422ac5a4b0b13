package watermillsub

import (
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
)

// Metadata keys a subscriber sets on every message, besides the NATS headers it carried (other
// than JetStream's own Nats-* headers).
const (
	// MetadataSubject: mosaic.events.<workspace>.<type>.
	MetadataSubject = "mosaic_subject"
	// MetadataStreamSeq: the event's sequence in EVENTS.
	MetadataStreamSeq = "mosaic_stream_seq"
	// MetadataDelivered: how many times the event has been delivered to this subscriber's
	// consumer, this time included (1 the first time).
	MetadataDelivered = "mosaic_delivered"
)

// Decode reads the Mosaic event a message of this subscriber carries. Its error wraps
// events.ErrInvalidEvent; such a message will not decode on any delivery.
func Decode(msg *message.Message) (events.Event, error) {
	return events.DecodeEvent(msg.Payload)
}

// unmarshaler turns a JetStream message into a Watermill message whose UUID is the event id
// (the Nats-Msg-Id the outbox relay sets). It returns no error: watermill-nats hands a message on
// even when its Unmarshaler fails, so what cannot be read is left to Decode.
type unmarshaler struct{}

func (unmarshaler) Unmarshal(msg jetstream.Msg) (*message.Message, error) {
	m := message.NewMessage(msg.Headers().Get(nats.MsgIdHdr), msg.Data())
	for k, v := range msg.Headers() {
		if !strings.HasPrefix(k, "Nats-") && len(v) > 0 {
			m.Metadata.Set(k, v[0])
		}
	}
	m.Metadata.Set(MetadataSubject, msg.Subject())
	if meta, err := msg.Metadata(); err == nil {
		if m.UUID == "" {
			m.UUID = events.EventsStream + "-" + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
		m.Metadata.Set(MetadataStreamSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
		m.Metadata.Set(MetadataDelivered, strconv.FormatUint(meta.NumDelivered, 10))
	}
	return m, nil
}
