package watermillsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
)

// Topic is the topic to subscribe to: the EVENTS stream. What part of it a subscriber reads is
// its Config's (Workspace, Types); any other topic is an error.
const Topic = events.EventsStream

// prefetch is how many events a subscriber holds ahead of its handler. watermill-nats hands
// messages to the router one at a time, and an event's AckWait runs from its delivery, so a
// small read-ahead keeps the waiting ones from timing out behind a slow handler.
const prefetch = 16

// Config configures a subscriber.
type Config struct {
	// Conn is the connection to NATS. Required. The subscriber owns it: Close drains it (so does
	// watermill-nats's subscriber), so give each subscriber a connection of its own.
	Conn *nats.Conn
	// Name of the subscriber: its durable consumer on EVENTS, which keeps its place across
	// restarts. Required: 1 to 255 printable ASCII characters, without spaces, '.', '*', '>', '/'
	// or '\'.
	Name string
	// Workspace limits the subscriber to one workspace's events. Default uuid.Nil: every
	// workspace's.
	Workspace uuid.UUID
	// Types are the event types to read, as patterns with NATS wildcards among their words
	// ("task.dead", "task.*", "credential.>"; events.ValidateEventPattern). Default: every type.
	Types []string
	// DeliverNew starts a new consumer at the events published after it is created. Default:
	// at the oldest event EVENTS keeps (up to 7 days by default). A consumer that exists goes on
	// where it was, whatever this says.
	DeliverNew bool
	// AckWait is how long a handler has (with its Retry middleware's retries) before its event is
	// delivered again. Default 30s.
	AckWait time.Duration
	// NakDelay is how long an event whose handler returned an error waits before it comes back.
	// Default 1s. Redeliveries are not limited: pair the router with a PoisonQueue middleware,
	// or handle what cannot succeed, to keep an event from coming back for ever.
	NakDelay time.Duration
	// Logger receives watermill-nats's messages. Default: none (watermill.NopLogger).
	Logger watermill.LoggerAdapter
}

func (c *Config) setDefaults() {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.NakDelay == 0 {
		c.NakDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("watermillsub.Config.Conn is required"))
	}
	if err := validateConsumerName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("watermillsub.Config.Name: %w", err))
	}
	for _, p := range c.Types {
		if err := events.ValidateEventPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("watermillsub.Config.Types: %w", err))
		}
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("watermillsub.Config.AckWait %s: want at least 1s", c.AckWait))
	}
	if c.NakDelay < 0 {
		errs = append(errs, fmt.Errorf("watermillsub.Config.NakDelay %s: must not be negative", c.NakDelay))
	}
	return errors.Join(errs...)
}

// validateConsumerName checks a JetStream consumer name as the server and nats.go take it.
func validateConsumerName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%q must be 1 to 255 characters", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || strings.IndexByte(".*>/\\", c) >= 0 {
			return fmt.Errorf("%q: printable ASCII without spaces, '.', '*', '>', '/' or '\\'", name)
		}
	}
	return nil
}

// ConsumerConfig is the durable consumer on EVENTS of a subscriber's configuration.
func ConsumerConfig(c Config) jetstream.ConsumerConfig {
	c.setDefaults()
	deliver := jetstream.DeliverAllPolicy
	if c.DeliverNew {
		deliver = jetstream.DeliverNewPolicy
	}
	return jetstream.ConsumerConfig{
		Durable:        c.Name,
		Description:    "Watermill subscriber of Mosaic's domain events",
		FilterSubjects: events.EventFilter(c.Workspace, c.Types),
		DeliverPolicy:  deliver,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
	}
}

// NewSubscriber builds a Watermill subscriber of EVENTS. Its consumer is created or updated
// when a router subscribes (to Topic); Close drains Config.Conn. A subscriber serves one router
// run: to start again, build another on a new connection under the same Name.
func NewSubscriber(c Config) (message.Subscriber, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return wmjs.NewSubscriber(wmjs.SubscriberConfig{
		Conn:                c.Conn,
		Logger:              c.Logger,
		AckWaitTimeout:      c.AckWait,
		ResourceInitializer: durableConsumer(ConsumerConfig(c)),
		NakDelay:            wmjs.NewStaticDelay(c.NakDelay),
		ConsumeOptions:      []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(prefetch)},
		Unmarshaler:         unmarshaler{},
	})
}

// durableConsumer is the subscriber's ResourceInitializer: it creates or updates the consumer
// want on EVENTS, and nothing else (watermill-nats's own initializers create streams, or delete
// their consumer at close). A consumer that exists keeps its deliver policy, which the server does
// not let change.
func durableConsumer(want jetstream.ConsumerConfig) wmjs.ResourceInitializer {
	return func(ctx context.Context, js jetstream.JetStream, topic string) (jetstream.Consumer, func(context.Context, watermill.LoggerAdapter), error) {
		if topic != Topic {
			return nil, nil, fmt.Errorf("watermillsub: topic %q: subscribe to %q (the filter is the Config's)", topic, Topic)
		}
		have, err := js.Consumer(ctx, events.EventsStream, want.Durable)
		switch {
		case err == nil:
			want.DeliverPolicy = have.CachedInfo().Config.DeliverPolicy
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, nil, fmt.Errorf("watermillsub: consumer %s on %s: %w", want.Durable, events.EventsStream, err)
		}
		c, err := js.CreateOrUpdateConsumer(ctx, events.EventsStream, want)
		if err != nil {
			return nil, nil, fmt.Errorf("watermillsub: consumer %s on %s: %w", want.Durable, events.EventsStream, err)
		}
		return c, nil, nil
	}
}
