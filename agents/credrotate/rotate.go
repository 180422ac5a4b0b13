package credrotate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/store"
)

// Kinds of the rotation agent (on the CREDENTIALS stream).
const (
	KindRotateSecret = "credentials.rotate"
	KindRotateKey    = "credentials.rewrap"
)

// RotateSecretArgs rotate one credential at its provider.
type RotateSecretArgs struct {
	CredentialID uuid.UUID `json:"credential_id"`
}

// Kind implements agents.JobArgs.
func (RotateSecretArgs) Kind() string { return KindRotateSecret }

// Validate implements agents.ArgsValidator.
func (a RotateSecretArgs) Validate() error {
	if a.CredentialID == uuid.Nil {
		return errors.New("credential_id is required")
	}
	return nil
}

// RotateKeyArgs rotate a Transit key and rewrap its ciphertexts.
type RotateKeyArgs struct {
	// Key to rotate. Default mosaic-credentials.
	Key string `json:"key,omitempty"`
	// BatchSize of each rewrap round. Default 100.
	BatchSize int `json:"batch_size,omitempty"`
}

// Kind implements agents.JobArgs.
func (RotateKeyArgs) Kind() string { return KindRotateKey }

// Validate implements agents.ArgsValidator.
func (a RotateKeyArgs) Validate() error {
	if a.Key != "" && !slices.Contains(crypto.Keys, a.Key) {
		return fmt.Errorf("key %q is not one of %v", a.Key, crypto.Keys)
	}
	if a.BatchSize < 0 || a.BatchSize > 1000 {
		return errors.New("batch_size must be 0…1000")
	}
	return nil
}

// Config configures the agent.
type Config struct {
	Credentials *credentials.Vault
	// Providers by the credential's provider name. Default: random, postgres and http, set up
	// with Production and HTTPAllow.
	Providers map[string]Provider
	// Production makes the postgres provider demand sslmode=verify-full.
	Production bool
	// HTTPAllow is the http provider's allow-list (HTTP.Allow): empty, it reaches nothing.
	HTTPAllow []string
	Logger    *zerolog.Logger
	// AfterStep, when set, is called after each step of a secret rotation has taken effect and
	// before its checkpoint is written (staged, set, tested, done). An error ends the attempt right
	// there, as a crash would, and the retry resumes from the last checkpoint: tests kill a
	// rotation at each step with it.
	AfterStep func(step string) error
	// RewrapGrace is how long after a key rotation the rewrap pass waits before it starts: an
	// encryption that began before the rotation (still with the old version) lands within it, and
	// the pass must see it. Default 1 minute (far above the 5 s Transit call timeout).
	RewrapGrace time.Duration
}

func (c *Config) providers() map[string]Provider {
	if c.Providers != nil {
		return c.Providers
	}
	return map[string]Provider{"random": Random{}, "postgres": Postgres{RequireVerifyFull: c.Production},
		"http": HTTP{Allow: c.HTTPAllow}}
}

// Register adds the rotation agent's kinds to a registry.
func Register(reg *agents.Registry, cfg Config) {
	agents.AddWorkerConfig(reg, agents.WorkFunc[RotateSecretArgs](func(ctx context.Context, job *agents.Job[RotateSecretArgs]) error {
		return rotateSecret(ctx, cfg, job)
	}), agents.WorkerConfig{ProgressTimeout: 2 * time.Minute, MaxAttempts: 10})
	agents.AddWorkerConfig(reg, agents.WorkFunc[RotateKeyArgs](func(ctx context.Context, job *agents.Job[RotateKeyArgs]) error {
		return rotateKey(ctx, cfg, job)
	}), agents.WorkerConfig{ProgressTimeout: 5 * time.Minute, MaxAttempts: 10})
}

// Steps of a secret rotation, as checkpointed.
const (
	stepStaged = "staged" // the pending value is stored
	stepSet    = "set"    // the provider has it
	stepTested = "tested" // it works there
	stepDone   = "done"   // promoted: current
)

type secretState struct {
	Step    string `json:"step"`
	Version int    `json:"version"` // the credential's version the rotation started from
}

// SecretResult is the result of a credentials.rotate job.
type SecretResult struct {
	CredentialID uuid.UUID `json:"credential_id"`
	Version      int       `json:"version"`
}

