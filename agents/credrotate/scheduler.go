package credrotate

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/tick"
	"github.com/mosaicstack/mosaic/store"
)

// Scheduler turns rotation policies into credentials.rotate jobs and expiries into domain events
// (credential.expiring, then credential.expired), in every workspace. Any number may run: a
// rotation's idempotency key (credential and version) and the once-only expiry marks keep them
// from doing a thing twice.
type Scheduler struct {
	DB     *store.DB
	Client *agents.Client
	// Interval between passes. Default 1 minute.
	Interval time.Duration
	// ExpiryWarning is how long before expiry credential.expiring goes out. Default 7 days.
	ExpiryWarning time.Duration
	Logger        *zerolog.Logger
}

// Run passes every Interval until ctx ends, and returns nil then.
func (s *Scheduler) Run(ctx context.Context) error {
	interval := s.Interval
	if interval == 0 {
		interval = time.Minute
	}
	tick.Every(ctx, interval, s.Tick, func(err error) {
		if s.Logger != nil {
			s.Logger.Warn().Err(err).Msg("credential scheduler pass failed")
		}
	})
	return nil
}

// Tick makes one pass over every workspace.
func (s *Scheduler) Tick(ctx context.Context) error {
	warn := s.ExpiryWarning
	if warn == 0 {
		warn = 7 * 24 * time.Hour
	}
	workspaces, err := s.DB.WorkspaceIDs(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, ws := range workspaces {
		members, err := s.DB.MemberIDs(ctx, ws)
		if err != nil {
			return err
		}
		for _, user := range append([]uuid.UUID{uuid.Nil}, members...) {
			policies, err := s.DB.RotationPolicies(ctx, ws, user)
			if err != nil {
				return err
			}
			for _, p := range policies {
				if (user == uuid.Nil) != (p.OwnerID == nil) || p.Staged {
					continue // each credential in one view only; a staged one is being rotated
				}
				every, err := credentials.ParseRotationPolicy(p.Policy)
				if err != nil || now.Before(p.LastRotated.Add(every)) {
					continue
				}
				if _, err := s.Client.Publish(ctx, agents.TaskSpec{WorkspaceID: ws, Kind: KindRotateSecret,
					Args: RotateSecretArgs{CredentialID: p.ID}, PublishedBy: user,
					IdempotencyKey: "rotate:" + p.ID.String() + ":v" + strconv.Itoa(p.Version)}); err != nil {
					return err
				}
			}
			if _, err := s.DB.NotifyExpiries(ctx, ws, user, now.Add(warn), func(e store.Expiry) store.OutboxMessage {
				typ := "credential.expiring"
				if e.Expired {
					typ = "credential.expired"
				}
				ev := events.CredentialEvent{ID: store.NewID(), Type: typ, WorkspaceID: ws, CredentialID: e.ID, Name: e.Name, ExpiresAt: e.ExpiresAt, At: now.UTC()}
				payload, _ := json.Marshal(ev)
				return store.OutboxMessage{WorkspaceID: ws, MsgID: ev.ID.String(), Subject: events.EventSubject(ws, typ), Payload: payload}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}
