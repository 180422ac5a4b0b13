package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Role is a member's role in a workspace, from most to least powerful.
type Role string

// Roles.
const (
	RoleOwner  Role = "OWNER"
	RoleAdmin  Role = "ADMIN"
	RoleMember Role = "MEMBER"
	RoleGuest  Role = "GUEST"
)

var roleRank = map[Role]int{RoleOwner: 4, RoleAdmin: 3, RoleMember: 2, RoleGuest: 1}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return roleRank[r] > 0 }

// AtLeast reports whether r is as powerful as min or more.
func (r Role) AtLeast(min Role) bool { return roleRank[r] >= roleRank[min] && r.Valid() }

// Workspace (mosaictype.Workspace) is a tenant.
type Workspace = mosaictype.Workspace

// NewWorkspace is what CreateWorkspace needs.
type NewWorkspace struct {
	// Name: 1 to 64 characters, no control characters, unique (case-insensitive).
	Name string
	// OwnerName names the first member (OWNER). Default "owner".
	OwnerName  string
	OwnerEmail string
}

// CreatedWorkspace is a new workspace, its first member and that member's API key. The key's
// text exists only here: the database keeps its SHA-256.
type CreatedWorkspace struct {
	Workspace
	OwnerID uuid.UUID
	APIKey  string
}

// Principal is who an API key speaks for.
type Principal struct {
	WorkspaceID uuid.UUID
	UserID      uuid.UUID
	KeyID       uuid.UUID
	Role        Role
}

// MaxWorkspaceNameLen bounds a workspace name, in characters.
const MaxWorkspaceNameLen = 64

// ValidateWorkspaceName checks a workspace name.
func ValidateWorkspaceName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("workspace name is empty")
	case n > MaxWorkspaceNameLen:
		return fmt.Errorf("workspace name is %d characters long; the limit is %d", n, MaxWorkspaceNameLen)
	case !utf8.ValidString(name):
		return errors.New("workspace name is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return errors.New("workspace name has leading or trailing spaces")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("workspace name has control characters")
		}
	}
	return nil
}

// CreateWorkspace creates a workspace with its owner and an OWNER API key, all in one
// transaction: on any error nothing is left behind.
func (db *DB) CreateWorkspace(ctx context.Context, nw NewWorkspace) (CreatedWorkspace, error) {
	if err := ValidateWorkspaceName(nw.Name); err != nil {
		return CreatedWorkspace{}, err
	}
	if nw.OwnerName == "" {
		nw.OwnerName = "owner"
	}
	out := CreatedWorkspace{Workspace: Workspace{ID: newID(), Name: nw.Name}, OwnerID: newID()}
	key, hash, err := newAPIKey(out.ID)
	if err != nil {
		return CreatedWorkspace{}, err
	}
	err = db.InWorkspace(ctx, out.ID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, insertWorkspaceSQL, out.ID, nw.Name).Scan(&out.CreatedAt); err != nil {
			if IsUniqueViolation(err) {
				return fmt.Errorf("workspace %q: %w", nw.Name, ErrConflict)
			}
			return err
		}
		if _, err := tx.Exec(ctx, insertUserSQL, out.OwnerID, nw.OwnerName, nw.OwnerEmail); err != nil {
			if IsUniqueViolation(err) {
				return fmt.Errorf("user with email %q: %w", nw.OwnerEmail, ErrConflict)
			}
			return err
		}
		if _, err := tx.Exec(ctx, insertMemberSQL, out.ID, out.OwnerID, RoleOwner); err != nil {
			return err
		}
		var created time.Time
		return tx.QueryRow(ctx, insertAPIKeySQL, out.ID, newID(), out.OwnerID, "initial owner key", hash, RoleOwner, nil).Scan(&created)
	})
	if err != nil {
		return CreatedWorkspace{}, fmt.Errorf("create workspace: %w", err)
	}
	out.APIKey = key
	return out, nil
}

// GetWorkspace reads one workspace from the registry.
func (db *DB) GetWorkspace(ctx context.Context, id uuid.UUID) (Workspace, error) {
	return db.readWorkspace(ctx, selectWorkspaceSQL, id)
}

