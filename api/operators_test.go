package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Named operator keys: made with the admin token, they act as it, and what they do is recorded
// under their name; they cannot make keys themselves; a name has one key at a time; a revoked key
// is refused at once; only the key's hash is stored.
func TestOperatorKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts, db := newTaskServer(t)
	admin, _ := client.New(ts, adminToken)
	name := "alice-" + uuid.NewString()[:8]
	k, err := admin.CreateOperatorKey(ctx, name)
	if err != nil || !strings.HasPrefix(k.Key, "moso_") || k.CreatedBy != "admin" {
		t.Fatalf("create: %+v %v", k, err)
	}
	if _, err := admin.CreateOperatorKey(ctx, name); !mosaictype.IsCode(err, api.CodeConflict) {
		t.Fatalf("a second key for %s: %v; want conflict", name, err)
	}
	if _, err := admin.CreateOperatorKey(ctx, "Not A Name"); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("a bad name: %v; want invalid", err)
	}

	// The key acts as the admin token: a workspace, then a dead letter discarded, recorded by name.
	alice, _ := client.New(ts, k.Key)
	w, err := alice.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "ops-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatalf("an operator creating a workspace: %v", err)
	}
	d := store.DeadLetter{WorkspaceID: w.ID, Kind: "shop.order", Reason: store.ReasonPermanent, Error: "no", Subject: "s"}
	if err := db.InWorkspace(ctx, w.ID, func(tx pgx.Tx) error { return store.InsertDeadLetter(ctx, tx, &d) }); err != nil {
		t.Fatal(err)
	}
	var discarded store.DeadLetter
	if err := alice.Do(ctx, http.MethodPost, "/v1/workspaces/"+w.ID.String()+"/dead-letters/"+d.ID.String()+"/discard", nil, &discarded); err != nil {
		t.Fatal(err)
	}
	if discarded.DiscardedBy != "operator:"+name {
		t.Fatalf("discarded by %q; want operator:%s", discarded.DiscardedBy, name)
	}

	// Only the admin token itself makes, lists and revokes operator keys.
	if _, err := alice.CreateOperatorKey(ctx, "bob"); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("an operator key making another: %v; want forbidden", err)
	}
	if _, err := alice.ListOperatorKeys(ctx); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("an operator key listing keys: %v; want forbidden", err)
	}
	keys, err := admin.ListOperatorKeys(ctx)
	if err != nil || !containsKey(keys, k.ID) {
		t.Fatalf("list: %+v %v", keys, err)
	}

	// Only a hash is stored.
	var inRow, hashed bool
	if err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT position($2 IN row_to_json(o)::text) > 0, key_hash = sha256(convert_to($3, 'UTF8'))
			FROM operator_keys o WHERE id = $1`, k.ID, k.Key[len(k.Key)-43:], k.Key).Scan(&inRow, &hashed)
	}); err != nil || inRow || !hashed {
		t.Fatalf("operator_keys holds the key: %v, holds its SHA-256: %v (%v)", inRow, hashed, err)
	}

	// Revoked: refused at once; the name may have a new key.
	if _, err := admin.RevokeOperatorKey(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ListWorkspaces(ctx); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("a revoked operator key: %v; want unauthenticated", err)
	}
	if _, err := admin.RevokeOperatorKey(ctx, name); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("revoking twice: %v; want not found", err)
	}
	if _, err := admin.CreateOperatorKey(ctx, name); err != nil {
		t.Fatalf("a new key for %s after the revocation: %v", name, err)
	}
	forged, _ := client.New(ts, "moso_"+strings.Repeat("0", 32)+"_"+strings.Repeat("A", 43))
	if _, err := forged.ListWorkspaces(ctx); !mosaictype.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("a forged operator key: %v; want unauthenticated", err)
	}
}

func containsKey(keys []store.OperatorKey, id uuid.UUID) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}