func rotateSecret(ctx context.Context, cfg Config, job *agents.Job[RotateSecretArgs]) error {
	creds, db := cfg.Credentials, cfg.Credentials.DB
	ws, id := job.WorkspaceID, job.Args.CredentialID
	user, err := job.Publisher(ctx)
	if err != nil {
		return err
	}
	cred, err := db.GetCredential(ctx, ws, user, id)
	if errors.Is(err, store.ErrNotFound) {
		return agents.Permanent(err)
	}
	if err != nil {
		return err
	}
	provider, ok := cfg.providers()[cred.Provider]
	if !ok {
		return agents.Permanent(fmt.Errorf("credential %q has provider %q: no rotation provider by that name (random, postgres, http)", cred.Name, cred.Provider))
	}
	var st secretState
	if _, err := job.Restore(&st); err != nil {
		return agents.Permanent(err)
	}
	if st.Version == 0 {
		st.Version = cred.Version
	}
	if cred.Version > st.Version || st.Step == stepDone {
		return job.SetResult(SecretResult{CredentialID: id, Version: cred.Version}) // promoted before a crash
	}
	step := func(next string, fraction float64) error {
		if cfg.AfterStep != nil {
			if err := cfg.AfterStep(next); err != nil {
				return err
			}
		}
		st.Step = next
		job.Progress(fraction, "rotation: "+next)
		return job.Checkpoint(ctx, st)
	}
	if st.Step == "" {
		next, err := provider.Generate(ctx, cred)
		if err != nil {
			return err
		}
		ct, _, err := creds.Seal(ctx, ws, id, next)
		next.Wipe()
		if err != nil {
			return err
		}
		if err := db.StagePending(ctx, ws, user, id, st.Version, ct); err != nil {
			return err
		}
		if err := step(stepStaged, 0.25); err != nil {
			return err
		}
	}
	// From here the current and the staged value are opened: read them with the provider and
	// metadata they were stored with (one snapshot), and log both decrypts first.
	snap, err := db.OpenForRotation(ctx, ws, user, id, store.Access{TaskID: &job.ID, Attempt: &job.Attempt, Agent: "credrotate",
		Purpose: "task " + KindRotateSecret}, "current", "pending")
	if errors.Is(err, store.ErrNotFound) {
		return agents.Permanent(err)
	}
	if err != nil {
		return err
	}
	if snap.Version > st.Version {
		return job.SetResult(SecretResult{CredentialID: id, Version: snap.Version}) // replaced meanwhile
	}
	if snap.Pending == nil {
		return agents.Permanent(errors.New("the staged value is gone (another rotation?)"))
	}
	// Same version, so the same provider and metadata: they change only with a new value, which
	// moves the version (the credential_value_binding trigger).
	cred = snap.Credential
	open := func(ct string) (crypto.Secret, error) { return creds.Open(ctx, ws, id, ct) }
	current, err := open(snap.Current)
	if err != nil {
		return err
	}
	defer current.Wipe()
	next, err := open(*snap.Pending)
	if err != nil {
		return err
	}
	defer next.Wipe()
	if st.Step == stepStaged {
		if err := provider.Set(ctx, cred, current, next); err != nil {
			return err // retried: the next attempt resumes at "staged"
		}
		if err := step(stepSet, 0.5); err != nil {
			return err
		}
	}
	if st.Step == stepSet {
		if err := provider.Test(ctx, cred, next); err != nil {
			// Never leave anyone locked out: the old value goes back at the provider.
			if rerr := provider.Set(ctx, cred, next, current); rerr != nil {
				return fmt.Errorf("the new value failed its test (%v) and restoring the old one failed: %w", err, rerr)
			}
			if derr := db.DiscardPending(ctx, ws, user, id, st.Version); derr != nil {
				return derr // retried: restores again (harmless), then discards
			}
			return agents.Permanent(fmt.Errorf("the new value failed its test; the old one is back in place: %w", err))
		}
		if err := step(stepTested, 0.75); err != nil {
			return err
		}
	}
	var masked string
	_ = next.Use(func(b []byte) error { masked = credentials.Mask(b); return nil })
	c, _, err := db.PromotePending(ctx, ws, user, id, st.Version, masked, store.Access{TaskID: &job.ID, Attempt: &job.Attempt, Agent: "credrotate"})
	if err != nil {
		return err
	}
	if err := step(stepDone, 1); err != nil {
		return err
	}
	version := c.Version
	if version == 0 {
		version = st.Version + 1
	}
	return job.SetResult(SecretResult{CredentialID: id, Version: version})
}

type keyState struct {
	Target    int       `json:"target"` // the key version every ciphertext is rewrapped to
	Rotated   bool      `json:"rotated"`
	RotatedAt time.Time `json:"rotated_at"`
	WSIndex   int       `json:"ws_index"`
	UserIndex int       `json:"user_index"`
	After     uuid.UUID `json:"after"`
	Rewrapped int       `json:"rewrapped"`
	Done      bool      `json:"done"`
}

// KeyResult is the result of a credentials.rewrap job.
type KeyResult struct {
	Key                  string `json:"key"`
	MinDecryptionVersion int    `json:"min_decryption_version"`
	Rewrapped            int    `json:"rewrapped"`
}

