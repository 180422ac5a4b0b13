package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// FederationIdentity is this instance's identity as stored: its signing key (an nkeys seed) only
// as ciphertext. One row.
type FederationIdentity struct {
	ID   uuid.UUID
	Name string
	// PublicKey is the nkeys server public key ("N…").
	PublicKey string
	// SeedCiphertext is the seed sealed with the mosaic-federation Transit key.
	SeedCiphertext string
	CreatedAt      time.Time
}

// Federation peer statuses (federation_peers.status).
const (
	PeerRequested = "requested" // this instance asked; the peer's admin has not decided
	PeerPending   = "pending"   // the peer asked; this instance's admin decides
	PeerAccepted  = "accepted"
	PeerRejected  = "rejected"
)

// FederationCapabilities are what a grant may allow a peer: federation_grants' CHECK (migration
// 00007) accepts these and no other, and TestFederationSchemaAcceptsWhatGoKnows holds the two
// together. None touches credentials: they never cross to another instance.
var FederationCapabilities = []string{"knowledge.search", "knowledge.read", "tasks.publish", "tasks.read", "events.subscribe"}

// PeerLinked says whether a peer in status has its id and name as its own here: it is a peer this
// instance asked or accepted. A request to connect (pending, or rejected) is known only by its
// key: anyone can ask under any id and name, and several requests may carry the same.
func PeerLinked(status string) bool { return status == PeerRequested || status == PeerAccepted }

// FederationPeer is another instance this instance knows, or a request to connect from one, as
// stored: its public identity and what is granted to it.
type FederationPeer struct {
	ID        uuid.UUID  `db:"id"`
	Name      string     `db:"name"`
	PublicKey string     `db:"public_key"`
	LeafKey   string     `db:"leaf_key"`
	HTTPURL   string     `db:"http_url"`
	LeafURL   string     `db:"leaf_url"`  // "": none
	Direction string     `db:"direction"` // outgoing: this instance asked; incoming: the peer did
	Status    string     `db:"status"`
	Source    string     `db:"source"` // the address an incoming request to connect was posted from ("": none)
	CreatedAt time.Time  `db:"created_at"`
	DecidedAt *time.Time `db:"decided_at"`
	// Grants are what this instance grants the peer, where the method that read it says so (nil
	// where it does not).
	Grants []FederationGrant `db:"-"`
}

// FederationGrant is what a peer may do in one workspace of this instance, until ExpiresAt, as
// stored.
type FederationGrant struct {
	WorkspaceID uuid.UUID
	// Workspace is the workspace's name (read, never written).
	Workspace    string
	Capabilities []string
	// TaskKinds the peer may publish (with tasks.publish); "*" is every kind a peer may publish.
	TaskKinds []string
	ExpiresAt time.Time
	GrantedBy string
	// GrantedAt is when the grant was written (read, never written: now).
	GrantedAt time.Time
}

// GetFederationIdentity reads this instance's identity (ErrNotFound: it has none yet).
func (db *DB) GetFederationIdentity(ctx context.Context) (FederationIdentity, error) {
	var id FederationIdentity
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, selectFederationIdentitySQL).Scan(&id.ID, &id.Name, &id.PublicKey, &id.SeedCiphertext, &id.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return FederationIdentity{}, fmt.Errorf("federation identity: %w", ErrNotFound)
	}
	return id, err
}

// CreateFederationIdentity stores this instance's identity (its CreatedAt is the database's) and
// returns it. ErrConflict: the instance has one already (another process created it first).
func (db *DB) CreateFederationIdentity(ctx context.Context, id FederationIdentity) (FederationIdentity, error) {
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, insertFederationIdentitySQL, id.ID, id.Name, id.PublicKey, id.SeedCiphertext).Scan(&id.CreatedAt)
	})
	if IsUniqueViolation(err) {
		return FederationIdentity{}, fmt.Errorf("federation identity: %w", ErrConflict)
	}
	return id, err
}

// ListFederationPeers lists every peer and request to connect, oldest first; linked peers come
// with their grants, requests to connect with none (grants go to the linked peer of an id, never
// to a request that carries the same id).
func (db *DB) ListFederationPeers(ctx context.Context) ([]FederationPeer, error) {
	return db.federationPeers(ctx, true, selectFederationPeersSQL)
}

