package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// TestKnowledgeRoutes: entries over HTTP with their versions, diff and restore; roles; every bad
// input a 4xx naming the field. (Indexing and search results are the agent's: see agents.)
func TestKnowledgeRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	emb := embed.NewLexical(0)
	reg := agents.NewRegistry()
	knowledge.Register(reg, knowledge.Config{DB: db, Embedder: emb})
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Tasks: tasks, Knowledge: &knowledge.Service{DB: db, Tasks: tasks, Embedder: emb}})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, srv)
	admin, _ := client.New(ts, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "kb-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	guestUser, err := db.AddMember(ctx, w.ID, "guest", store.RoleGuest)
	if err != nil {
		t.Fatal(err)
	}
	guestKey, _, err := db.CreateAPIKey(ctx, w.ID, guestUser, "guest", store.RoleGuest, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := client.New(ts, w.APIKey)
	guest, _ := client.New(ts, guestKey)
	str := func(s string) *string { return &s }

	e, err := owner.CreateEntry(ctx, w.ID, knowledge.EntryInput{Title: str("Café Notes"), Body: str("first\n"), Tags: &[]string{"a"}})
	if err != nil || e.Slug != "cafe-notes" || e.Version != 1 || e.Status != store.EntryDraft {
		t.Fatalf("create: %+v %v", e, err)
	}
	if _, err := owner.UpdateEntry(ctx, w.ID, "cafe-notes", knowledge.EntryInput{Body: str("second\n"), Message: "rewrite"}); err != nil {
		t.Fatal(err)
	}
	d, err := owner.EntryDiff(ctx, w.ID, "cafe-notes", 0, 0)
	if err != nil || d.From != 1 || d.To != 2 || !strings.Contains(d.Diff, "-first\n+second\n") {
		t.Fatalf("diff: %+v %v", d, err)
	}
	r, err := owner.RestoreEntry(ctx, w.ID, "cafe-notes", 1)
	if err != nil || r.Version != 3 || r.Body != "first\n" {
		t.Fatalf("restore: %+v %v", r, err)
	}
	vs, err := guest.EntryVersions(ctx, w.ID, "cafe-notes")
	if err != nil || len(vs) != 3 || vs[0].Message != "restore version 1" {
		t.Fatalf("versions as guest: %+v %v", vs, err)
	}
	list, err := guest.ListEntries(ctx, w.ID, url.Values{"tag": {"a"}})
	if err != nil || len(list.Entries) != 1 || list.Entries[0].Body != "" {
		t.Fatalf("list by tag (bodies left out): %+v %v", list, err)
	}

	base := "/v1/workspaces/" + w.ID.String() + "/knowledge"
	big := strings.Repeat("x", store.MaxEntryBody+1)
	bad := []struct {
		name   string
		client *client.Client
		method string
		path   string
		body   any
		code   string
		want   string
	}{
		{"empty title", owner, http.MethodPost, "/entries", map[string]any{"title": " "}, api.CodeInvalidArgument, "title is empty"},
		{"slug clash", owner, http.MethodPost, "/entries", map[string]any{"title": "Cafe notes"}, api.CodeConflict, "the slug is taken"},
		{"body over the limit", owner, http.MethodPost, "/entries", map[string]any{"title": "Big", "body": big}, api.CodeInvalidArgument, "the limit is 1048576"},
		{"unknown field", owner, http.MethodPost, "/entries", map[string]any{"title": "T", "tittle": "x"}, api.CodeInvalidArgument, "tittle"},
		{"guest writes", guest, http.MethodPost, "/entries", map[string]any{"title": "G"}, api.CodeForbidden, ""},
		{"slug change", owner, http.MethodPatch, "/entries/cafe-notes", map[string]any{"slug": "other"}, api.CodeInvalidArgument, "does not change"},
		{"stale edit", owner, http.MethodPatch, "/entries/cafe-notes", map[string]any{"body": "x", "if_version": 1}, api.CodeConflict, "version 3, not 1"},
		{"no such entry", owner, http.MethodGet, "/entries/nope", nil, api.CodeNotFound, `"nope"`},
		{"no such version", owner, http.MethodGet, "/entries/cafe-notes/versions/9", nil, api.CodeNotFound, "no version 9"},
		{"bad version", owner, http.MethodGet, "/entries/cafe-notes/diff?from=zero", nil, api.CodeInvalidArgument, "from"},
		{"empty query", owner, http.MethodGet, "/search?q=", nil, api.CodeInvalidArgument, "q:"},
		{"stop words only", owner, http.MethodGet, "/search?q=the+of&mode=fulltext", nil, api.CodeInvalidArgument, "no searchable words"},
		{"bad mode", owner, http.MethodGet, "/search?q=x&mode=vibes", nil, api.CodeInvalidArgument, "mode"},
		{"bad date", owner, http.MethodGet, "/search?q=x&updated_after=yesterday", nil, api.CodeInvalidArgument, "updated_after"},
		{"bad limit", owner, http.MethodGet, "/search?q=x&limit=500", nil, api.CodeInvalidArgument, "limit"},
		{"depth out of range", owner, http.MethodGet, "/graph?center=cafe-notes&depth=6", nil, api.CodeInvalidArgument, "depth"},
		{"depth without center", owner, http.MethodGet, "/graph?depth=2", nil, api.CodeInvalidArgument, "center"},
		{"graph around nothing", owner, http.MethodGet, "/graph?center=nope&depth=1", nil, api.CodeNotFound, ""},
		{"reindex as guest", guest, http.MethodPost, "/reindex", map[string]any{}, api.CodeForbidden, ""},
	}
	for _, c := range bad {
		err := c.client.Do(ctx, c.method, base+c.path, c.body, nil)
		if !mosaictype.IsCode(err, c.code) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %s naming %q", c.name, err, c.code, c.want)
		}
	}
	if _, err := owner.Publish(ctx, w.ID, api.PublishRequest{Kind: knowledge.KindReindex}); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Errorf("publishing a knowledge job through the task route: %v; want forbidden", err)
	}
	if id, err := owner.Reindex(ctx, w.ID, 10); err != nil || id == uuid.Nil {
		t.Errorf("reindex as owner: %v %v", id, err)
	}
	if err := owner.DeleteEntry(ctx, w.ID, "cafe-notes"); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.GetEntry(ctx, w.ID, "cafe-notes"); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
