package outbox

import (
	"context"
	"encoding/json"
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
	// Coalesce is how long the relay lets notifications gather before it drains, so that one drain
	// carries the outbox rows of many commits. Default 10ms.
	Coalesce time.Duration
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
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 10 * time.Millisecond
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

// Run relays until ctx ends, and returns ctx's error then.
func (r *Relay) Run(ctx context.Context) error {
	listening := make(chan struct{})
	defer func() { <-listening }() // the listener ends with ctx, as Run does
	go func() {
		defer close(listening)
		// Listen reconnects by itself and returns only when ctx ends; the sweep covers what a lost
		// connection missed.
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
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.cfg.Coalesce):
			}
		}
		r.mu.Lock()
		todo := make([]uuid.UUID, 0, len(r.pending))
		for ws := range r.pending {
			todo = append(todo, ws)
		}
		r.pending = map[uuid.UUID]bool{}
		r.mu.Unlock()
		// Many workspaces per transaction: the sweep names every workspace, and a batch of
		// completions spread over many leaves a bundle in each.
		for start := 0; start < len(todo); start += drainWorkspaces {
			chunk := todo[start:min(start+drainWorkspaces, len(todo))]
			if err := r.drain(ctx, chunk...); err != nil && ctx.Err() == nil {
				r.log.Warn().Err(err).Int("workspaces", len(chunk)).Msg("outbox relay: will retry")
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

// drainWorkspaces is how many workspaces one drain transaction serves.
const drainWorkspaces = 256

// DrainOnce publishes a workspace's whole outbox now (for tests and shutdown).
func (r *Relay) DrainOnce(ctx context.Context, ws uuid.UUID) error { return r.drain(ctx, ws) }

func (r *Relay) drain(ctx context.Context, wss ...uuid.UUID) error {
	for ctx.Err() == nil {
		n, err := r.cfg.DB.DrainOutbox(ctx, wss, r.cfg.BatchSize, func(rows []store.OutboxRow) ([]int64, error) {
			return Publish(ctx, r.cfg.JS, rows)
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

// bundled is one message of a bundle row (empty subject): a batch of completions queues its
// domain events as one row.
type bundled struct {
	MsgID   string `json:"msg_id"`
	Subject string `json:"subject"`
	Data    string `json:"data"`
}

// Publish publishes outbox rows (a bundle row's every message) with their Nats-Msg-Id and
// returns the ids of the rows JetStream acknowledged in full.
func Publish(ctx context.Context, js jetstream.JetStream, rows []store.OutboxRow) ([]int64, error) {
	seqs, err := PublishMessages(ctx, js, rows)
	if seqs == nil {
		return nil, err
	}
	var done []int64
	for i, row := range rows {
		if seqs[i] != 0 {
			done = append(done, row.ID)
		}
	}
	return done, err
}

// PublishMessages publishes outbox rows (each with its Nats-Msg-Id; a bundle row as its messages)
// and waits for JetStream's acknowledgements: seqs[i] is the stream sequence of rows[i]'s message
// (of a bundle's last), 0 when any of its messages was not acknowledged. seqs is nil only when
// ctx ended first.
func PublishMessages(ctx context.Context, js jetstream.JetStream, rows []store.OutboxRow) (seqs []uint64, err error) {
	type pending struct {
		row     int
		subject string
		future  jetstream.PubAckFuture
	}
	var sent []pending
	var errs []error
	failed := map[int]bool{}
	send := func(row int, msg *nats.Msg) {
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s: %w", msg.Subject, err))
			failed[row] = true
			return
		}
		sent = append(sent, pending{row, msg.Subject, f})
	}
	for i, row := range rows {
		if row.Subject == "" {
			var msgs []bundled
			if err := json.Unmarshal(row.Payload, &msgs); err != nil {
				errs = append(errs, fmt.Errorf("outbox row %d: bundle: %w", row.ID, err))
				failed[i] = true
				continue
			}
			for _, m := range msgs {
				msg := &nats.Msg{Subject: m.Subject, Data: []byte(m.Data), Header: nats.Header{}}
				msg.Header.Set(nats.MsgIdHdr, m.MsgID)
				send(i, msg)
			}
			continue
		}
		msg := &nats.Msg{Subject: row.Subject, Data: row.Payload, Header: nats.Header(row.Headers)}
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(nats.MsgIdHdr, row.MsgID)
		send(i, msg)
	}
	seqs = make([]uint64, len(rows))
	timeout := time.After(10 * time.Second)
wait:
	for k, p := range sent {
		select {
		case ack := <-p.future.Ok():
			seqs[p.row] = max(ack.Sequence, 1)
		case err := <-p.future.Err():
			errs = append(errs, fmt.Errorf("publish %s: %w", p.subject, err))
			failed[p.row] = true
		case <-timeout:
			errs = append(errs, errors.New("publish: no acknowledgement within 10s"))
			for _, q := range sent[k:] { // those before k were received
				select {
				case ack := <-q.future.Ok():
					seqs[q.row] = max(ack.Sequence, 1)
				default:
					failed[q.row] = true
				}
			}
			break wait
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i := range seqs {
		if failed[i] {
			seqs[i] = 0
		}
	}
	return seqs, errors.Join(errs...)
}
