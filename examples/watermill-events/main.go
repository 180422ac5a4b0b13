// Command watermill-events logs Mosaic's domain events through a Watermill router: a durable
// subscriber of the EVENTS stream (package events/watermillsub), the Recoverer and Retry
// middlewares, and a handler that decodes each event.
//
// Against `mosaic dev` (whose NATS server wants Mosaic's own user, which may do everything: keep
// its password to trusted services):
//
//	eval "$(mosaic nats credentials --system --output json | jq -r '"export MOSAIC_NATS_URL=\(.url) MOSAIC_NATS_USER=\(.user) MOSAIC_NATS_PASSWORD=\(.password)"')"
//	go run ./examples/watermill-events --name audit --types 'task.*'
//
// Stop it with Ctrl-C; started again under the same --name, it goes on from the first event it
// had not handled.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/watermillsub"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "watermill-events:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		conn      events.ConnConfig
		name, ws  string
		typesFlag string
	)
	flag.StringVar(&conn.URL, "nats-url", os.Getenv("MOSAIC_NATS_URL"), "NATS server (env MOSAIC_NATS_URL)")
	flag.StringVar(&conn.User, "nats-user", os.Getenv("MOSAIC_NATS_USER"), "NATS user (env MOSAIC_NATS_USER)")
	flag.StringVar(&conn.Password, "nats-password", os.Getenv("MOSAIC_NATS_PASSWORD"), "NATS password (env MOSAIC_NATS_PASSWORD)")
	flag.StringVar(&name, "name", "watermill-events", "subscriber name: its durable consumer on EVENTS")
	flag.StringVar(&ws, "workspace", "", "read one workspace's events (default: every workspace's)")
	flag.StringVar(&typesFlag, "types", "", "comma-separated event type patterns, e.g. task.dead,credential.> (default: every type)")
	flag.Parse()

	cfg := watermillsub.Config{Name: name}
	if ws != "" {
		id, err := uuid.Parse(ws)
		if err != nil {
			return fmt.Errorf("--workspace %q: %w", ws, err)
		}
		cfg.Workspace = id
	}
	if typesFlag != "" {
		cfg.Types = strings.Split(typesFlag, ",")
	}
	logger := watermill.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	cfg.Logger = logger

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn.Name = "watermill-events"
	nc, _, err := events.Connect(ctx, conn)
	if err != nil {
		return err
	}
	cfg.Conn = nc // the subscriber drains it when the router closes
	sub, err := watermillsub.NewSubscriber(cfg)
	if err != nil {
		return err
	}

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return err
	}
	router.AddMiddleware(
		middleware.Recoverer, // a panic becomes an error: the event comes back instead of the process dying
		middleware.Retry{MaxRetries: 3, InitialInterval: 100 * time.Millisecond, Logger: logger}.Middleware,
	)
	router.AddConsumerHandler("log-events", watermillsub.Topic, sub, func(msg *message.Message) error {
		ev, err := watermillsub.Decode(msg)
		if err != nil {
			slog.Error("undecodable event, skipped", "id", msg.UUID, "err", err)
			return nil // acked: it would not decode the next time either
		}
		attrs := []any{"id", ev.ID, "type", ev.Type, "workspace", ev.WorkspaceID, "at", ev.At}
		switch {
		case ev.Task != nil:
			attrs = append(attrs, "task", ev.Task.TaskID, "kind", ev.Task.Kind, "attempt", ev.Task.Attempt, "error", ev.Task.Error)
		case ev.DeadMessage != nil:
			attrs = append(attrs, "reason", ev.DeadMessage.Reason, "subject", ev.DeadMessage.Subject)
		case ev.Credential != nil:
			attrs = append(attrs, "credential", ev.Credential.Name, "expires_at", ev.Credential.ExpiresAt)
		}
		slog.Info("event", attrs...)
		return nil
	})
	if err := router.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
