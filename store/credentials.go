package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Credential types and scopes.
const (
	CredentialAPIKey      = "API_KEY"
	CredentialOAuthToken  = "OAUTH_TOKEN"
	CredentialAccessToken = "ACCESS_TOKEN"
	CredentialSecret      = "SECRET"
	CredentialPassword    = "PASSWORD"
	CredentialCustom      = "CUSTOM"

	ScopeUser      = "USER"
	ScopeWorkspace = "WORKSPACE"
	ScopeSystem    = "SYSTEM"
)

// ValidCredentialType reports whether t is one of the six types.
func ValidCredentialType(t string) bool {
	switch t {
	case CredentialAPIKey, CredentialOAuthToken, CredentialAccessToken, CredentialSecret, CredentialPassword, CredentialCustom:
		return true
	}
	return false
}

// ValidScope reports whether s is USER, WORKSPACE or SYSTEM.
func ValidScope(s string) bool { return s == ScopeUser || s == ScopeWorkspace || s == ScopeSystem }

// Credential is a stored credential: what the API shows of it (mosaictype.Credential, which
// never marshals a value nor a ciphertext) and the ciphertext of its current value.
type Credential struct {
	mosaictype.Credential
	// EncryptedValue is the current value's ciphertext (never marshalled).
	EncryptedValue string `json:"-" db:"encrypted_value"`
}

// NewCredential is a credential to store; its value arrives encrypted already.
type NewCredential struct {
	ID             uuid.UUID // chosen by the caller: the ciphertext is bound to it
	Name           string
	Provider       string
	Type           string
	Scope          string
	OwnerID        uuid.UUID // the user, for USER scope
	Ciphertext     string
	MaskedValue    string
	ExpiresAt      *time.Time
	RotationPolicy string
	Metadata       map[string]string
	CreatedBy      uuid.UUID
}

// Access (mosaictype.Access) is one entry of the credential access log.
type Access = mosaictype.Access

func nilUUID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func insertAccess(ctx context.Context, tx pgx.Tx, ws uuid.UUID, a Access) error {
	_, err := tx.Exec(ctx, insertAccessSQL, ws, a.CredentialID, a.Name, a.Action, a.TaskID, a.Attempt, a.Agent, a.UserID, a.Purpose)
	return err
}

// CreateCredential stores a credential (its ciphertext) as user, with its "create" audit entry. A
// name taken in the same scope and owner gives ErrConflict.
func (db *DB) CreateCredential(ctx context.Context, ws, user uuid.UUID, n NewCredential) (Credential, error) {
	meta := n.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	var owner *uuid.UUID
	if n.Scope == ScopeUser {
		owner = &n.OwnerID
	}
	var c Credential
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Credential](ctx, tx, insertCredentialSQL, pgx.NamedArgs{"workspace_id": ws, "id": n.ID,
			"owner_id": owner, "name": n.Name, "provider": n.Provider, "type": n.Type, "scope": n.Scope,
			"encrypted_value": n.Ciphertext, "masked_value": n.MaskedValue, "expires_at": n.ExpiresAt,
			"rotation_policy": n.RotationPolicy, "metadata": meta, "created_by": nilUUID(n.CreatedBy)})
		if err != nil {
			return err
		}
		return insertAccess(ctx, tx, ws, Access{CredentialID: c.ID, Name: c.Name, Action: "create", UserID: nilUUID(user)})
	})
	if IsUniqueViolation(err) {
		return Credential{}, fmt.Errorf("credential %q: %w", n.Name, ErrConflict)
	}
	return c, err
}

// ListCredentials lists the credentials user may see (USER scope: their own only).
func (db *DB) ListCredentials(ctx context.Context, ws, user uuid.UUID) ([]Credential, error) {
	var out []Credential
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[Credential](ctx, tx, listCredentialsSQL, ws)
		return err
	})
	return out, err
}

// GetCredential reads one credential user may see.
func (db *DB) GetCredential(ctx context.Context, ws, user, id uuid.UUID) (Credential, error) {
	var c Credential
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Credential](ctx, tx, selectCredentialSQL, ws, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	return c, err
}

