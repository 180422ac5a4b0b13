package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// fakeKey is an nkeys-shaped public key (kind 'N' or 'U') that differs from the others in its
// second character.
func fakeKey(kind byte, i int) string {
	return string(kind) + string(rune('A'+i)) + strings.Repeat("A", 54)
}

func TestFederationPeersAndGrants(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t) // the peers are the instance's, not a workspace's
	ws, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "Home"})
	if err != nil {
		t.Fatal(err)
	}
	peer := func(i int, status, direction, source string) store.FederationPeer {
		return store.FederationPeer{ID: uuid.New(), Name: "alpha", PublicKey: fakeKey('N', i), LeafKey: fakeKey('U', i),
			HTTPURL: "http://alpha:8080", Direction: direction, Status: status, Source: source}
	}
	queue := store.RequestQueue{Max: 2, MaxPerSource: 1, Expiry: time.Hour}

	linked := peer(0, store.PeerRequested, "outgoing", "")
	if err := db.InsertFederationPeer(ctx, linked); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertFederationPeer(ctx, linked); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the same key again: %v; want ErrConflict", err)
	}
	// A request to connect under a linked peer's id and name waits beside it.
	stranger := peer(1, store.PeerPending, "incoming", "10.0.0.1")
	stranger.ID = linked.ID
	if err := db.QueueFederationRequest(ctx, stranger, queue); err != nil {
		t.Fatal(err)
	}
	for _, by := range []store.PeerLookup{{ID: linked.ID}, {Name: "ALPHA"}} {
		found, err := db.FindFederationPeers(ctx, by, 10)
		if err != nil || len(found) != 2 || found[0].PublicKey != linked.PublicKey || found[0].Grants == nil || found[1].Grants == nil {
			t.Fatalf("find %+v: %+v %v; want the linked peer first, then the request, each with its (empty) grants", by, found, err)
		}
	}
	if found, err := db.FindFederationPeers(ctx, store.PeerLookup{KeyPrefix: stranger.PublicKey[:12]}, 10); err != nil || len(found) != 1 || found[0].Source != "10.0.0.1" {
		t.Fatalf("find by key prefix: %+v %v; want the request", found, err)
	}

	// The queue: one request per source, two in all, none giving way while each source holds one.
	var full *store.QueueFullError
	if err := db.QueueFederationRequest(ctx, peer(2, store.PeerPending, "incoming", "10.0.0.1"), queue); !errors.As(err, &full) || !full.BySource || full.FromSource != 1 {
		t.Fatalf("a second request from one source: %v; want QueueFullError by source", err)
	}
	if err := db.QueueFederationRequest(ctx, peer(3, store.PeerPending, "incoming", "10.0.0.2"), queue); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueFederationRequest(ctx, peer(4, store.PeerPending, "incoming", "10.0.0.3"), queue); !errors.As(err, &full) || full.BySource || full.Pending != 2 {
		t.Fatalf("a request to a full queue: %v; want QueueFullError of the queue", err)
	}

	if err := db.SetFederationPeerStatus(ctx, linked.PublicKey, store.PeerRequested, store.PeerAccepted); err != nil {
		t.Fatal(err)
	}
	if err := db.SetFederationPeerStatus(ctx, linked.PublicKey, store.PeerRequested, store.PeerAccepted); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a status change from a status the peer is not in: %v; want ErrNotFound", err)
	}
	// The request cannot be accepted as a second peer with the linked peer's id.
	if err := db.AcceptFederationPeer(ctx, stranger.PublicKey, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("accept a request under a linked peer's id: %v; want ErrConflict", err)
	}

	g := store.FederationGrant{WorkspaceID: ws.ID, Capabilities: []string{"tasks.publish"}, TaskKinds: []string{"demo.echo"},
		ExpiresAt: time.Now().Add(time.Hour), GrantedBy: "admin"}
	if err := db.PutFederationGrant(ctx, linked.ID, g); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListFederationPeers(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("list: %+v %v; want the peer and two requests", all, err)
	}
	if got := all[0].Grants; len(got) != 1 || got[0].Workspace != "Home" || got[0].WorkspaceID != ws.ID ||
		!slices.Equal(got[0].TaskKinds, []string{"demo.echo"}) || got[0].GrantedAt.IsZero() {
		t.Fatalf("the peer's grants: %+v", got)
	}
	if len(all[1].Grants) != 0 {
		t.Fatalf("a request under the peer's id has its grants: %+v", all[1].Grants)
	}
	if withID, err := db.FederationPeersWithID(ctx, linked.ID, 10); err != nil || len(withID) != 2 || withID[0].Grants != nil ||
		withID[0].PublicKey != linked.PublicKey {
		t.Fatalf("peers with the id: %+v %v; want both, without grants", withID, err)
	}
	if err := db.DeleteFederationGrant(ctx, linked.ID, ws.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteFederationGrant(ctx, linked.ID, ws.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a grant twice: %v; want ErrNotFound", err)
	}

	// Forgetting the linked peer takes its grants; the request may then be accepted, with its own.
	if err := db.PutFederationGrant(ctx, linked.ID, g); err != nil {
		t.Fatal(err)
	}
	if gone, err := db.DeleteFederationPeer(ctx, linked.PublicKey); !gone || err != nil {
		t.Fatalf("delete the peer: %v %v", gone, err)
	}
	if gone, err := db.DeleteFederationPeer(ctx, linked.PublicKey); gone || err != nil {
		t.Fatalf("delete the peer again: %v %v; want nothing gone", gone, err)
	}
	g.Capabilities, g.TaskKinds = []string{"knowledge.search"}, nil
	if err := db.AcceptFederationPeer(ctx, stranger.PublicKey, []store.FederationGrant{g}); err != nil {
		t.Fatal(err)
	}
	found, err := db.FindFederationPeers(ctx, store.PeerLookup{ID: stranger.ID}, 10)
	if err != nil || len(found) != 1 || found[0].Status != store.PeerAccepted || len(found[0].Grants) != 1 ||
		found[0].Grants[0].Capabilities[0] != "knowledge.search" || found[0].DecidedAt == nil {
		t.Fatalf("the accepted request: %+v %v; want it accepted with its one grant", found, err)
	}

	// Requests past the expiry are forgotten before a new one is counted.
	if err := db.QueueFederationRequest(ctx, peer(4, store.PeerPending, "incoming", "10.0.0.3"), store.RequestQueue{Max: 1, MaxPerSource: 1}); err != nil {
		t.Fatalf("a request once the others expired: %v", err)
	}
	if all, err := db.ListFederationPeers(ctx); err != nil || len(all) != 2 {
		t.Fatalf("after expiry: %+v %v; want the accepted peer and the new request", all, err)
	}
}

