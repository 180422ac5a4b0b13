package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/metrics"
	"github.com/mosaicstack/mosaic/store"
)

// authzPublic marks a route served without authentication (/healthz, /metrics, the console).
const authzPublic store.Role = "PUBLIC"

// authzRoute is one row of the authorization matrix: a route as the server registers it, the
// least role the table says it needs, and a call to it whose answer is predictable once the
// caller is authorized.
type authzRoute struct {
	// pattern is the route exactly as registered ("METHOD /path/{wildcard}").
	pattern string
	// min is the least role: a store.Role, api.AdminOnly (the admin token only) or authzPublic.
	min store.Role
	// call is "METHOD /path" of the request ({ws} stands for the workspace under test); empty:
	// the pattern itself.
	call string
	// body is the request's JSON body; empty: none.
	body string
	// ok is the status of an authorized caller: 2xx, or the validation error (400 for a bad
	// body, 404 for a made-up id) that shows the request got past authorization. Calls change
	// nothing, or change it the same way every time, so every caller can make them in turn.
	ok int
	// adminOK is the admin token's status when it differs from ok; 0: ok.
	adminOK int
}

type authzCallerKind int

const (
	authzMember    authzCallerKind = iota // a key of the workspace under test, of role
	authzForeign                          // an OWNER key of another workspace
	authzAnonymous                        // no key, or one that does not authenticate
	authzAdmin                            // the operator's admin token
)

type authzCaller struct {
	name  string
	token string
	kind  authzCallerKind
	role  store.Role // of an authzMember key
}

// want is the status the caller must get from the route.
func (r authzRoute) want(c authzCaller) int {
	switch {
	case r.min == authzPublic:
		return r.ok
	case c.kind == authzAnonymous:
		return http.StatusUnauthorized
	case c.kind == authzAdmin:
		if r.adminOK != 0 {
			return r.adminOK
		}
		return r.ok
	case r.min == api.AdminOnly, c.kind == authzForeign:
		return http.StatusForbidden
	case c.role.AtLeast(r.min):
		return r.ok
	}
	return http.StatusForbidden
}