// CredentialUpdate changes a credential's description; nil fields stay. Provider and Metadata say
// where a rotation sends the value: they may change only with a new value (Ciphertext), else
// ErrValueBound.
type CredentialUpdate struct {
	Provider       *string
	Metadata       map[string]string
	RotationPolicy *string // "" removes it
	SetExpiry      bool
	ExpiresAt      *time.Time
	// Ciphertext and MaskedValue, when Ciphertext is set, replace the value (the old one becomes
	// previous, a staged one is dropped, the version goes up).
	Ciphertext  *string
	MaskedValue *string
}

// UpdateCredential changes a credential's description, with its audit entry.
func (db *DB) UpdateCredential(ctx context.Context, ws, user, id uuid.UUID, u CredentialUpdate) (Credential, error) {
	var meta any
	if u.Metadata != nil {
		meta = u.Metadata
	}
	var c Credential
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Credential](ctx, tx, updateCredentialSQL, pgx.NamedArgs{"workspace_id": ws, "id": id,
			"provider": u.Provider, "metadata": meta, "rotation_policy": u.RotationPolicy, "set_expiry": u.SetExpiry,
			"expires_at": u.ExpiresAt, "ciphertext": u.Ciphertext, "masked_value": u.MaskedValue})
		if err != nil {
			return err
		}
		if err := insertAccess(ctx, tx, ws, Access{CredentialID: c.ID, Name: c.Name, Action: "update", UserID: nilUUID(user)}); err != nil {
			return err
		}
		if u.Ciphertext == nil {
			return nil
		}
		return insertAccess(ctx, tx, ws, Access{CredentialID: c.ID, Name: c.Name, Action: "rotate", UserID: nilUUID(user)})
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	case hasCode(err, valueBoundCode):
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrValueBound)
	}
	return c, err
}

// RotateCredential makes a new value (ciphertext) current; the old one stays as previous.
// expiresAt, when set, is the new value's expiry.
func (db *DB) RotateCredential(ctx context.Context, ws, user, id uuid.UUID, ciphertext, masked string, expiresAt *time.Time, by Access) (Credential, error) {
	var c Credential
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Credential](ctx, tx, rotateCredentialSQL, ws, id, ciphertext, masked, expiresAt != nil, expiresAt)
		if err != nil {
			return err
		}
		by.CredentialID, by.Name, by.Action = c.ID, c.Name, "rotate"
		return insertAccess(ctx, tx, ws, by)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	return c, err
}

// StagePending records the value a rotation is about to set (step one of a staged rotation): the
// current value stays in use until PromotePending. It applies only at the given version.
func (db *DB) StagePending(ctx context.Context, ws, user, id uuid.UUID, version int, ciphertext string) error {
	return db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, stagePendingSQL, ws, id, ciphertext, version)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("credential %s at version %d: %w", id, version, ErrConflict)
		}
		return err
	})
}

// DiscardPending drops the value a rotation staged at version (its test failed).
func (db *DB) DiscardPending(ctx context.Context, ws, user, id uuid.UUID, version int) error {
	return db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, discardPendingSQL, ws, id, version)
		return err
	})
}

// PromotePending makes the staged value current (previous keeps the old one), once: promoted is
// false when nothing was pending at that version (it was promoted already).
func (db *DB) PromotePending(ctx context.Context, ws, user, id uuid.UUID, version int, masked string, by Access) (c Credential, promoted bool, err error) {
	err = db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Credential](ctx, tx, promotePendingSQL, ws, id, masked, version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		promoted = true
		by.CredentialID, by.Name, by.Action = c.ID, c.Name, "rotate"
		return insertAccess(ctx, tx, ws, by)
	})
	return c, promoted, err
}

// Ciphertexts are a credential's current, previous and pending ciphertexts.
type Ciphertexts struct {
	Current  string  `db:"current_value"` // the encrypted_value column
	Previous *string `db:"previous_value"`
	Pending  *string `db:"pending_value"`
}