func TestFederationIdentity(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t) // one identity per database
	if _, err := db.GetFederationIdentity(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no identity yet: %v; want ErrNotFound", err)
	}
	id := store.FederationIdentity{ID: uuid.New(), Name: "work", PublicKey: fakeKey('N', 0), SeedCiphertext: "mosaic-local:v1:c2VlZA=="}
	created, err := db.CreateFederationIdentity(ctx, id)
	if err != nil || created.CreatedAt.IsZero() {
		t.Fatalf("create: %+v %v", created, err)
	}
	other := id
	other.ID = uuid.New()
	if _, err := db.CreateFederationIdentity(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second identity: %v; want ErrConflict", err)
	}
	got, err := db.GetFederationIdentity(ctx)
	if err != nil || got.ID != id.ID || got.SeedCiphertext != id.SeedCiphertext || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("read back: %+v %v; want %+v", got, err, created)
	}
}

func TestFindWorkspace(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	name := "Find-" + uuid.NewString()[:8]
	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{name, strings.ToLower(name), w.ID.String()} {
		if got, err := db.FindWorkspace(ctx, ref); err != nil || got.ID != w.ID || got.Name != name {
			t.Fatalf("FindWorkspace(%q) = %+v, %v; want %s", ref, got, err, w.ID)
		}
	}
	for _, ref := range []string{"no-such-" + name, uuid.NewString()} {
		if _, err := db.FindWorkspace(ctx, ref); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindWorkspace(%q): %v; want ErrNotFound", ref, err)
		}
	}
}

// TestFederationSchemaAcceptsWhatGoKnows: the grants' table takes every capability Go may grant
// and no other, and the peers' table every status Go gives a peer and no other: the CHECKs of
// migration 00007 and the lists in Go are one list each.
func TestFederationSchemaAcceptsWhatGoKnows(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t)
	ws, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "Home"})
	if err != nil {
		t.Fatal(err)
	}
	for i, status := range []string{store.PeerRequested, store.PeerPending, store.PeerAccepted, store.PeerRejected, "archived"} {
		p := store.FederationPeer{ID: uuid.New(), Name: fmt.Sprintf("peer%d", i), PublicKey: fakeKey('N', i), LeafKey: fakeKey('U', i),
			HTTPURL: "http://peer:8080", Direction: "outgoing", Status: status}
		err := db.InsertFederationPeer(ctx, p)
		if known := status != "archived"; (err == nil) != known {
			t.Errorf("peer status %q: insert %v; Go knows it: %v", status, err, known)
		}
	}
	peer := store.FederationPeer{ID: uuid.New(), Name: "granted", PublicKey: fakeKey('N', 9), LeafKey: fakeKey('U', 9),
		HTTPURL: "http://peer:8080", Direction: "outgoing", Status: store.PeerAccepted}
	if err := db.InsertFederationPeer(ctx, peer); err != nil {
		t.Fatal(err)
	}
	grant := func(c string) error {
		return db.PutFederationGrant(ctx, peer.ID, store.FederationGrant{WorkspaceID: ws.ID, Capabilities: []string{c},
			TaskKinds: []string{"*"}, ExpiresAt: time.Now().Add(time.Hour), GrantedBy: "test"})
	}
	for _, c := range store.FederationCapabilities {
		if err := grant(c); err != nil {
			t.Errorf("capability %q, which Go grants: %v", c, err)
		}
	}
	for _, c := range []string{"credentials.read", "tasks.delete", ""} {
		if err := grant(c); err == nil {
			t.Errorf("capability %q, which Go does not know: accepted", c)
		}
	}
}