func rotateKey(ctx context.Context, cfg Config, job *agents.Job[RotateKeyArgs]) error {
	creds, db := cfg.Credentials, cfg.Credentials.DB
	key, batch := job.Args.Key, job.Args.BatchSize
	if key == "" {
		key = crypto.KeyCredentials
	}
	if batch == 0 {
		batch = 100
	}
	var st keyState
	if _, err := job.Restore(&st); err != nil {
		return agents.Permanent(err)
	}
	info, err := creds.Cipher.KeyInfo(ctx, key)
	if err != nil {
		return err
	}
	if st.Target == 0 {
		st.Target = info.LatestVersion + 1
		if err := job.Checkpoint(ctx, st); err != nil {
			return err
		}
	}
	if !st.Rotated {
		if info.LatestVersion < st.Target {
			if info, err = creds.Cipher.RotateKey(ctx, key); err != nil {
				return err
			}
		}
		st.Rotated, st.RotatedAt = true, time.Now().UTC()
		if err := job.Checkpoint(ctx, st); err != nil {
			return err
		}
	}
	grace := cfg.RewrapGrace
	if grace == 0 {
		grace = time.Minute
	}
	if wait := time.Until(st.RotatedAt.Add(grace)); !st.Done && wait > 0 {
		job.Progress(0, "waiting for encryptions begun before the rotation")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if !st.Done {
		workspaces, err := db.WorkspaceIDs(ctx)
		if err != nil {
			return err
		}
		for ; st.WSIndex < len(workspaces); st.WSIndex++ {
			ws := workspaces[st.WSIndex]
			members, err := db.MemberIDs(ctx, ws)
			if err != nil {
				return err
			}
			users := append([]uuid.UUID{uuid.Nil}, members...) // no user: WORKSPACE and SYSTEM rows; each member: their USER rows
			for ; st.UserIndex < len(users); st.UserIndex++ {
				for {
					n, last, err := rewrapPage(ctx, creds, key, st.Target, ws, users[st.UserIndex], st.After, batch)
					if err != nil {
						return err
					}
					if last == uuid.Nil {
						break
					}
					st.After, st.Rewrapped = last, st.Rewrapped+n
					job.Progress(float64(st.WSIndex)/float64(len(workspaces)), fmt.Sprintf("rewrapped %d", st.Rewrapped))
					if err := job.Checkpoint(ctx, st); err != nil {
						return err
					}
				}
				st.After = uuid.Nil
			}
			st.UserIndex = 0
			if err := job.Checkpoint(ctx, st); err != nil {
				return err
			}
		}
		st.Done = true
		if err := job.Checkpoint(ctx, st); err != nil {
			return err
		}
	}
	if _, err := creds.Cipher.SetMinDecryptionVersion(ctx, key, st.Target); err != nil {
		return err
	}
	return job.SetResult(KeyResult{Key: key, MinDecryptionVersion: st.Target, Rewrapped: st.Rewrapped})
}

// rewrapPage rewraps, for one workspace and user, the credentials after `after` whose
// ciphertexts are below target; it returns how many it rewrapped and the last id seen (uuid.Nil
// at the end).
func rewrapPage(ctx context.Context, creds *credentials.Vault, key string, target int, ws, user, after uuid.UUID, batch int) (int, uuid.UUID, error) {
	rows, err := creds.DB.CiphertextPage(ctx, ws, user, after, batch)
	if err != nil || len(rows) == 0 {
		return 0, uuid.Nil, err
	}
	type ref struct {
		row   int
		field *string
	}
	var items []crypto.Item
	var refs []ref
	fresh := make([]store.CiphertextRow, len(rows))
	for i, r := range rows {
		fresh[i] = store.CiphertextRow{ID: r.ID, Ciphertexts: store.Ciphertexts{Current: r.Current, Previous: clone(r.Previous), Pending: clone(r.Pending)}}
		for _, f := range []*string{&fresh[i].Current, fresh[i].Previous, fresh[i].Pending} {
			if f == nil {
				continue
			}
			if _, v, _, err := crypto.ParseVersion(*f); err == nil && v < target {
				items = append(items, crypto.Item{Ciphertext: *f, Context: crypto.CredentialContext(ws, r.ID)})
				refs = append(refs, ref{i, f})
			}
		}
	}
	n := 0
	if len(items) > 0 {
		res, err := creds.Cipher.RewrapBatch(ctx, key, items)
		if err != nil {
			return 0, uuid.Nil, err
		}
		changed := map[int]bool{}
		for j, r := range res {
			if r.Err != nil {
				return 0, uuid.Nil, fmt.Errorf("rewrap credential %s: %w", rows[refs[j].row].ID, r.Err)
			}
			*refs[j].field = r.Ciphertext
			changed[refs[j].row] = true
		}
		for i := range rows {
			if !changed[i] {
				continue
			}
			ok, err := creds.DB.ReplaceCiphertexts(ctx, ws, user, rows[i], fresh[i], "credrotate")
			if err != nil {
				return 0, uuid.Nil, err
			}
			if ok {
				n++
			}
		}
	}
	return n, rows[len(rows)-1].ID, nil
}

func clone(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}
