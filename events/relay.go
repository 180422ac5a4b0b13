package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/store"
)

// RelayConfig configures the outbox relay.
type RelayConfig struct {
	DB *store.DB
	JS jetstream.JetStream
	// BatchSize is how many rows one transaction publishes. Default 256.
	BatchSize int
	// SweepInterval is how often every workspace's outbox is checked, besides the notifications
	// the outbox trigger sends. Default 5s.
	SweepInterval time.Duration
	// Accept, when set, limits the relay to the workspaces it accepts (to shard relays, or to keep
	// tests that share a database apart). Default: every workspace.
	Accept func(ws uuid.UUID) bool
	Logger *zerolog.Logger
}

// Relay publishes the transactional outbox: rows committed with a business change (task
// messages of PublishTx, replays, domain events) reach JetStream after the commit, at least once,
// with Nats-Msg-Id so that JetStream drops a second copy. Any number of relays may run: each
// row is taken by one (SKIP LOCKED).
type Relay struct {
	cfg RelayConfig
	log zerolog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]bool
	wake    chan struct{}
}

// NewRelay builds a relay; Run starts it.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 5 * time.Second
	}
	r := &Relay{cfg: cfg, log: zerolog.Nop(), pending: map[uuid.UUID]bool{}, wake: make(chan struct{}, 1)}
	if cfg.Logger != nil {
		r.log = cfg.Logger.With().Str("component", "outbox-relay").Logger()
	}
	return r
}

// Notify asks the relay to drain a workspace's outbox soon.
func (r *Relay) Notify(ws uuid.UUID) {
	if r.cfg.Accept != nil && !r.cfg.Accept(ws) {
		return
	}
	r.mu.Lock()
	r.pending[ws] = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	go func() {
		_ = r.cfg.DB.Listen(ctx, "mosaic_outbox", r.sweep(ctx), func(payload string) {
			if ws, err := uuid.Parse(payload); err == nil {
				r.Notify(ws)
			}
		})
	}()
	tick := time.NewTicker(r.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			r.sweep(ctx)()
		case <-r.wake:
		}
		r.mu.Lock()
		todo := r.pending
		r.pending = map[uuid.UUID]bool{}
		r.mu.Unlock()
		for ws := range todo {
			if err := r.drain(ctx, ws); err != nil && ctx.Err() == nil {
				r.log.Warn().Err(err).Str("workspace_id", ws.String()).Msg("outbox relay: will retry")
			}
		}
	}
}

func (r *Relay) sweep(ctx context.Context) func() {
	return func() {
		ids, err := r.cfg.DB.WorkspaceIDs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Msg("outbox relay: cannot list workspaces")
			}
			return
		}
		for _, ws := range ids {
			r.Notify(ws)
		}
	}
}

// DrainOnce publishes a workspace's whole outbox now (for tests and shutdown).
func (r *Relay) DrainOnce(ctx context.Context, ws uuid.UUID) error { return r.drain(ctx, ws) }

func (r *Relay) drain(ctx context.Context, ws uuid.UUID) error {
	for ctx.Err() == nil {
		n, err := r.cfg.DB.DrainOutbox(ctx, ws, r.cfg.BatchSize, func(rows []store.OutboxRow) ([]int64, error) {
			return r.publish(ctx, rows)
		})
		if err != nil {
			return err
		}
		if n < r.cfg.BatchSize {
			return nil
		}
	}
	return ctx.Err()
}

func (r *Relay) publish(ctx context.Context, rows []store.OutboxRow) ([]int64, error) {
	futures := make([]jetstream.PubAckFuture, len(rows))
	var errs []error
	for i, row := range rows {
		msg := &nats.Msg{Subject: row.Subject, Data: row.Payload, Header: nats.Header(row.Headers)}
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(nats.MsgIdHdr, row.MsgID)
		f, err := r.cfg.JS.PublishMsgAsync(msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s: %w", row.Subject, err))
			continue
		}
		futures[i] = f
	}
	var done []int64
	timeout := time.After(10 * time.Second)
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			done = append(done, rows[i].ID)
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish %s: %w", rows[i].Subject, err))
		case <-timeout:
			errs = append(errs, errors.New("publish: no acknowledgement within 10s"))
			return done, errors.Join(errs...)
		case <-ctx.Done():
			return done, ctx.Err()
		}
	}
	return done, errors.Join(errs...)
}