// PeerLookup says which peers FindFederationPeers finds: those with the instance id ID when it is
// set, else those whose public key starts with KeyPrefix when it is set, else those named Name
// (case-insensitive).
type PeerLookup struct {
	ID        uuid.UUID
	KeyPrefix string
	Name      string
}

// FindFederationPeers finds at most limit peers and requests to connect by lookup: the linked peer
// first (an id or a name is its own when there is one), then the oldest. Linked peers come with
// their grants, as in ListFederationPeers. None found is no error.
func (db *DB) FindFederationPeers(ctx context.Context, lookup PeerLookup, limit int) ([]FederationPeer, error) {
	query, arg := findFederationPeersByNameSQL, any(lookup.Name)
	switch {
	case lookup.ID != uuid.Nil:
		query, arg = findFederationPeersByIDSQL, lookup.ID
	case lookup.KeyPrefix != "":
		query, arg = findFederationPeersByKeySQL, lookup.KeyPrefix
	}
	return db.federationPeers(ctx, true, query, arg, limit)
}

// FederationPeersWithID lists at most limit peers and requests to connect that carry the instance
// id id, oldest first, without their grants.
func (db *DB) FederationPeersWithID(ctx context.Context, id uuid.UUID, limit int) ([]FederationPeer, error) {
	return db.federationPeers(ctx, false, selectFederationPeersWithIDSQL, id, limit)
}

// federationPeers runs a query of federationPeerColumns through the system door and, withGrants,
// reads what is granted to each linked peer in the same transaction (a request to connect gets
// an empty list).
func (db *DB) federationPeers(ctx context.Context, withGrants bool, query string, args ...any) ([]FederationPeer, error) {
	var out []FederationPeer
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[FederationPeer](ctx, tx, query, args...)
		if err != nil || !withGrants {
			return err
		}
		for i := range out {
			if !PeerLinked(out[i].Status) {
				out[i].Grants = []FederationGrant{}
				continue
			}
			if out[i].Grants, err = federationGrants(ctx, tx, out[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func federationGrants(ctx context.Context, tx pgx.Tx, peer uuid.UUID) ([]FederationGrant, error) {
	rows, err := tx.Query(ctx, selectFederationGrantsSQL, peer)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FederationGrant, error) {
		var g FederationGrant
		err := r.Scan(&g.WorkspaceID, &g.Workspace, &g.Capabilities, &g.TaskKinds, &g.ExpiresAt, &g.GrantedBy, &g.GrantedAt)
		return g, err
	})
}

// InsertFederationPeer records a peer (its grants are written apart). ErrConflict: a peer with
// its key, or a linked peer with its id or name, is known already.
func (db *DB) InsertFederationPeer(ctx context.Context, p FederationPeer) error {
	return peerConflict(p.PublicKey, db.AsSystem(ctx, func(tx pgx.Tx) error { return insertFederationPeer(ctx, tx, p) }))
}

func insertFederationPeer(ctx context.Context, tx pgx.Tx, p FederationPeer) error {
	_, err := tx.Exec(ctx, insertFederationPeerSQL, p.ID, p.Name, p.PublicKey, p.LeafKey, p.HTTPURL, p.LeafURL, p.Direction, p.Status, p.Source)
	return err
}

// peerConflict maps a unique violation on federation_peers to ErrConflict.
func peerConflict(key string, err error) error {
	if IsUniqueViolation(err) {
		return fmt.Errorf("federation peer %s: %w", key, ErrConflict)
	}
	return err
}

// RequestQueue bounds the incoming requests to connect that wait for this instance's admin.
type RequestQueue struct {
	// Max is how many requests may be pending at once.
	Max int
	// MaxPerSource is how many of them may come from one source.
	MaxPerSource int
	// Expiry: an incoming request (pending or rejected) older than this is forgotten.
	Expiry time.Duration
}

// QueueFederationRequest records p, an incoming request to connect (pending), within q, in one
// transaction under the queue's lock: requests past q.Expiry are forgotten first; a source with
// q.MaxPerSource requests waiting is refused; a full queue makes room by dropping the oldest
// request of the source holding the most (more than one), and refuses p when every source holds
// one. A refusal is a *QueueFullError; ErrConflict is as for InsertFederationPeer.
func (db *DB) QueueFederationRequest(ctx context.Context, p FederationPeer, q RequestQueue) error {
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockFederationRequestsSQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, expireFederationRequestsSQL, q.Expiry.Milliseconds()); err != nil {
			return err
		}
		full := &QueueFullError{Source: p.Source}
		if err := tx.QueryRow(ctx, countFederationRequestsSQL, p.Source).Scan(&full.Pending, &full.FromSource); err != nil {
			return err
		}
		if full.FromSource >= q.MaxPerSource {
			full.BySource = true
			return full
		}
		if full.Pending >= q.Max {
			tag, err := tx.Exec(ctx, evictFederationRequestSQL)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return full
			}
		}
		return insertFederationPeer(ctx, tx, p)
	})
	return peerConflict(p.PublicKey, err)
}

