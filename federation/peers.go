package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/store"
)

// Peer statuses.
const (
	StatusRequested = "requested" // this instance asked; the peer's admin has not decided
	StatusPending   = "pending"   // the peer asked; this instance's admin decides
	StatusAccepted  = "accepted"
	// StatusRejected: an outgoing request the peer refused (or that expired unanswered), or an
	// incoming one this instance's admin refused (kept until PendingExpiry, so that the asker is
	// told so in a signed reply; it may ask again).
	StatusRejected = "rejected"
)

// Peer is another instance this instance knows: its public identity and what is granted to it.
type Peer struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	PublicKey string    `json:"public_key"`
	LeafKey   string    `json:"leaf_key"`
	HTTPURL   string    `json:"http_url"`
	LeafURL   string    `json:"leaf_url,omitempty"`
	Direction string    `json:"direction"` // outgoing: this instance asked; incoming: the peer did
	Status    string    `json:"status"`
	// Source is the address an incoming request to connect was posted from.
	Source    string     `json:"source,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	// Connected: the leafnode between the two instances is up.
	Connected bool `json:"connected"`
	// Grants are what this instance grants the peer.
	Grants []Grant `json:"grants"`
}

// Grant is what a peer may do in one workspace of this instance, until ExpiresAt.
type Grant struct {
	WorkspaceID  uuid.UUID `json:"workspace_id"`
	Workspace    string    `json:"workspace"`
	Capabilities []string  `json:"capabilities"`
	// TaskKinds the peer may publish (with tasks.publish); "*" is every kind a peer may publish.
	TaskKinds []string  `json:"task_kinds,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	GrantedBy string    `json:"granted_by"`
	GrantedAt time.Time `json:"granted_at"`
}

// Allows tells whether the grant, unexpired at now, gives capability (and, for tasks.publish, kind).
func (g Grant) Allows(capability, kind string, now time.Time) bool {
	if !now.Before(g.ExpiresAt) || !slices.Contains(g.Capabilities, capability) {
		return false
	}
	return capability != CapTasksPublish || slices.Contains(g.TaskKinds, "*") || slices.Contains(g.TaskKinds, kind)
}

// Capabilities.
const (
	CapKnowledgeSearch = "knowledge.search"
	CapKnowledgeRead   = "knowledge.read"
	CapTasksPublish    = "tasks.publish"
	CapTasksRead       = "tasks.read"
	CapEventsSubscribe = "events.subscribe"
)