// CredentialCiphertexts reads a credential's ciphertexts (for a rotation that must open the
// pending or previous value).
func (db *DB) CredentialCiphertexts(ctx context.Context, ws, user, id uuid.UUID) (Ciphertexts, error) {
	var c Ciphertexts
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		c, err = queryRow[Ciphertexts](ctx, tx, selectCiphertextsSQL, ws, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Ciphertexts{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	return c, err
}

// Rotation is a credential and its ciphertexts as one snapshot, for the rotation agent.
type Rotation struct {
	Credential
	Ciphertexts
}

// OpenForRotation reads a credential and its ciphertexts in one snapshot for a rotation, and
// records each value the rotation is about to decrypt ("decrypt" entries, with the task, attempt,
// agent and purpose of by, and user as the one who asked), in one transaction: a rotation never
// opens a value the log does not show. decrypts lists which values: "current", "pending".
func (db *DB) OpenForRotation(ctx context.Context, ws, user, id uuid.UUID, by Access, decrypts ...string) (Rotation, error) {
	by.UserID = nilUUID(user)
	var r Rotation
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		if r, err = queryRow[Rotation](ctx, tx, selectForRotationSQL, ws, id); err != nil {
			return err
		}
		c := &r.Credential
		for _, which := range decrypts {
			if which == "pending" && r.Pending == nil {
				continue
			}
			a := by
			a.CredentialID, a.Name, a.Action = c.ID, c.Name, "decrypt"
			a.Purpose = strings.TrimSpace(by.Purpose + " (" + which + " value)")
			if err := insertAccess(ctx, tx, ws, a); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Rotation{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	return r, err
}

// DeleteCredential soft-deletes a credential, with its audit entry.
func (db *DB) DeleteCredential(ctx context.Context, ws, user, id uuid.UUID) error {
	return db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, deleteCredentialSQL, ws, id).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("credential %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return insertAccess(ctx, tx, ws, Access{CredentialID: id, Name: name, Action: "delete", UserID: nilUUID(user)})
	})
}

// AccessFilter selects audit entries.
type AccessFilter struct {
	Credential uuid.UUID // uuid.Nil: all
	Before     int64     // paging: entries older than this id
	Limit      int       // 1…500, default 100
}

// ListAccess lists the credential audit entries user may see, newest first: those of the
// credentials user can see (another member's USER credentials, their names included, stay theirs).
func (db *DB) ListAccess(ctx context.Context, ws, user uuid.UUID, f AccessFilter) ([]Access, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var before *int64
	if f.Before > 0 {
		before = &f.Before
	}
	var out []Access
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[Access](ctx, tx, listAccessSQL, ws, nilUUID(f.Credential), before, f.Limit)
		return err
	})
	return out, err
}

// ErrCredentialNotFound: no credential of that name that the task's publisher may use.
var ErrCredentialNotFound = errors.New("credential not found")

// TaskAccess describes a task's access to a credential.
type TaskAccess struct {
	WorkspaceID uuid.UUID
	TaskID      uuid.UUID
	Fence       int64 // the delivery's token: the access holds only while it holds the task
	Attempt     int
	Agent       string
	Purpose     string
}

// OpenForTask resolves name for a running task — the publisher's own USER credential first, then
// the workspace's, then SYSTEM — as the publisher, checks that the delivery still holds the task,
// and records the access, in one transaction. It returns the credential with its ciphertext.
func (db *DB) OpenForTask(ctx context.Context, a TaskAccess, name string) (Credential, error) {
	var c Credential
	err := db.InWorkspace(ctx, a.WorkspaceID, func(tx pgx.Tx) error {
		var publisher *uuid.UUID
		var fence int64
		var status Status
		if err := tx.QueryRow(ctx, selectTaskPublisherSQL, a.WorkspaceID, a.TaskID).Scan(&publisher, &fence, &status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrFenced
			}
			return err
		}
		if fence != a.Fence || status != StatusRunning {
			return ErrFenced
		}
		if publisher != nil {
			// The door takes the publisher as the transaction's user: their USER credentials show.
			if _, err := tx.Exec(ctx, setUserSQL, publisher.String()); err != nil {
				return err
			}
		}
		var err error
		c, err = queryRow[Credential](ctx, tx, resolveCredentialSQL, a.WorkspaceID, name)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrCredentialNotFound, name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, touchCredentialSQL, a.WorkspaceID, c.ID); err != nil {
			return err
		}
		attempt := a.Attempt
		return insertAccess(ctx, tx, a.WorkspaceID, Access{CredentialID: c.ID, Name: c.Name, Action: "decrypt",
			TaskID: &a.TaskID, Attempt: &attempt, Agent: a.Agent, UserID: publisher, Purpose: a.Purpose})
	})
	return c, err
}

