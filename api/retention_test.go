package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func TestWorkspaceRetention(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	defaults := store.Retention{Succeeded: time.Hour, Cancelled: 2 * time.Hour, Dead: 3 * time.Hour, DeadLetters: 4 * time.Hour}
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Retention: &defaults})
	if err != nil {
		t.Fatal(err)
	}
	url := newServer(t, srv)
	admin, _ := client.New(url, adminToken)
	ctx := context.Background()
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "retention-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := client.New(url, w.APIKey)

	got, err := owner.Retention(ctx, w.ID)
	want := api.Retention{Effective: api.RetentionSettings{Succeeded: "1h0m0s", Cancelled: "2h0m0s", Dead: "3h0m0s", DeadLetters: "4h0m0s"}}
	if err != nil || got != want {
		t.Fatalf("a new workspace: %+v %v; want the process's defaults %+v", got, err, want)
	}
	if _, err := owner.SetRetention(ctx, w.ID, api.RetentionSettings{Succeeded: "48h"}); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("the owner sets retention: %v; want forbidden (admin only)", err)
	}
	got, err = admin.SetRetention(ctx, w.ID, api.RetentionSettings{Succeeded: "48h", Dead: "0s"})
	want = api.Retention{Workspace: api.RetentionSettings{Succeeded: "48h0m0s", Dead: "0s"},
		Effective: api.RetentionSettings{Succeeded: "48h0m0s", Cancelled: "2h0m0s", Dead: "0s", DeadLetters: "4h0m0s"}}
	if err != nil || got != want {
		t.Fatalf("set: %+v %v; want %+v", got, err, want)
	}
	if got, err = owner.Retention(ctx, w.ID); err != nil || got != want {
		t.Fatalf("read back: %+v %v", got, err)
	}
	for _, bad := range []api.RetentionSettings{{Succeeded: "a day"}, {Cancelled: "-1h"}, {Dead: "30m"}, {Dead: "2h0.5s"}, {DeadLetters: "100000h"}} {
		if _, err := admin.SetRetention(ctx, w.ID, bad); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
			t.Errorf("%+v: %v; want invalid argument", bad, err)
		}
	}
	if got, err = admin.SetRetention(ctx, w.ID, api.RetentionSettings{}); err != nil || got.Workspace != (api.RetentionSettings{}) {
		t.Fatalf("back to the defaults: %+v %v", got, err)
	}
}