// GrantRequest is a grant as an admin writes it.
type GrantRequest struct {
	// Workspace: a workspace of this instance, by name or id.
	Workspace string `json:"workspace"`
	// Capabilities: knowledge.search, knowledge.read, tasks.read, events.subscribe and
	// tasks.publish:<kind>[,<kind>…] (or tasks.publish:*).
	Capabilities []string `json:"capabilities"`
	// ExpiresIn: a Go duration, default 720h (30 days), at most 8760h.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// ErrInvalid wraps every refusal of an admin's input.
var ErrInvalid = errors.New("invalid")

// ErrCredentials: nothing about credentials is ever granted or answered.
var ErrCredentials = errors.New("credentials are never federated: no grant gives them and no peer is answered about them")

// DefaultGrantExpiry and MaxGrantExpiry bound a grant's life.
const (
	DefaultGrantExpiry = 30 * 24 * time.Hour
	MaxGrantExpiry     = 365 * 24 * time.Hour
)

// ParseCapabilities checks a grant's capabilities and splits out the task kinds of tasks.publish.
func ParseCapabilities(in []string) (caps, kinds []string, err error) {
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("%w: a grant needs at least one capability (%s)", ErrInvalid, strings.Join(Capabilities, ", "))
	}
	for _, c := range in {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(c), ":")
		switch {
		case strings.Contains(strings.ToLower(c), "credential"):
			return nil, nil, fmt.Errorf("%w: %q: %w", ErrInvalid, c, ErrCredentials)
		case !slices.Contains(Capabilities, name):
			return nil, nil, fmt.Errorf("%w: capability %q is not one of %s", ErrInvalid, c, strings.Join(Capabilities, ", "))
		case name == CapTasksPublish && (!hasArg || arg == ""):
			return nil, nil, fmt.Errorf("%w: tasks.publish names the kinds a peer may publish: tasks.publish:<kind>[,<kind>…] or tasks.publish:*", ErrInvalid)
		case name != CapTasksPublish && hasArg:
			return nil, nil, fmt.Errorf("%w: capability %q takes no argument", ErrInvalid, c)
		}
		if !slices.Contains(caps, name) {
			caps = append(caps, name)
		}
		for _, k := range strings.Split(arg, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			if k != "*" && !validKind(k) {
				return nil, nil, fmt.Errorf("%w: task kind %q is not a kind (lowercase words joined by dots)", ErrInvalid, k)
			}
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	return caps, kinds, nil
}

func validKind(k string) bool {
	if len(k) > 128 || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

const peerColumns = `id, name, public_key, leaf_key, http_url, coalesce(leaf_url, ''), direction, status, coalesce(source, ''), created_at, decided_at`

func scanPeer(row pgx.Row) (Peer, error) {
	var p Peer
	err := row.Scan(&p.ID, &p.Name, &p.PublicKey, &p.LeafKey, &p.HTTPURL, &p.LeafURL, &p.Direction, &p.Status, &p.Source, &p.CreatedAt, &p.DecidedAt)
	return p, err
}

// peers lists every peer (and every request to connect) with its grants.
func peers(ctx context.Context, db *store.DB) ([]Peer, error) {
	var out []Peer
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+peerColumns+` FROM federation_peers ORDER BY created_at`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Peer, error) { return scanPeer(r) })
		if err != nil {
			return err
		}
		for i := range out {
			if err := withGrants(ctx, tx, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// linked says whether a peer's id and name are its own here: it is a peer this instance asked or
// accepted. A request to connect (pending, or rejected) is known only by its key: anyone can ask
// under any id and name, and several requests may carry the same.
func linked(status string) bool { return status == StatusRequested || status == StatusAccepted }

// withGrants reads what is granted to p (grants go to the linked peer of an id, never to a
// request that carries the same id).
func withGrants(ctx context.Context, tx pgx.Tx, p *Peer) error {
	if !linked(p.Status) {
		p.Grants = []Grant{}
		return nil
	}
	var err error
	p.Grants, err = grants(ctx, tx, p.ID)
	return err
}

// findPeer finds a peer by its key (or the key's first MinKeyRef characters), id or name
// (case-insensitive). An id or a name is the linked peer's when there is one; otherwise it must
// name exactly one request to connect.
func findPeer(ctx context.Context, db *store.DB, ref string) (Peer, error) {
	var p Peer
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var where string
		var arg any = ref
		switch id, perr := uuid.Parse(ref); {
		case perr == nil:
			where, arg = `id = $1`, id
		case isKeyRef(ref):
			where = `starts_with(public_key, $1)`
		default:
			where = `lower(name) = lower($1)`
		}
		rows, err := tx.Query(ctx, `SELECT `+peerColumns+` FROM federation_peers WHERE `+where+`
			ORDER BY status IN ('requested', 'accepted') DESC, created_at LIMIT 10`, arg)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Peer, error) { return scanPeer(r) })
		switch {
		case err != nil:
			return err
		case len(found) == 0:
			return store.ErrNotFound
		case len(found) > 1 && isKeyRef(ref):
			return fmt.Errorf("%w: %d peers' keys start with %s: give more of the key", ErrInvalid, len(found), ref)
		case len(found) > 1 && !linked(found[0].Status):
			return fmt.Errorf("%w: %d requests to connect carry %q: name one by its key (mosaic federation list)", ErrInvalid, len(found), ref)
		}
		p = found[0]
		return withGrants(ctx, tx, &p)
	})
	return p, err
}

// MinKeyRef is how much of a peer's public key names it (the key's first characters, as
// `mosaic federation list` shows them).
const MinKeyRef = 12

// isKeyRef says whether ref is (the start of) an nkeys server public key: "N" and base32.
func isKeyRef(ref string) bool {
	if len(ref) < MinKeyRef || len(ref) > 56 || ref[0] != 'N' {
		return false
	}
	for _, c := range ref {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// peerByID finds the linked peer with this id (or the one request to connect that carries it).
func peerByID(ctx context.Context, db *store.DB, id uuid.UUID) (Peer, error) {
	return findPeer(ctx, db, id.String())
}

// requestsByID lists every peer and request to connect that carries this id.
func requestsByID(ctx context.Context, db *store.DB, id uuid.UUID) ([]Peer, error) {
	var out []Peer
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+peerColumns+` FROM federation_peers WHERE id = $1 ORDER BY created_at LIMIT $2`, id, MaxPending+1)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Peer, error) { return scanPeer(r) })
		return err
	})
	return out, err
}

func grants(ctx context.Context, tx pgx.Tx, peer uuid.UUID) ([]Grant, error) {
	rows, err := tx.Query(ctx, `SELECT g.workspace, w.name, g.capabilities, g.task_kinds, g.expires_at, g.granted_by, g.granted_at
		FROM federation_grants g JOIN workspaces w ON w.id = g.workspace WHERE g.peer_id = $1 ORDER BY w.name`, peer)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) {
		var g Grant
		err := r.Scan(&g.WorkspaceID, &g.Workspace, &g.Capabilities, &g.TaskKinds, &g.ExpiresAt, &g.GrantedBy, &g.GrantedAt)
		return g, err
	})
	if out == nil {
		out = []Grant{}
	}
	return out, err
}

func insertPeer(ctx context.Context, db *store.DB, p Peer) error {
	return knownAlready(db.AsSystem(ctx, func(tx pgx.Tx) error { return insertPeerTx(ctx, tx, p) }))
}

func insertPeerTx(ctx context.Context, tx pgx.Tx, p Peer) error {
	_, err := tx.Exec(ctx, `INSERT INTO federation_peers (id, name, public_key, leaf_key, http_url, leaf_url, direction, status, source)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, nullif($9, ''))`, p.ID, p.Name, p.PublicKey, p.LeafKey, p.HTTPURL, p.LeafURL, p.Direction, p.Status, p.Source)
	return err
}