// CiphertextRow is one credential's ciphertexts, for the rewrap job.
type CiphertextRow struct {
	ID uuid.UUID
	Ciphertexts
}

// CiphertextPage reads the ciphertexts of credentials after id (uuid.Nil: from the start) that
// user may see.
func (db *DB) CiphertextPage(ctx context.Context, ws, user, after uuid.UUID, limit int) ([]CiphertextRow, error) {
	var out []CiphertextRow
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[CiphertextRow](ctx, tx, ciphertextPageSQL, ws, after, limit)
		return err
	})
	return out, err
}

// ReplaceCiphertexts swaps a credential's ciphertexts for rewrapped ones if they are still old
// (a rotation in between wins); replaced says whether it did.
func (db *DB) ReplaceCiphertexts(ctx context.Context, ws, user uuid.UUID, old, rewrapped CiphertextRow, agent string) (replaced bool, err error) {
	err = db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, replaceCiphertextsSQL, ws, old.ID, old.Current, rewrapped.Current, old.Previous,
			rewrapped.Previous, old.Pending, rewrapped.Pending).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		replaced = true
		return insertAccess(ctx, tx, ws, Access{CredentialID: old.ID, Name: name, Action: "rewrap", Agent: agent})
	})
	return replaced, err
}

// MemberIDs lists a workspace's members (system work enters as each to reach USER rows).
func (db *DB) MemberIDs(ctx context.Context, ws uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, memberIDsSQL, ws)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	return ids, err
}

// TaskPublisher is the user who published a task (uuid.Nil: none).
func (db *DB) TaskPublisher(ctx context.Context, ws, id uuid.UUID) (uuid.UUID, error) {
	var publisher *uuid.UUID
	var fence int64
	var status Status
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, selectTaskPublisherSQL, ws, id).Scan(&publisher, &fence, &status)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	if err != nil || publisher == nil {
		return uuid.Nil, err
	}
	return *publisher, nil
}

// RotationPolicy is a credential with a rotation policy, as the scheduler sees it.
type RotationPolicy struct {
	ID          uuid.UUID
	Name        string
	Policy      string
	LastRotated time.Time
	OwnerID     *uuid.UUID
	Version     int
	Staged      bool
}

// RotationPolicies lists the credentials with a rotation policy that user may see.
func (db *DB) RotationPolicies(ctx context.Context, ws, user uuid.UUID) ([]RotationPolicy, error) {
	var out []RotationPolicy
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, policiesSQL, ws)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (RotationPolicy, error) {
			var p RotationPolicy
			return p, r.Scan(&p.ID, &p.Name, &p.Policy, &p.LastRotated, &p.OwnerID, &p.Version, &p.Staged)
		})
		return err
	})
	return out, err
}

// Expiry is a credential whose expiry was just announced.
type Expiry struct {
	ID        uuid.UUID
	Name      string
	ExpiresAt time.Time
	OwnerID   *uuid.UUID
	Expired   bool
}

// NotifyExpiries marks, once each, the credentials user may see that expire before warnBefore or
// have expired, and queues the outbox messages event builds for them, in one transaction.
func (db *DB) NotifyExpiries(ctx context.Context, ws, user uuid.UUID, warnBefore time.Time, event func(Expiry) OutboxMessage) ([]Expiry, error) {
	var out []Expiry
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		out = nil
		for _, q := range []struct {
			sql     string
			expired bool
		}{{markExpiringSQL, false}, {markExpiredSQL, true}} {
			var args []any
			if q.expired {
				args = []any{ws}
			} else {
				args = []any{ws, warnBefore}
			}
			rows, err := tx.Query(ctx, q.sql, args...)
			if err != nil {
				return err
			}
			list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Expiry, error) {
				e := Expiry{Expired: q.expired}
				return e, r.Scan(&e.ID, &e.Name, &e.ExpiresAt, &e.OwnerID)
			})
			if err != nil {
				return err
			}
			out = append(out, list...)
		}
		for _, e := range out {
			if err := InsertOutbox(ctx, tx, event(e)); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