// SetFederationPeerStatus moves the peer with public key key from status from to status to.
// ErrNotFound: no peer with that key is in status from; ErrConflict: another linked peer has its
// id or name.
func (db *DB) SetFederationPeerStatus(ctx context.Context, key, from, to string) error {
	return peerConflict(key, db.AsSystem(ctx, func(tx pgx.Tx) error {
		_, err := setFederationPeerStatus(ctx, tx, key, from, to)
		return err
	}))
}

func setFederationPeerStatus(ctx context.Context, tx pgx.Tx, key, from, to string) (uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, setFederationPeerStatusSQL, key, from, to).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, fmt.Errorf("federation peer %s is not %s: %w", key, from, ErrNotFound)
	}
	return id, err
}

// AcceptFederationPeer accepts the pending peer with public key key and writes its first grants
// (as PutFederationGrant), all in one transaction. Errors as SetFederationPeerStatus.
func (db *DB) AcceptFederationPeer(ctx context.Context, key string, grants []FederationGrant) error {
	return peerConflict(key, db.AsSystem(ctx, func(tx pgx.Tx) error {
		id, err := setFederationPeerStatus(ctx, tx, key, PeerPending, PeerAccepted)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if err := putFederationGrant(ctx, tx, id, g); err != nil {
				return err
			}
		}
		return nil
	}))
}

// DeleteFederationPeer forgets the peer (or request to connect) with public key key: its identity
// and, for a linked peer, every grant to it. It says whether there was one.
func (db *DB) DeleteFederationPeer(ctx context.Context, key string) (bool, error) {
	var gone bool
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var id uuid.UUID
		var status string
		err := tx.QueryRow(ctx, deleteFederationPeerSQL, key).Scan(&id, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		gone = true
		if PeerLinked(status) {
			_, err = tx.Exec(ctx, deleteFederationGrantsSQL, id)
		}
		return err
	})
	return gone, err
}

// PutFederationGrant writes what the peer with instance id peer may do in workspace
// g.WorkspaceID, replacing the grant there was (g.Workspace and g.GrantedAt are not written: the
// grant is granted now).
func (db *DB) PutFederationGrant(ctx context.Context, peer uuid.UUID, g FederationGrant) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error { return putFederationGrant(ctx, tx, peer, g) })
}

func putFederationGrant(ctx context.Context, tx pgx.Tx, peer uuid.UUID, g FederationGrant) error {
	kinds := g.TaskKinds
	if kinds == nil {
		kinds = []string{}
	}
	_, err := tx.Exec(ctx, upsertFederationGrantSQL, peer, g.WorkspaceID, g.Capabilities, kinds, g.ExpiresAt, g.GrantedBy)
	return err
}

// DeleteFederationGrant removes the grant of workspace ws to the peer with instance id peer
// (ErrNotFound: there is none).
func (db *DB) DeleteFederationGrant(ctx context.Context, peer, ws uuid.UUID) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteFederationGrantSQL, peer, ws)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("federation grant of workspace %s: %w", ws, ErrNotFound)
		}
		return err
	})
}
