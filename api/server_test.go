package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

const adminToken = "test-admin-token-0123456789"

type testBundle struct {
	db     *store.DB
	server *httptest.Server
	admin  *client.Client
}

func setup(t *testing.T, checks map[string]api.Check) *testBundle {
	t.Helper()
	db := pgtest.DB(t)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(checkOpenAPI(t, srv.Handler()))
	t.Cleanup(ts.Close)
	admin, err := client.New(ts.URL, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{db: db, server: ts, admin: admin}
}

// newServer serves srv for the test, every exchange checked against api/openapi.yaml.
func newServer(t *testing.T, srv *api.Server) string {
	ts := httptest.NewServer(checkOpenAPI(t, srv.Handler()))
	t.Cleanup(ts.Close)
	return ts.URL
}

func (b *testBundle) client(t *testing.T, token string) *client.Client {
	c, err := client.New(b.server.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWorkspaceAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	w, err := b.admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "auth-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "other-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/workspaces/" + w.ID.String()
	var guest api.CreatedAPIKey
	if err := b.client(t, w.APIKey).Do(ctx, http.MethodPost, path+"/api-keys", api.CreateAPIKeyRequest{Name: "g", Role: "GUEST"}, &guest); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, method, path string
		body                      any
		code                      string
	}{
		{"no token", "", http.MethodGet, path, nil, api.CodeUnauthenticated},
		{"wrong key", w.APIKey[:len(w.APIKey)-3] + "abc", http.MethodGet, path, nil, api.CodeUnauthenticated},
		{"garbage key", "hello", http.MethodGet, path, nil, api.CodeUnauthenticated},
		{"other workspace's key", other.APIKey, http.MethodGet, path, nil, api.CodeForbidden},
		{"guest creates a key", guest.APIKey, http.MethodPost, path + "/api-keys", api.CreateAPIKeyRequest{Name: "x", Role: "MEMBER"}, api.CodeForbidden},
		{"owner creates a workspace", w.APIKey, http.MethodPost, "/v1/workspaces", api.CreateWorkspaceRequest{Name: "nope"}, api.CodeForbidden},
		{"owner sets limits", w.APIKey, http.MethodPut, path + "/limits", api.Limits{MaxConcurrency: 3}, api.CodeForbidden},
		{"not a uuid", w.APIKey, http.MethodGet, "/v1/workspaces/abc", nil, api.CodeInvalidArgument},
		{"admin, unknown workspace", adminToken, http.MethodGet, "/v1/workspaces/" + uuid.NewString(), nil, api.CodeNotFound},
		{"unknown route", w.APIKey, http.MethodGet, "/v1/nothing", nil, api.CodeNotFound},
	}
	for _, c := range cases {
		err := b.client(t, c.token).Do(ctx, c.method, c.path, c.body, nil)
		if !mosaictype.IsCode(err, c.code) {
			t.Errorf("%s: %v; want %s", c.name, err, c.code)
		}
	}
	// What is allowed works.
	if err := b.client(t, guest.APIKey).Do(ctx, http.MethodGet, path, nil, nil); err != nil {
		t.Errorf("guest reads its workspace: %v", err)
	}
	if err := b.admin.SetLimits(ctx, w.ID, api.Limits{MaxConcurrency: 3}); err != nil {
		t.Errorf("admin sets limits: %v", err)
	}
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	for name, body := range map[string]string{
		"empty":         "",
		"not json":      "{name: demo}",
		"unknown field": `{"name":"x","color":"blue"}`,
		"two values":    `{"name":"x"} {"name":"y"}`,
		"empty name":    `{"name":""}`,
		"long name":     `{"name":"` + strings.Repeat("a", 65) + `"}`,
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.server.URL+"/v1/workspaces", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d; want 400", name, resp.StatusCode)
		}
	}
	big := `{"name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.server.URL+"/v1/workspaces", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize body: status %d; want 413", resp.StatusCode)
	}
}

func TestReadyzReportsFailingChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]api.Check{
		"postgres":  func(context.Context) error { return nil },
		"jetstream": func(context.Context) error { return errors.New("no servers available") },
	})
	err := b.admin.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("Ready: %v; want not ready", err)
	}
}

// TestProfilesForTheOperator: /debug/pprof serves Go's profiles to the admin token (a heap
// profile is a gzipped protobuf), and to nobody else.
func TestProfilesForTheOperator(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := func(token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, b.server.URL+"/debug/pprof/heap", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, body := get(adminToken); code != http.StatusOK || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Fatalf("heap profile for the admin token: %d, %d bytes", code, len(body))
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("heap profile without a token: %d, want 401", code)
	}
}