// FindWorkspace reads one workspace from the registry by its id or its name (case-insensitive).
func (db *DB) FindWorkspace(ctx context.Context, ref string) (Workspace, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return db.GetWorkspace(ctx, id)
	}
	return db.readWorkspace(ctx, selectWorkspaceByNameSQL, ref)
}

func (db *DB) readWorkspace(ctx context.Context, query string, ref any) (Workspace, error) {
	var w Workspace
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, query, ref).Scan(&w.ID, &w.Name, &w.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, fmt.Errorf("workspace %v: %w", ref, ErrNotFound)
	}
	return w, err
}

// ListWorkspaces lists the registry.
func (db *DB) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	var out []Workspace
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, selectWorkspacesSQL)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workspace, error) {
			var w Workspace
			return w, r.Scan(&w.ID, &w.Name, &w.CreatedAt)
		})
		return err
	})
	return out, err
}

// WorkspaceIDs lists every workspace id: what system work walks to enter each workspace.
func (db *DB) WorkspaceIDs(ctx context.Context) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, selectWorkspaceIDSQL)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	return ids, err
}

// ErrUnauthenticated: the API key is malformed, unknown, revoked or expired.
var ErrUnauthenticated = errors.New("invalid API key")

// Authenticate resolves an API key to its principal, inside the key's own workspace.
func (db *DB) Authenticate(ctx context.Context, apiKey string) (Principal, error) {
	ws, hash, ok := parseAPIKey(apiKey)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	p := Principal{WorkspaceID: ws}
	// One round trip (every API request pays it): BEGIN, the door, the lookup, COMMIT.
	b := workspaceBatch(ws)
	b.Queue(authenticateKeySQL, ws, hash).QueryRow(func(row pgx.Row) error { return row.Scan(&p.KeyID, &p.UserID, &p.Role) })
	err := db.pipeline(ctx, b)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// CreateAPIKey issues a key for a member of a workspace. expiresAt may be zero (no expiry).
func (db *DB) CreateAPIKey(ctx context.Context, ws, userID uuid.UUID, name string, role Role, expiresAt time.Time) (string, uuid.UUID, error) {
	if !role.Valid() {
		return "", uuid.Nil, fmt.Errorf("role %q is not OWNER, ADMIN, MEMBER or GUEST", role)
	}
	key, hash, err := newAPIKey(ws)
	if err != nil {
		return "", uuid.Nil, err
	}
	id := newID()
	var exp *time.Time
	if !expiresAt.IsZero() {
		exp = &expiresAt
	}
	err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var created time.Time
		return tx.QueryRow(ctx, insertAPIKeySQL, ws, id, userID, name, hash, role, exp).Scan(&created)
	})
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("create API key: %w", err)
	}
	return key, id, nil
}

// AddMember adds a new user to a workspace with a role and returns the user's id.
func (db *DB) AddMember(ctx context.Context, ws uuid.UUID, name string, role Role) (uuid.UUID, error) {
	if !role.Valid() {
		return uuid.Nil, fmt.Errorf("role %q is not OWNER, ADMIN, MEMBER or GUEST", role)
	}
	id := newID()
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertUserSQL, id, name, ""); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, insertMemberSQL, ws, id, role)
		return err
	})
	return id, err
}

// RevokeAPIKey revokes a key at once.
// An OWNER key may be revoked only by an owner (mayRevokeOwner): an ADMIN, who may not create
// one, may not lock the owner out either (ErrForbidden).
func (db *DB) RevokeAPIKey(ctx context.Context, ws, keyID uuid.UUID, mayRevokeOwner bool) error {
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var role string
		err := tx.QueryRow(ctx, `SELECT role FROM api_keys WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL FOR UPDATE`, ws, keyID).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Role(role) == RoleOwner && !mayRevokeOwner {
			return fmt.Errorf("an OWNER's key can be revoked by an owner only: %w", ErrForbidden)
		}
		_, err = tx.Exec(ctx, revokeAPIKeySQL, ws, keyID)
		return err
	})
}

