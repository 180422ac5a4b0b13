package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// An ADMIN may not create an OWNER's key, and may not revoke one either; an owner may.
func TestAdminCannotRevokeAnOwnersKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, srv)
	admin, _ := client.New(ts, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "keys-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := db.AddMember(ctx, w.ID, "second owner", store.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	_, ownerKeyID, err := db.CreateAPIKey(ctx, w.ID, owner, "owner key", store.RoleOwner, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	adm, err := db.AddMember(ctx, w.ID, "admin", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	admKey, admKeyID, err := db.CreateAPIKey(ctx, w.ID, adm, "admin key", store.RoleAdmin, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	asAdmin, _ := client.New(ts, admKey)
	asOwner, _ := client.New(ts, w.APIKey)
	path := func(id uuid.UUID) string { return "/v1/workspaces/" + w.ID.String() + "/api-keys/" + id.String() }
	if err := asAdmin.Do(ctx, http.MethodDelete, path(ownerKeyID), nil, nil); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("an ADMIN revoking an OWNER's key: %v; want forbidden", err)
	}
	if err := asOwner.Do(ctx, http.MethodDelete, path(ownerKeyID), nil, nil); err != nil {
		t.Fatalf("an owner revoking an OWNER's key: %v", err)
	}
	if err := asOwner.Do(ctx, http.MethodDelete, path(admKeyID), nil, nil); err != nil {
		t.Fatalf("an owner revoking an ADMIN's key: %v", err)
	}
	if err := asAdmin.Do(ctx, http.MethodGet, "/v1/workspaces/"+w.ID.String(), nil, nil); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("a revoked key: %v; want unauthenticated", err)
	}
}

// A server remembers the keys it accepted for its AuthCacheTTL: a key revoked elsewhere (here
// in SQL, as another API server would) is refused at once by a server that does not cache, and
// still taken, within its TTL, by one that does; a revoke through the server itself is at once.
func TestAuthCacheAcrossServers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	serve := func(ttl time.Duration) string {
		srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, AuthCacheTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return newServer(t, srv)
	}
	caching, asking := serve(time.Hour), serve(-1)
	admin, _ := client.New(caching, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "authcache-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	member, err := db.AddMember(ctx, w.ID, "member", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	key, keyID, err := db.CreateAPIKey(ctx, w.ID, member, "k", store.RoleMember, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/workspaces/" + w.ID.String()
	c1, _ := client.New(caching, key)
	c2, _ := client.New(asking, key)
	for _, c := range []*client.Client{c1, c2} {
		if err := c.Do(ctx, http.MethodGet, path, nil, nil); err != nil {
			t.Fatalf("a valid key: %v", err)
		}
	}
	if err := db.RevokeAPIKey(ctx, w.ID, keyID, true); err != nil {
		t.Fatal(err)
	}
	if err := c2.Do(ctx, http.MethodGet, path, nil, nil); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("revoked elsewhere, a server without the cache: %v; want unauthenticated", err)
	}
	if err := c1.Do(ctx, http.MethodGet, path, nil, nil); err != nil {
		t.Fatalf("revoked elsewhere, within the caching server's TTL: %v; want the key still taken", err)
	}

	// Through the caching server itself: refused at once.
	key2, key2ID, err := db.CreateAPIKey(ctx, w.ID, member, "k2", store.RoleMember, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c3, _ := client.New(caching, key2)
	if err := c3.Do(ctx, http.MethodGet, path, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, http.MethodDelete, path+"/api-keys/"+key2ID.String(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c3.Do(ctx, http.MethodGet, path, nil, nil); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("revoked through this server: %v; want unauthenticated at once", err)
	}
}
