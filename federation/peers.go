package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Peer statuses.
const (
	StatusRequested = store.PeerRequested // this instance asked; the peer's admin has not decided
	StatusPending   = store.PeerPending   // the peer asked; this instance's admin decides
	StatusAccepted  = store.PeerAccepted
	// StatusRejected: an outgoing request the peer refused (or that expired unanswered), or an
	// incoming one this instance's admin refused (kept until PendingExpiry, so that the asker is
	// told so in a signed reply; it may ask again).
	StatusRejected = store.PeerRejected
)

// Peer (mosaictype.Peer) is another instance this instance knows: its public identity and what is
// granted to it.
type Peer = mosaictype.Peer

// Grant (mosaictype.Grant) is what a peer may do in one workspace of this instance, until
// ExpiresAt.
type Grant = mosaictype.Grant

// Allows tells whether grant g, unexpired at now, gives capability (and, for tasks.publish,
// kind).
func Allows(g Grant, capability, kind string, now time.Time) bool {
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

// GrantRequest (mosaictype.GrantRequest) is a grant as an admin writes it.
type GrantRequest = mosaictype.GrantRequest

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

// peers lists every peer (and every request to connect) with its grants.
func peers(ctx context.Context, db *store.DB) ([]Peer, error) {
	rows, err := db.ListFederationPeers(ctx)
	return peersOf(rows), err
}

// peerOf is the peer a stored one shows (its Connected is the node's to fill in). A stored grant
// converts to a Grant: the two have the same fields, which the compiler holds them to.
func peerOf(r store.FederationPeer) Peer {
	p := Peer{ID: r.ID, Name: r.Name, PublicKey: r.PublicKey, LeafKey: r.LeafKey, HTTPURL: r.HTTPURL, LeafURL: r.LeafURL,
		Direction: r.Direction, Status: r.Status, Source: r.Source, CreatedAt: r.CreatedAt, DecidedAt: r.DecidedAt}
	if r.Grants != nil {
		p.Grants = make([]Grant, len(r.Grants))
		for i, g := range r.Grants {
			p.Grants[i] = Grant(g)
		}
	}
	return p
}

func peersOf(rows []store.FederationPeer) []Peer {
	if rows == nil {
		return nil
	}
	out := make([]Peer, len(rows))
	for i, r := range rows {
		out[i] = peerOf(r)
	}
	return out
}

// findPeer finds a peer by its key (or the key's first MinKeyRef characters), id or name
// (case-insensitive). An id or a name is the linked peer's when there is one; otherwise it must
// name exactly one request to connect.
func findPeer(ctx context.Context, db *store.DB, ref string) (Peer, error) {
	var by store.PeerLookup
	switch id, perr := uuid.Parse(ref); {
	case perr == nil:
		by.ID = id
	case isKeyRef(ref):
		by.KeyPrefix = ref
	default:
		by.Name = ref
	}
	found, err := db.FindFederationPeers(ctx, by, 10)
	switch {
	case err != nil:
		return Peer{}, err
	case len(found) == 0:
		return Peer{}, store.ErrNotFound
	case len(found) > 1 && isKeyRef(ref):
		return Peer{}, fmt.Errorf("%w: %d peers' keys start with %s: give more of the key", ErrInvalid, len(found), ref)
	case len(found) > 1 && !store.PeerLinked(found[0].Status):
		return Peer{}, fmt.Errorf("%w: %d requests to connect carry %q: name one by its key (mosaic federation list)", ErrInvalid, len(found), ref)
	}
	return peerOf(found[0]), nil
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

// requestsByID lists every peer and request to connect that carries this id (without grants).
func requestsByID(ctx context.Context, db *store.DB, id uuid.UUID) ([]Peer, error) {
	rows, err := db.FederationPeersWithID(ctx, id, MaxPending+1)
	return peersOf(rows), err
}

// stored is the peer as the store keeps it (without its grants, which are written apart).
func stored(p Peer) store.FederationPeer {
	return store.FederationPeer{ID: p.ID, Name: p.Name, PublicKey: p.PublicKey, LeafKey: p.LeafKey, HTTPURL: p.HTTPURL, LeafURL: p.LeafURL,
		Direction: p.Direction, Status: p.Status, Source: p.Source, CreatedAt: p.CreatedAt, DecidedAt: p.DecidedAt}
}

func insertPeer(ctx context.Context, db *store.DB, p Peer) error {
	return knownAlready(db.InsertFederationPeer(ctx, stored(p)))
}

// knownAlready says what a conflict on federation_peers means.
func knownAlready(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: a peer with this id, name or key is known already (see mosaic federation list)", ErrConflict)
	}
	return err
}

// insertPending records a peer's request to connect: requests older than PendingExpiry are
// forgotten first, and at most MaxPending wait (MaxPendingPerSource from one address).
func insertPending(ctx context.Context, db *store.DB, p Peer) error {
	err := db.QueueFederationRequest(ctx, stored(p), store.RequestQueue{Max: MaxPending, MaxPerSource: MaxPendingPerSource, Expiry: PendingExpiry})
	var full *store.QueueFullError
	switch {
	case errors.As(err, &full) && full.BySource:
		return fmt.Errorf("%w: %v", ErrTooMany, full)
	case errors.As(err, &full):
		return fmt.Errorf("%w: %v; try later", ErrConflict, full)
	}
	return knownAlready(err)
}

// setStatus moves the peer with this public key from one status to another.
func setStatus(ctx context.Context, db *store.DB, key, from, to string) error {
	err := db.SetFederationPeerStatus(ctx, key, from, to)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: the peer is not %s", ErrConflict, from)
	}
	return knownAlready(err)
}

// newGrant checks a grant as an admin wrote it and makes it the grant to store.
func newGrant(ctx context.Context, db *store.DB, r GrantRequest, by string, now time.Time) (store.FederationGrant, error) {
	caps, kinds, err := ParseCapabilities(r.Capabilities)
	if err != nil {
		return store.FederationGrant{}, err
	}
	life := DefaultGrantExpiry
	if r.ExpiresIn != "" {
		if life, err = time.ParseDuration(r.ExpiresIn); err != nil || life <= 0 || life > MaxGrantExpiry {
			return store.FederationGrant{}, fmt.Errorf("%w: expires_in %q is not a duration between 1s and %s", ErrInvalid, r.ExpiresIn, MaxGrantExpiry)
		}
	}
	ws, err := workspaceRef(ctx, db, r.Workspace)
	if err != nil {
		return store.FederationGrant{}, err
	}
	return store.FederationGrant{WorkspaceID: ws, Capabilities: caps, TaskKinds: kinds, ExpiresAt: now.Add(life), GrantedBy: by}, nil
}

// workspaceRef finds a workspace of this instance by id or name.
func workspaceRef(ctx context.Context, db *store.DB, ref string) (uuid.UUID, error) {
	if strings.TrimSpace(ref) == "" {
		return uuid.Nil, fmt.Errorf("%w: a grant names a workspace of this instance", ErrInvalid)
	}
	w, err := db.FindWorkspace(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return uuid.Nil, fmt.Errorf("%w: no workspace %q here", ErrInvalid, ref)
	}
	return w.ID, err
}

// ErrConflict: the peer is not in the state the operation needs.
var ErrConflict = errors.New("conflict")