// TestAuthorizationMatrix calls every route the server registers, with every optional part
// configured, as every kind of caller (each role's key, another workspace's owner, no key, a
// malformed, a revoked and an expired key, the admin token) and checks the status: the route's
// answer when the caller may call it, 401 when the caller is not authenticated, 403 when the
// role is too low or the key is another workspace's. It also checks that a key revoked through
// the API and a key past its expiry stop working, and what they are told.
//
// The table must list every route: the test reads the package's source for every Router.Handle
// and mux registration and fails on a route without a row, or a row whose least role differs from
// the registration's. Adding a route? Add a row below, with a call that is safe to repeat.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)

	// The server, with Tasks, Credentials, Knowledge, NC, JS and Metrics: every route mounted.
	nc, js := eventstest.Connect(t, eventstest.RunServer(t))
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	creds := testCredentials(t, db)
	emb := embed.NewLexical(0)
	reg := fullRegistry(db, creds, emb)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	fed := startFederation(t, db, tasks)
	srv, err := api.New(api.Config{
		DB: db, AdminToken: adminToken,
		Checks:      map[string]api.Check{"postgres": func(ctx context.Context) error { _, err := db.ListWorkspaces(ctx); return err }},
		Tasks:       tasks,
		NC:          nc,
		Credentials: creds,
		Knowledge:   &knowledge.Service{DB: db, Tasks: tasks, Embedder: emb},
		Federation:  fed,
		Metrics:     metrics.New(metrics.Config{DB: db}),
		JS:          js,
	})
	if err != nil {
		t.Fatal(err)
	}
	url := newServer(t, srv)
	t.Cleanup(srv.Close) // before the HTTP server closes: ends open event streams

	// The workspace under test, another one, and a key of every kind.
	admin, _ := client.New(url, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "authz-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	other, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "authz-other-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(role store.Role, expires time.Time) (string, uuid.UUID) {
		t.Helper()
		user, err := db.AddMember(ctx, w.ID, strings.ToLower(string(role)), role)
		if err != nil {
			t.Fatal(err)
		}
		key, id, err := db.CreateAPIKey(ctx, w.ID, user, strings.ToLower(string(role)), role, expires)
		if err != nil {
			t.Fatal(err)
		}
		return key, id
	}
	adminKey, _ := newKey(store.RoleAdmin, time.Time{})
	memberKey, _ := newKey(store.RoleMember, time.Time{})
	guestKey, _ := newKey(store.RoleGuest, time.Time{})
	expiredKey, _ := newKey(store.RoleOwner, time.Now().Add(-time.Hour))
	revokedKey, revokedID := newKey(store.RoleOwner, time.Time{})

	wsPath := "/v1/workspaces/" + w.ID.String()
	do := func(token, method, path, body string) (int, api.Error) {
		t.Helper()
		return authzDo(t, url, token, method, path, body)
	}

	// Revocation through the API: the key works, is revoked (by an owner), then gets 401.
	if got, e := do(revokedKey, "GET", wsPath, ""); got != http.StatusOK {
		t.Fatalf("key to be revoked, before: %d %s; want 200", got, e.Message)
	}
	if got, e := do(w.APIKey, "DELETE", wsPath+"/api-keys/"+revokedID.String(), ""); got != http.StatusNoContent {
		t.Fatalf("revoke a key: %d %s; want 204", got, e.Message)
	}
	if got, e := do(revokedKey, "GET", wsPath, ""); got != http.StatusUnauthorized || !strings.Contains(e.Message, "revoked") {
		t.Fatalf("revoked key: %d %q; want 401 saying it may be revoked", got, e.Message)
	}
	if got, _ := do(w.APIKey, "DELETE", wsPath+"/api-keys/"+revokedID.String(), ""); got != http.StatusNotFound {
		t.Errorf("revoke a revoked key again: %d; want 404", got)
	}
	// Expiry: a key created already expired is refused and told so; one that expires in a few
	// seconds works until then (checked again after the matrix).
	if got, e := do(expiredKey, "GET", wsPath, ""); got != http.StatusUnauthorized || !strings.Contains(e.Message, "expired") {
		t.Fatalf("expired key: %d %q; want 401 saying it may be expired", got, e.Message)
	}
	var soon api.CreatedAPIKey
	if err := admin.Do(ctx, "POST", wsPath+"/api-keys", api.CreateAPIKeyRequest{Name: "soon", Role: "GUEST", ExpiresIn: "4s"}, &soon); err != nil {
		t.Fatal(err)
	}
	soonExpires := time.Now().Add(4 * time.Second)
	if got, e := do(soon.APIKey, "GET", wsPath, ""); got != http.StatusOK {
		t.Fatalf("key expiring in 4s, at once: %d %s; want 200", got, e.Message)
	}

	callers := []authzCaller{
		{"owner", w.APIKey, authzMember, store.RoleOwner},
		{"admin", adminKey, authzMember, store.RoleAdmin},
		{"member", memberKey, authzMember, store.RoleMember},
		{"guest", guestKey, authzMember, store.RoleGuest},
		{"other workspace's owner", other.APIKey, authzForeign, ""},
		{"no key", "", authzAnonymous, ""},
		{"malformed key", "mosk_not-a-key", authzAnonymous, ""},
		{"revoked key", revokedKey, authzAnonymous, ""},
		{"expired key", expiredKey, authzAnonymous, ""},
		{"admin token", adminToken, authzAdmin, ""},
	}

	none := uuid.NewString() // an id nothing has: mutations of it are refused with 404
	const ws = "/v1/workspaces/{ws}"
	const kb = ws + "/knowledge"
	// Every route the server registers. A new route needs a row here (the test fails until it
	// has one): its least role as registered, and a call an authorized caller can repeat.
	routes := []authzRoute{
		// Public.
		{pattern: "GET /healthz", min: authzPublic, ok: 200},
		{pattern: "GET /readyz", min: authzPublic, ok: 200},
		{pattern: "GET /metrics", min: authzPublic, ok: 200},
		{pattern: "GET /v1/openapi.json", min: authzPublic, ok: 200},
		{pattern: "GET /federation/identity", min: authzPublic, ok: 200},
		// Peers post signed messages: an unsigned one is refused for what it is, not for who sent it.
		{pattern: "POST /federation/connect", min: authzPublic, body: `{}`, ok: 400},
		{pattern: "POST /federation/status", min: authzPublic, body: `{}`, ok: 404},
		{pattern: "GET /console", min: authzPublic, ok: 200},
		{pattern: "GET /console/{$}", min: authzPublic, call: "GET /console/", ok: 200},
		{pattern: "GET /console/console.js", min: authzPublic, ok: 200},
		{pattern: "GET /console/console.css", min: authzPublic, ok: 200},
		{pattern: "GET /console/knowledge", min: authzPublic, ok: 200},
		{pattern: "GET /console/knowledge.js", min: authzPublic, ok: 200},

		// Workspaces and keys (server.go); operator keys (operators.go: the admin token itself,
		// TestOperatorKeys refuses an operator key there).
		{pattern: "POST /v1/operator-keys", min: api.AdminOnly, body: `{"name":""}`, ok: 400},
		{pattern: "GET /v1/operator-keys", min: api.AdminOnly, ok: 200},
		{pattern: "DELETE /v1/operator-keys/{key}", min: api.AdminOnly, call: "DELETE /v1/operator-keys/nobody", ok: 404},
		{pattern: "POST /v1/workspaces", min: api.AdminOnly, body: `{"name":""}`, ok: 400},
		{pattern: "GET /v1/workspaces", min: api.AdminOnly, ok: 200},
		{pattern: "GET " + ws, min: store.RoleGuest, ok: 200},
		{pattern: "PUT " + ws + "/limits", min: api.AdminOnly, body: `{"max_concurrency":0}`, ok: 200},
		{pattern: "GET " + ws + "/limits", min: store.RoleGuest, ok: 200},
		{pattern: "PUT " + ws + "/retention", min: api.AdminOnly, body: `{"succeeded":"48h"}`, ok: 200},
		{pattern: "GET " + ws + "/retention", min: store.RoleGuest, ok: 200},
		{pattern: "POST " + ws + "/api-keys", min: store.RoleAdmin, body: `{"name":"","role":"GUEST"}`, ok: 400},
		{pattern: "DELETE " + ws + "/api-keys/{id}", min: store.RoleAdmin, call: "DELETE " + ws + "/api-keys/" + none, ok: 404},
		{pattern: "GET /v1/overview", min: api.AdminOnly, ok: 200},
		{pattern: "GET /v1/stats/minutes", min: api.AdminOnly, ok: 200},
		{pattern: "GET /debug/pprof/", min: api.AdminOnly, ok: 200},
		{pattern: "GET /debug/pprof/cmdline", min: api.AdminOnly, ok: 200},
		{pattern: "GET /debug/pprof/profile", min: api.AdminOnly, call: "GET /debug/pprof/profile?seconds=1", ok: 200},
		{pattern: "GET /debug/pprof/symbol", min: api.AdminOnly, ok: 200},
		{pattern: "GET /debug/pprof/trace", min: api.AdminOnly, call: "GET /debug/pprof/trace?seconds=1", ok: 200},

		// Tasks and dead letters (tasks.go).
		{pattern: "POST " + ws + "/tasks", min: store.RoleMember, body: `{"kind":"authz.no-such-kind"}`, ok: 400},
		{pattern: "GET " + ws + "/tasks", min: store.RoleGuest, ok: 200},
		{pattern: "POST " + ws + "/federation/tasks", min: store.RoleMember, body: `{"kind":"demo.echo"}`, ok: 400},
		{pattern: "GET " + ws + "/federation/tasks/{id}", min: store.RoleGuest, call: "GET " + ws + "/federation/tasks/" + uuid.Nil.String() + "?instance=authz-none", ok: 404},
		{pattern: "GET " + ws + "/federation/entries/{slug}", min: store.RoleGuest, call: "GET " + ws + "/federation/entries/x?instance=authz-none", ok: 404},

		// Federation peers (federation.go): the admin token only.
		{pattern: "GET /v1/federation/peers", min: api.AdminOnly, ok: 200},
		{pattern: "POST /v1/federation/peers", min: api.AdminOnly, body: `{"url":"ftp://authz"}`, ok: 400},
		{pattern: "GET /v1/federation/peers/{peer}", min: api.AdminOnly, call: "GET /v1/federation/peers/authz-none", ok: 404},
		{pattern: "POST /v1/federation/peers/{peer}/accept", min: api.AdminOnly, call: "POST /v1/federation/peers/authz-none/accept", body: `{"grants":[]}`, ok: 404},
		{pattern: "POST /v1/federation/peers/{peer}/reject", min: api.AdminOnly, call: "POST /v1/federation/peers/authz-none/reject", ok: 404},
		{pattern: "PUT /v1/federation/peers/{peer}/grants", min: api.AdminOnly, call: "PUT /v1/federation/peers/authz-none/grants", body: `{"workspace":"x","capabilities":["tasks.read"]}`, ok: 404},
		{pattern: "DELETE /v1/federation/peers/{peer}/grants/{workspace}", min: api.AdminOnly, call: "DELETE /v1/federation/peers/authz-none/grants/x", ok: 404},
		{pattern: "GET /v1/federation/peers/{peer}/offered", min: api.AdminOnly, call: "GET /v1/federation/peers/authz-none/offered", ok: 404},
		{pattern: "DELETE /v1/federation/peers/{peer}", min: api.AdminOnly, call: "DELETE /v1/federation/peers/authz-none", ok: 404},
		{pattern: "GET " + ws + "/tasks/{id}", min: store.RoleGuest, call: "GET " + ws + "/tasks/" + none, ok: 404},
		{pattern: "GET " + ws + "/tasks/{id}/events", min: store.RoleGuest, call: "GET " + ws + "/tasks/" + none + "/events", ok: 404},
		{pattern: "POST " + ws + "/tasks/{id}/cancel", min: store.RoleMember, call: "POST " + ws + "/tasks/" + none + "/cancel", ok: 404},
		{pattern: "POST " + ws + "/tasks/{id}/retry", min: store.RoleAdmin, call: "POST " + ws + "/tasks/" + none + "/retry", ok: 404},
		{pattern: "DELETE " + ws + "/tasks/{id}", min: store.RoleAdmin, call: "DELETE " + ws + "/tasks/" + none, ok: 404},
		{pattern: "POST " + ws + "/tasks/{id}/run", min: store.RoleMember, call: "POST " + ws + "/tasks/" + none + "/run", ok: 404},
		{pattern: "POST " + ws + "/schedules", min: store.RoleMember, body: `{"name":""}`, ok: 400},
		{pattern: "GET " + ws + "/schedules", min: store.RoleGuest, ok: 200},
		{pattern: "GET " + ws + "/schedules/{schedule}", min: store.RoleGuest, call: "GET " + ws + "/schedules/none", ok: 404},
		{pattern: "POST " + ws + "/schedules/{schedule}/pause", min: store.RoleMember, call: "POST " + ws + "/schedules/none/pause", ok: 404},
		{pattern: "POST " + ws + "/schedules/{schedule}/resume", min: store.RoleMember, call: "POST " + ws + "/schedules/none/resume", ok: 404},
		{pattern: "DELETE " + ws + "/schedules/{schedule}", min: store.RoleMember, call: "DELETE " + ws + "/schedules/none", ok: 404},
		{pattern: "GET " + ws + "/dead-letters", min: store.RoleMember, ok: 200},
		{pattern: "GET " + ws + "/dead-letters/summary", min: store.RoleMember, ok: 200},
		{pattern: "GET " + ws + "/dead-letters/{id}", min: store.RoleMember, call: "GET " + ws + "/dead-letters/" + none, ok: 404},
		{pattern: "POST " + ws + "/dead-letters/{id}/replay", min: store.RoleAdmin, call: "POST " + ws + "/dead-letters/" + none + "/replay", ok: 404},
		{pattern: "POST " + ws + "/dead-letters/{id}/discard", min: store.RoleAdmin, call: "POST " + ws + "/dead-letters/" + none + "/discard", ok: 404},
		{pattern: "GET /v1/unrouted", min: api.AdminOnly, ok: 200},

		// Agents, pools and workspace pauses (agents.go).
		{pattern: "GET /v1/agents", min: api.AdminOnly, ok: 200},
		{pattern: "GET /v1/agents/{id}", min: api.AdminOnly, call: "GET /v1/agents/" + none, ok: 404},
		{pattern: "POST /v1/agents/{id}/drain", min: api.AdminOnly, call: "POST /v1/agents/" + none + "/drain", ok: 404},
		{pattern: "GET /v1/pools", min: api.AdminOnly, ok: 200},
		{pattern: "POST /v1/pools/{pool}/pause", min: api.AdminOnly, call: "POST /v1/pools/authz/pause", body: `{"for":"soon"}`, ok: 400},
		{pattern: "POST /v1/pools/{pool}/resume", min: api.AdminOnly, call: "POST /v1/pools/authz/resume", ok: 200},
		{pattern: "POST " + ws + "/pause", min: api.AdminOnly, ok: 200},
		{pattern: "POST " + ws + "/resume", min: api.AdminOnly, ok: 200},

		// Credentials (credentials.go).
		{pattern: "POST " + ws + "/credentials", min: store.RoleMember, body: `{"name":"authz","value":""}`, ok: 400},
		{pattern: "GET " + ws + "/credentials", min: store.RoleGuest, ok: 200},
		{pattern: "GET " + ws + "/credentials/audit", min: store.RoleMember, ok: 200},
		{pattern: "GET " + ws + "/credentials/{id}", min: store.RoleGuest, call: "GET " + ws + "/credentials/" + none, ok: 404},
		{pattern: "PATCH " + ws + "/credentials/{id}", min: store.RoleMember, call: "PATCH " + ws + "/credentials/" + none, body: `{}`, ok: 404},
		{pattern: "POST " + ws + "/credentials/{id}/rotate", min: store.RoleMember, call: "POST " + ws + "/credentials/" + none + "/rotate", body: `{"value":"x"}`, ok: 404},
		{pattern: "DELETE " + ws + "/credentials/{id}", min: store.RoleMember, call: "DELETE " + ws + "/credentials/" + none, ok: 404},
		{pattern: "POST " + ws + "/keys/{key}/rotate", min: api.AdminOnly, call: "POST " + ws + "/keys/authz-no-such-key/rotate", body: `{}`, ok: 400},

		// Knowledge (knowledge.go).
		{pattern: "POST " + kb + "/entries", min: store.RoleMember, body: `{}`, ok: 400},
		{pattern: "GET " + kb + "/entries", min: store.RoleGuest, ok: 200},
		{pattern: "GET " + kb + "/entries/{slug}", min: store.RoleGuest, call: "GET " + kb + "/entries/authz-none", ok: 404},
		{pattern: "PATCH " + kb + "/entries/{slug}", min: store.RoleMember, call: "PATCH " + kb + "/entries/authz-none", body: `{"title":"x"}`, ok: 404},
		{pattern: "DELETE " + kb + "/entries/{slug}", min: store.RoleMember, call: "DELETE " + kb + "/entries/authz-none", ok: 404},
		{pattern: "GET " + kb + "/entries/{slug}/links", min: store.RoleGuest, call: "GET " + kb + "/entries/authz-none/links", ok: 404},
		{pattern: "GET " + kb + "/entries/{slug}/versions", min: store.RoleGuest, call: "GET " + kb + "/entries/authz-none/versions", ok: 404},
		{pattern: "GET " + kb + "/entries/{slug}/versions/{version}", min: store.RoleGuest, call: "GET " + kb + "/entries/authz-none/versions/1", ok: 404},
		{pattern: "GET " + kb + "/entries/{slug}/diff", min: store.RoleGuest, call: "GET " + kb + "/entries/authz-none/diff", ok: 404},
		{pattern: "POST " + kb + "/entries/{slug}/restore", min: store.RoleMember, call: "POST " + kb + "/entries/authz-none/restore", body: `{"version":1}`, ok: 404},
		{pattern: "GET " + kb + "/search", min: store.RoleGuest, call: "GET " + kb + "/search?q=authz", ok: 200},
		{pattern: "GET " + kb + "/graph", min: store.RoleGuest, ok: 200},
		{pattern: "GET " + kb + "/tags", min: store.RoleGuest, ok: 200},
		{pattern: "POST " + kb + "/reindex", min: store.RoleAdmin, body: `{"batch_size":-1}`, ok: 400},

		// Event stream (stream.go) and consumers (consumers.go).
		{pattern: "GET " + ws + "/events/stream", min: store.RoleGuest, ok: 200},
		{pattern: "GET /v1/consumers", min: api.AdminOnly, ok: 200},
	}

	// The table against the source: every registration has a row with its role, and every row
	// a registration.
	registered := authzRegisteredRoutes(t)
	var problems []string
	seen := map[string]bool{}
	for _, r := range routes {
		switch role, ok := registered[r.pattern]; {
		case seen[r.pattern]:
			problems = append(problems, fmt.Sprintf("row %q: listed twice", r.pattern))
		case !ok:
			problems = append(problems, fmt.Sprintf("row %q: no such route is registered", r.pattern))
		case role != r.min:
			problems = append(problems, fmt.Sprintf("row %q: the table says %s, the code registers %s", r.pattern, r.min, role))
		}
		seen[r.pattern] = true
		if r.call != "" && !authzPatternMatches(r.pattern, r.call) {
			problems = append(problems, fmt.Sprintf("row %q: call %q does not match the pattern", r.pattern, r.call))
		}
	}
	for p, role := range registered {
		if !seen[p] {
			problems = append(problems, fmt.Sprintf("route %q (%s) has no row in TestAuthorizationMatrix: add one", p, role))
		}
	}
	if len(routes) != len(registered) {
		problems = append(problems, fmt.Sprintf("%d rows for %d registered routes", len(routes), len(registered)))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Fatalf("the route table is out of date:\n  %s", strings.Join(problems, "\n  "))
	}

	// The matrix.
	var bad []string
	for _, r := range routes {
		call := r.call
		if call == "" {
			call = r.pattern
		}
		method, path, _ := strings.Cut(strings.ReplaceAll(call, "{ws}", w.ID.String()), " ")
		for _, c := range callers {
			got, e := do(c.token, method, path, r.body)
			if want := r.want(c); got != want {
				detail := e.Message
				if got == http.StatusNotFound && strings.HasPrefix(detail, "no route for") {
					detail = "not mounted: " + detail
				}
				bad = append(bad, fmt.Sprintf("%-58s %-24s got %d, want %d (%s)", r.pattern, c.name, got, want, detail))
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d cells (%d routes × %d callers) differ:\n  %s", len(bad), len(routes)*len(callers),
			len(routes), len(callers), strings.Join(bad, "\n  "))
	}

	// The key that expires in a few seconds stops working then, and is told it may have expired.
	deadline := soonExpires.Add(10 * time.Second)
	for {
		got, e := do(soon.APIKey, "GET", wsPath, "")
		if got == http.StatusUnauthorized {
			if !strings.Contains(e.Message, "expired") {
				t.Errorf("key past its expiry: %q; want a message that says it may have expired", e.Message)
			}
			break
		}
		if got != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("key past its expiry (%s ago): %d %s; want 401", time.Since(soonExpires).Round(time.Millisecond), got, e.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// authzDo makes one request and returns its status and, for an error, the API's error body. A
// 200 answer's body is not read past its headers (the event stream does not end).
func authzDo(t *testing.T, base, token, method, path, body string) (int, api.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var e struct {
		Error api.Error `json:"error"`
	}
	if resp.StatusCode >= 400 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if err := json.Unmarshal(raw, &e); err != nil {
			e.Error.Message = "body: " + string(raw)
		}
	}
	return resp.StatusCode, e.Error
}

// authzPatternMatches reports whether call ("METHOD /path?query") is a request the pattern
// ("METHOD /path/{wildcard}") serves.
func authzPatternMatches(pattern, call string) bool {
	pm, pp, _ := strings.Cut(pattern, " ")
	cm, cp, _ := strings.Cut(call, " ")
	cp, _, _ = strings.Cut(cp, "?")
	ps, cs := strings.Split(pp, "/"), strings.Split(cp, "/")
	if pm != cm || len(ps) != len(cs) {
		return false
	}
	for i, seg := range ps {
		switch {
		case seg == "{$}":
			if cs[i] != "" {
				return false
			}
		case strings.HasPrefix(seg, "{"):
			if cs[i] == "" || strings.Contains(cs[i], "{") && cs[i] != "{ws}" {
				return false
			}
		case seg != cs[i]:
			return false
		}
	}
	return true
}

// authzRegisteredRoutes reads the package's source and returns every route it registers with its
// least role: each Router.Handle(pattern, role, handler) call (three arguments), and each route
// registered on the mux directly (two arguments: public). A pattern the reader cannot evaluate
// (only string literals, constants and + are understood) fails the test, except the one inside
// Router.Handle itself, so that no registration escapes the matrix.
func authzRegisteredRoutes(t *testing.T) map[string]store.Role {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// String constants, package-level and local (const base = "…"), by name.
	consts := map[string]string{}
	ambiguous := map[string]bool{}
	var eval func(ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.Ident:
			s, ok := consts[e.Name]
			return s, ok && !ambiguous[e.Name]
		case *ast.ParenExpr:
			return eval(e.X)
		case *ast.BinaryExpr:
			if e.Op != token.ADD {
				return "", false
			}
			x, ok1 := eval(e.X)
			y, ok2 := eval(e.Y)
			return x + y, ok1 && ok2
		}
		return "", false
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			d, ok := n.(*ast.GenDecl)
			if !ok || d.Tok != token.CONST {
				return true
			}
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if s, ok := eval(vs.Values[i]); ok {
						if old, dup := consts[id.Name]; dup && old != s {
							ambiguous[id.Name] = true
						}
						consts[id.Name] = s
					}
				}
			}
			return true
		})
	}
	roles := map[string]store.Role{
		"AdminOnly": api.AdminOnly, "RoleOwner": store.RoleOwner, "RoleAdmin": store.RoleAdmin,
		"RoleMember": store.RoleMember, "RoleGuest": store.RoleGuest,
	}
	out := map[string]store.Role{}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) < 2 {
					return true
				}
				where := fset.Position(call.Pos()).String()
				pattern, ok := eval(call.Args[0])
				if !ok {
					if fn.Name.Name != "Handle" { // Router.Handle passes its own pattern on to the mux
						t.Errorf("%s: a route whose pattern the test cannot read; keep patterns constant", where)
					}
					return true
				}
				if pattern == "/" { // the fallback: "no route for …"
					return true
				}
				role := authzPublic
				if len(call.Args) == 3 {
					var name string
					switch r := call.Args[1].(type) {
					case *ast.Ident:
						name = r.Name
					case *ast.SelectorExpr:
						name = r.Sel.Name
					}
					if role, ok = roles[name]; !ok {
						t.Errorf("%s: route %q: role %s is not one the test knows", where, pattern, name)
						return true
					}
				}
				if _, dup := out[pattern]; dup {
					t.Errorf("%s: route %q registered twice", where, pattern)
				}
				out[pattern] = role
				return true
			})
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in the source: the reader is broken", len(out))
	}
	return out
}
