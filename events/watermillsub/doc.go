// Package watermillsub reads Mosaic's domain events (task.succeeded, task.dead, message.dead,
// credential.expiring, …) with Watermill: NewSubscriber gives a message.Subscriber for the EVENTS
// stream, built on watermill-nats's JetStream subscriber, and Decode turns each message into an
// events.Event.
//
//	nc, _, err := events.Connect(ctx, events.ConnConfig{URL: url, User: user, Password: password})
//	sub, err := watermillsub.NewSubscriber(watermillsub.Config{Conn: nc, Name: "billing"})
//	router.AddConsumerHandler("billing", watermillsub.Topic, sub, func(msg *message.Message) error {
//		ev, err := watermillsub.Decode(msg)
//		…
//	})
//
// Each subscriber name is a durable consumer on EVENTS: a subscriber that stops and starts again
// under the same name goes on from the first event it had not acknowledged, and subscribers that
// share a name share the events between them. A message is acknowledged when its handler returns
// nil (Watermill's semantics) and comes back after Config.NakDelay when it returns an error.
// Delivery is at least once: an event whose handler was still running when the subscriber
// closed comes back (after Config.AckWait) to the next subscriber of that name. The event id
// (message UUID, events.Event.ID) is the key to make a handler idempotent; JetStream keeps one
// copy of each event id that the outbox relay publishes, so a stop after the handlers have
// returned loses and repeats nothing.
//
// The subscriber only reads: it creates or updates its own consumer and never creates or
// changes the EVENTS stream (watermill-nats's stream provisioning is not used). The NATS user
// needs the JetStream API for consumers on EVENTS and to receive mosaic.events.>; on the
// embedded server of `mosaic dev` that is Mosaic's own user (`mosaic nats credentials
// --system`), which may do everything, so keep its password to trusted services. A workspace's
// publisher user (pub-<workspace>) may only publish tasks and cannot subscribe.
//
// The consumer outlives the subscriber: delete a name no longer used with
// `nats consumer rm EVENTS <name>` (it would otherwise keep its place, and count, for ever).
package watermillsub
