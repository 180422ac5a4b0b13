package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/internal/pgtest"
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
	admin, _ := api.NewClient(ts, adminToken)
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
	asAdmin, _ := api.NewClient(ts, admKey)
	asOwner, _ := api.NewClient(ts, w.APIKey)
	path := func(id uuid.UUID) string { return "/v1/workspaces/" + w.ID.String() + "/api-keys/" + id.String() }
	if err := asAdmin.Do(ctx, http.MethodDelete, path(ownerKeyID), nil, nil); !api.IsCode(err, api.CodeForbidden) {
		t.Fatalf("an ADMIN revoking an OWNER's key: %v; want forbidden", err)
	}
	if err := asOwner.Do(ctx, http.MethodDelete, path(ownerKeyID), nil, nil); err != nil {
		t.Fatalf("an owner revoking an OWNER's key: %v", err)
	}
	if err := asOwner.Do(ctx, http.MethodDelete, path(admKeyID), nil, nil); err != nil {
		t.Fatalf("an owner revoking an ADMIN's key: %v", err)
	}
	if err := asAdmin.Do(ctx, http.MethodGet, "/v1/workspaces/"+w.ID.String(), nil, nil); !api.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("a revoked key: %v; want unauthenticated", err)
	}
}