// WorkspaceLimits reads a workspace's concurrency cap (0: none) and whether it is paused.
func (db *DB) WorkspaceLimits(ctx context.Context, ws uuid.UUID) (maxConcurrency int, paused bool, err error) {
	var n *int
	var pausedAt *time.Time
	err = db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, selectLimitsSQL, ws).Scan(&n, &pausedAt)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	case n == nil:
		return 0, pausedAt != nil, nil
	}
	return *n, pausedAt != nil, nil
}

// MaxConcurrencies reads workspaces' concurrency caps (absent: none), or Paused, through the
// batch door (a transaction per batchDoorWorkspaces): a worker refreshes the caps of the
// workspaces it runs tasks of together rather than each in a transaction of its own.
func (db *DB) MaxConcurrencies(ctx context.Context, wss []uuid.UUID) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int, len(wss))
	for start := 0; start < len(wss); start += batchDoorWorkspaces {
		chunk := wss[start:min(start+batchDoorWorkspaces, len(wss))]
		err := db.inWorkspaces(ctx, chunk, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, selectManyLimitsSQL, chunk)
			if err != nil {
				return err
			}
			var ws uuid.UUID
			var n *int
			var pausedAt *time.Time
			_, err = pgx.ForEachRow(rows, []any{&ws, &n, &pausedAt}, func() error {
				switch {
				case pausedAt != nil:
					out[ws] = Paused
				case n != nil:
					out[ws] = *n
				}
				return nil
			})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Paused is what MaxConcurrencies answers for a paused workspace: run nothing.
const Paused = -1

// SetWorkspacePaused pauses a workspace (workers leave its messages unclaimed and look again with
// backoff) or resumes it.
func (db *DB) SetWorkspacePaused(ctx context.Context, ws uuid.UUID, paused bool) error {
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO workspace_limits (workspace_id, paused_at) VALUES ($1, CASE WHEN $2 THEN now() END)
			ON CONFLICT (workspace_id) DO UPDATE SET paused_at = CASE WHEN $2 THEN COALESCE(workspace_limits.paused_at, now()) END,
				updated_at = now()`, ws, paused)
		return err
	})
}

// SetMaxConcurrency sets a workspace's concurrency cap across all workers (0 removes it).
func (db *DB) SetMaxConcurrency(ctx context.Context, ws uuid.UUID, n int) error {
	if n < 0 {
		return errors.New("max concurrency must be 0 (no cap) or more")
	}
	var v *int
	if n > 0 {
		v = &n
	}
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, upsertLimitsSQL, ws, v)
		return err
	})
}

// API keys read "mosk_<workspace id, 32 hex>_<secret, 43 base64url>": the workspace lets a key be
// checked inside its own RLS door; only the SHA-256 of the whole key is stored.
const apiKeyPrefix = "mosk_"

func newAPIKey(ws uuid.UUID) (key string, hash []byte, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	key = apiKeyPrefix + hex.EncodeToString(ws[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(key))
	return key, sum[:], nil
}

func parseAPIKey(key string) (uuid.UUID, []byte, bool) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok || len(rest) != 32+1+43 || rest[32] != '_' {
		return uuid.Nil, nil, false
	}
	raw, err := hex.DecodeString(rest[:32])
	if err != nil {
		return uuid.Nil, nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(rest[33:]); err != nil {
		return uuid.Nil, nil, false
	}
	ws, _ := uuid.FromBytes(raw)
	sum := sha256.Sum256([]byte(key))
	return ws, sum[:], true
}

// APIKeyWorkspace returns the workspace an API key names, without checking the key.
func APIKeyWorkspace(key string) (uuid.UUID, bool) {
	ws, _, ok := parseAPIKey(key)
	return ws, ok
}

// newID returns a UUIDv7: time-ordered, so new rows land at the end of their indexes.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// NewID returns a new time-ordered id (UUIDv7).
func NewID() uuid.UUID { return newID() }
