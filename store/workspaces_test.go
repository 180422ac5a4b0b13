package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestCreateWorkspaceAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	name := "ws-" + uuid.NewString()[:8]
	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.APIKey, "mosk_") {
		t.Fatalf("API key %q lacks its prefix", w.APIKey)
	}
	p, err := db.Authenticate(ctx, w.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.WorkspaceID != w.ID || p.Role != store.RoleOwner || p.UserID != w.OwnerID {
		t.Fatalf("principal %+v; want workspace %s owner %s", p, w.ID, w.OwnerID)
	}
	// The key's text is stored nowhere: only its hash.
	if where := pgtest.FindInDatabase(t, w.APIKey); len(where) != 0 {
		t.Fatalf("the API key's text is stored in %v", where)
	}
	if where := pgtest.FindInDatabase(t, name); len(where) != 1 || where[0] != "workspaces.name" {
		t.Fatalf("FindInDatabase(name) = %v; want [workspaces.name] (the scanner must see what is there)", where)
	}

	// Same name (any case): conflict, and nothing half-created.
	before, _ := db.ListWorkspaces(ctx)
	_, err = db.CreateWorkspace(ctx, store.NewWorkspace{Name: strings.ToUpper(name)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v; want ErrConflict", err)
	}
	after, _ := db.ListWorkspaces(ctx)
	if len(after) != len(before) {
		t.Fatalf("a failed create left a workspace behind")
	}

	// A tampered, revoked or expired key is refused.
	tampered := w.APIKey[:len(w.APIKey)-2] + "xx"
	if _, err := db.Authenticate(ctx, tampered); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("tampered key: %v", err)
	}
	key2, id2, err := db.CreateAPIKey(ctx, w.ID, w.OwnerID, "ci", store.RoleMember, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := db.Authenticate(ctx, key2); err != nil || p.Role != store.RoleMember {
		t.Fatalf("second key: %+v %v", p, err)
	}
	if err := db.RevokeAPIKey(ctx, w.ID, id2, true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, key2); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
	key3, _, err := db.CreateAPIKey(ctx, w.ID, w.OwnerID, "old", store.RoleGuest, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, key3); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("expired key: %v", err)
	}
}

func TestWorkspaceNameValidation(t *testing.T) {
	for _, name := range []string{"", "   ", strings.Repeat("x", 65), " lead", "tab\tname", "\xff"} {
		if err := store.ValidateWorkspaceName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	for _, name := range []string{"demo", "Équipe data", strings.Repeat("é", 64)} {
		if err := store.ValidateWorkspaceName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}

// TestMaxConcurrenciesReadsManyWorkspaces: one call reads the caps of many workspaces (more than
// one batch door's list): a cap, a pause (which wins over a cap), and none (absent).
func TestMaxConcurrenciesReadsManyWorkspaces(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	var wss []uuid.UUID
	for range 300 {
		w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "caps-" + uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		wss = append(wss, w.ID)
	}
	capped, paused, last := wss[0], wss[1], wss[299]
	for _, w := range []uuid.UUID{capped, paused, last} {
		if err := db.SetMaxConcurrency(ctx, w, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetWorkspacePaused(ctx, paused, true); err != nil {
		t.Fatal(err)
	}
	caps, err := db.MaxConcurrencies(ctx, wss)
	if err != nil {
		t.Fatal(err)
	}
	if caps[capped] != 3 || caps[paused] != store.Paused || caps[last] != 3 || caps[wss[2]] != 0 || len(caps) != 3 {
		t.Fatalf("caps %v; want 3, paused, 3 and nothing else", caps)
	}
}