// knownAlready says what a unique violation on federation_peers means.
func knownAlready(err error) error {
	if store.IsUniqueViolation(err) {
		return fmt.Errorf("%w: a peer with this id, name or key is known already (see mosaic federation list)", ErrConflict)
	}
	return err
}

// insertPending records a peer's request to connect: requests older than PendingExpiry are
// forgotten first, and at most MaxPending wait (counted and inserted under one lock).
func insertPending(ctx context.Context, db *store.DB, p Peer) error {
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('mosaic federation pending'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM federation_peers WHERE status IN ('pending', 'rejected') AND direction = 'incoming'
			AND created_at < now() - $1::bigint * interval '1 millisecond'`,
			PendingExpiry.Milliseconds()); err != nil {
			return err
		}
		var pending, fromSource int
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE source = $1) FROM federation_peers WHERE status = 'pending'`,
			p.Source).Scan(&pending, &fromSource); err != nil {
			return err
		}
		if fromSource >= MaxPendingPerSource {
			return fmt.Errorf("%w: %d requests to connect from %s wait already", ErrTooMany, fromSource, p.Source)
		}
		if pending >= MaxPending {
			// Full: the oldest request of the address holding the most (more than one) gives way; a
			// queue of one request per address refuses the newcomer instead.
			tag, err := tx.Exec(ctx, `DELETE FROM federation_peers WHERE id = (
				SELECT id FROM federation_peers WHERE status = 'pending' AND source = (
					SELECT source FROM federation_peers WHERE status = 'pending' AND source IS NOT NULL
					GROUP BY source HAVING count(*) > 1 ORDER BY count(*) DESC, min(created_at) LIMIT 1)
				ORDER BY created_at LIMIT 1)`)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("%w: %d requests to connect wait already; try later", ErrConflict, pending)
			}
		}
		return insertPeerTx(ctx, tx, p)
	})
	return knownAlready(err)
}

// setStatus moves the peer with this public key from one status to another.
func setStatus(ctx context.Context, db *store.DB, key, from, to string) error {
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE federation_peers SET status = $3, decided_at = now() WHERE public_key = $1 AND status = $2`, key, from, to)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: the peer is not %s", ErrConflict, from)
		}
		return err
	})
	return knownAlready(err)
}

// deletePeer forgets the peer (or request to connect) with this public key: its identity and,
// for a linked peer, every grant to it.
func deletePeer(ctx context.Context, db *store.DB, key string) (bool, error) {
	var gone bool
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var id uuid.UUID
		var status string
		err := tx.QueryRow(ctx, `DELETE FROM federation_peers WHERE public_key = $1 RETURNING id, status`, key).Scan(&id, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		gone = true
		if linked(status) {
			_, err = tx.Exec(ctx, `DELETE FROM federation_grants WHERE peer_id = $1`, id)
		}
		return err
	})
	return gone, err
}

// putGrant writes the grant of one workspace to a peer (replacing the one there was).
func putGrant(ctx context.Context, tx pgx.Tx, peer uuid.UUID, r GrantRequest, by string, now time.Time) error {
	caps, kinds, err := ParseCapabilities(r.Capabilities)
	if err != nil {
		return err
	}
	life := DefaultGrantExpiry
	if r.ExpiresIn != "" {
		if life, err = time.ParseDuration(r.ExpiresIn); err != nil || life <= 0 || life > MaxGrantExpiry {
			return fmt.Errorf("%w: expires_in %q is not a duration between 1s and %s", ErrInvalid, r.ExpiresIn, MaxGrantExpiry)
		}
	}
	ws, err := workspaceRef(ctx, tx, r.Workspace)
	if err != nil {
		return err
	}
	if kinds == nil {
		kinds = []string{}
	}
	_, err = tx.Exec(ctx, `INSERT INTO federation_grants (peer_id, workspace, capabilities, task_kinds, expires_at, granted_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (peer_id, workspace) DO UPDATE SET capabilities = $3, task_kinds = $4, expires_at = $5, granted_by = $6, granted_at = now()`,
		peer, ws, caps, kinds, now.Add(life), by)
	return err
}

// workspaceRef finds a workspace of this instance by id or name.
func workspaceRef(ctx context.Context, tx pgx.Tx, ref string) (uuid.UUID, error) {
	if strings.TrimSpace(ref) == "" {
		return uuid.Nil, fmt.Errorf("%w: a grant names a workspace of this instance", ErrInvalid)
	}
	var id uuid.UUID
	var err error
	if parsed, perr := uuid.Parse(ref); perr == nil {
		err = tx.QueryRow(ctx, `SELECT id FROM workspaces WHERE id = $1`, parsed).Scan(&id)
	} else {
		err = tx.QueryRow(ctx, `SELECT id FROM workspaces WHERE lower(name) = lower($1)`, ref).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("%w: no workspace %q here", ErrInvalid, ref)
	}
	return id, err
}

// ErrConflict: the peer is not in the state the operation needs.
var ErrConflict = errors.New("conflict")
