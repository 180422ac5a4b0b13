package api_test

// Fuzzing every JSON request body the API decodes, against a real server on the package's
// PostgreSQL (pgtest). Plain `go test` replays the seeds below and the corpus in
// testdata/fuzz/FuzzRequestBodies; to search for new inputs (each fuzzing process starts a
// throwaway PostgreSQL of its own, hence -parallel 1):
//
//	go test -run '^$' -fuzz '^FuzzRequestBodies$' -fuzztime 40s -parallel 1 ./api/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// secretToken in a fuzzed body stands for the planted secret (the fuzzer cannot guess it).
const secretToken = "$SECRET"

// maxFuzzBody bounds the bodies tried: the limits of interest (256 KiB args, 1 MiB bodies) have
// tests of their own, and big inputs only slow the fuzzer down.
const maxFuzzBody = 64 << 10

// fuzzRoute is one write route and who calls it.
type fuzzRoute struct {
	method, path string
	admin        bool // the admin token; else the workspace owner's API key
}

// bodyFuzzEnv is a server with every write route mounted (tasks, credentials, knowledge), one
// workspace, a credential holding the planted secret, an entry and a dead letter to aim at.
type bodyFuzzEnv struct {
	handler http.Handler
	owner   string
	secret  string
	routes  []fuzzRoute
}

func newBodyFuzzEnv(f *testing.F) *bodyFuzzEnv {
	ctx := context.Background()
	db := pgtest.DB(f)
	creds := testCredentials(f, db)
	emb := embed.NewLexical(0)
	reg := fullRegistry(db, creds, emb)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(tasks.Close)
	fed, peer := fuzzFederation(f, db, tasks)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Tasks: tasks, Credentials: creds,
		Knowledge: &knowledge.Service{DB: db, Tasks: tasks, Embedder: emb}, Federation: fed})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	f.Cleanup(ts.Close)
	admin, _ := client.New(ts.URL, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "fuzz-" + uuid.NewString()[:8]})
	if err != nil {
		f.Fatal(err)
	}
	owner, _ := client.New(ts.URL, w.APIKey)
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	secret := "planted-" + hex.EncodeToString(b)
	cred, err := owner.PutCredential(ctx, w.ID, api.PutCredentialRequest{Name: "planted", Type: store.CredentialAPIKey, Value: secret})
	if err != nil {
		f.Fatal(err)
	}
	str := func(s string) *string { return &s }
	entry, err := owner.CreateEntry(ctx, w.ID, knowledge.EntryInput{Title: str("Fuzz notes"), Body: str("see [[other]]\n")})
	if err != nil {
		f.Fatal(err)
	}
	dl := store.DeadLetter{WorkspaceID: w.ID, Kind: "demo.echo", Reason: "unknown_kind", Error: "no worker",
		Subject: "mosaic.tasks.p5." + w.ID.String() + ".demo.echo",
		Payload: []byte(`{"workspace_id":"` + w.ID.String() + `","kind":"demo.echo"}`)}
	dl.ID = uuid.New()
	if err := db.DeadLetterMessage(ctx, dl, nil, "fuzz", nil); err != nil {
		f.Fatal(err)
	}
	ws := "/v1/workspaces/" + w.ID.String()
	return &bodyFuzzEnv{
		handler: srv.Handler(),
		owner:   w.APIKey,
		secret:  secret,
		routes: []fuzzRoute{
			{http.MethodPost, "/v1/workspaces", true},
			{http.MethodPut, ws + "/limits", true},
			{http.MethodPut, ws + "/retention", true},
			{http.MethodPost, ws + "/api-keys", false},
			{http.MethodPost, ws + "/tasks", false},
			{http.MethodPost, ws + "/schedules", false},
			{http.MethodPost, ws + "/dead-letters/" + dl.ID.String() + "/replay", false},
			{http.MethodPost, ws + "/credentials", false},
			{http.MethodPatch, ws + "/credentials/" + cred.ID.String(), false},
			{http.MethodPost, ws + "/credentials/" + cred.ID.String() + "/rotate", false},
			{http.MethodPost, ws + "/keys/" + crypto.KeyCredentials + "/rotate", true},
			{http.MethodPost, ws + "/knowledge/entries", false},
			{http.MethodPatch, ws + "/knowledge/entries/" + entry.Slug, false},
			{http.MethodPost, ws + "/knowledge/entries/" + entry.Slug + "/restore", false},
			{http.MethodPost, ws + "/knowledge/reindex", false},
			// Federation: what peers post (signed messages, no key needed), and the admin's
			// writes on an accepted peer. (POST /v1/federation/peers is left out: it calls the
			// URL it is given, and a fuzzer must not reach beyond loopback.)
			{http.MethodPost, "/federation/connect", false},
			{http.MethodPost, "/federation/status", false},
			{http.MethodPost, "/v1/federation/peers/" + peer + "/accept", true},
			{http.MethodPut, "/v1/federation/peers/" + peer + "/grants", true},
			{http.MethodPost, ws + "/federation/tasks", false},
		},
	}
}

// fuzzFederation starts this instance's federation (identity, hub, node) and has it accept a
// peer that asked to connect, whose name it returns.
func fuzzFederation(f *testing.F, db *store.DB, tasks *agents.Client) (*federation.Node, string) {
	ctx := context.Background()
	node := startFederation(f, db, tasks)
	name := "fuzz-peer-" + uuid.NewString()[:8]
	peer, env := signedConnect(f, node, name)
	if _, err := node.HandleConnect(ctx, env, "127.0.0.1"); err != nil {
		f.Fatal(err)
	}
	if _, err := node.Accept(ctx, peer.PublicKey, nil, "fuzz"); err != nil {
		f.Fatal(err)
	}
	return node, name
}

// errorStatus is the HTTP status of each error code (api/errors.go).
var errorStatus = map[string]int{
	api.CodeInvalidArgument: http.StatusBadRequest,
	api.CodeUnauthenticated: http.StatusUnauthorized,
	api.CodeForbidden:       http.StatusForbidden,
	api.CodeNotFound:        http.StatusNotFound,
	api.CodeConflict:        http.StatusConflict,
	api.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	api.CodeRateLimited:     http.StatusTooManyRequests,
}

// FuzzRequestBodies sends each body to every write route: no answer is a 5xx, every 4xx is a
// JSON error with a code (matching the status) and a message, and no answer carries the planted
// secret (a stored credential's value, or a value sent in the body) or a ciphertext.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		// Realistic bodies, one or more per route.
		`{"name":"team-search","owner_name":"Ada","owner_email":"ada@example.com"}`,
		`{"max_concurrency":8}`,
		`{"name":"ci","role":"MEMBER","expires_in":"720h"}`,
		`{"kind":"demo.steps","args":{"steps":3,"step_ms":1},"priority":2,"idempotency_key":"k1","metadata":{"team":"search"}}`,
		`{"kind":"demo.echo","delay":"1h","timeout":"90s","max_attempts":3,"credentials":["planted"]}`,
		`{"kind":"demo.echo","run_at":"2030-01-01T00:00:00Z"}`,
		`{"fresh":true}`,
		`{"name":"openai","type":"API_KEY","scope":"USER","value":"` + secretToken + `","rotation_policy":"every 30d","metadata":{"env":"prod"}}`,
		`{"name":"team","scope":"WORKSPACE","value":"` + secretToken + `","expires_at":"2030-01-01T00:00:00Z"}`,
		`{"provider":"github","metadata":{"a":"b"},"rotation_policy":"","clear_expiry":true}`,
		`{"value":"` + secretToken + `"}`,
		`{"agent":true}`,
		`{"batch_size":100}`,
		`{"title":"Café notes","body":"links to [[Other Page]]\n","tags":["a","b"],"status":"PUBLISHED","visibility":"WORKSPACE"}`,
		`{"body":"second\n","message":"rewrite","if_version":1}`,
		`{"version":1}`,
		`{"workspace":"fuzz","capabilities":["knowledge.search","tasks.publish:demo.echo,demo.steps"],"expires_in":"24h"}`,
		`{"grants":[{"workspace":"fuzz","capabilities":["events.subscribe"]}]}`,
		`{"instance":"nobody","workspace":"notes","kind":"demo.echo","args":{"a":1},"priority":3,"timeout":"1m"}`,
		`{"type":"CONNECT","from":"01a2239e-cb63-75c9-9d57-054e374ae712","to":"01a2239e-cb78-735c-97df-42edca6233bd","ts":"2026-11-28T19:00:00Z","nonce":"bm9uY2U","body":{"identity":{"id":"01a2239e-cb63-75c9-9d57-054e374ae712","name":"x","public_key":"NBNEIGHLBPCXOAXS4P3PNVEIS6LPXLZKJLVSYUV5C6EVNIJPEWA4XX2P"},"http_url":"http://127.0.0.1:9"},"sig":"AAAA"}`,
		`{"type":"QUERY","from":"01a2239e-cb63-75c9-9d57-054e374ae712","to":"01a2239e-cb78-735c-97df-42edca6233bd","ts":"2026-11-28T19:00:00Z","nonce":"x","body":{"op":"status"},"sig":""}`,
		`{"workspace":"fuzz","capabilities":["credentials.read"]}`,
		`{"workspace":"fuzz","capabilities":["tasks.publish:"],"expires_in":"100000h"}`,
		// Tricky ones.
		``, `null`, `[]`, `{}`, `"` + secretToken + `"`, `{"name":"x"} {"name":"y"}`, `{"name":"x"}]`,
		`{"` + secretToken + `":1}`,
		`{"value":"` + secretToken + `","VALUE":"` + secretToken + `","Name":"dup","name":"dup2"}`,
		`{"value":"` + secretToken + `","name":"` + strings.Repeat("n", 129) + `"}`,
		`{"value":"` + secretToken + `","expires_at":"not a time"}`,
		`{"value":"` + secretToken + `","agent":true}`,
		`{"name":"\u0000","value":"\u0000"}`,
		`{"name":"nul","value":"` + secretToken + `","provider":"\u0000","metadata":{"\u0000":"\u0000"}}`,
		`{"kind":"demo.echo","metadata":{"k":"\u0000"},"idempotency_key":"\u0000"}`,
		`{"kind":"demo.echo","credentials":["\u0000"]}`,
		`{"kind":"demo.echo","args":{"message":"a\u0000b"}}`,
		`{"kind":"demo.echo","args":{"message":"a\\u0000b"}}`,
		`{"kind":"demo.steps","args":{"steps":1e131072}}`,
		`{"provider":"\u0000","metadata":{"k":"\u0000"}}`,
		`{"provider":"` + strings.Repeat("p", 65) + `"}`,
		`{"rotation_policy":"every 10001d","expires_at":"0000-01-01T00:00:00Z"}`,
		`{"kind":"credentials.rotate-secret"}`,
		`{"kind":"knowledge.index"}`,
		`{"kind":"demo.echo","priority":1e400}`,
		`{"kind":"demo.echo","max_attempts":9223372036854775808}`,
		`{"kind":"demo.echo","delay":"9223372036854775807ns"}`,
		`{"kind":"demo.echo","timeout":"2562047h47m16.854775807s"}`,
		`{"kind":"demo.echo","run_at":"0001-01-01T00:00:00Z"}`,
		`{"kind":"demo.echo","run_at":"9999-12-31T23:59:59+23:59"}`,
		`{"kind":"demo.echo","args":{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
		`{"max_concurrency":-1}`,
		`{"name":"x","role":"OWNER","expires_in":"-1h"}`,
		`{"title":"\u0000","body":"\u0000","tags":["\u0000"]}`,
		`{"title":" ","slug":"../../etc"}`,
		`{"slug":"other-slug","body":"x"}`,
		`{"version":-1}`,
		`{"version":2147483648}`,
		`{"batch_size":1001}`,
		"{\"name\":\"\xff\xfe\"}",
		`{"name":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	env := newBodyFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			t.Skip("body over 64 KiB")
		}
		body = bytes.ReplaceAll(body, []byte(secretToken), []byte(env.secret))
		for _, rt := range env.routes {
			env.check(t, rt, body)
		}
	})
}

func (env *bodyFuzzEnv) check(t *testing.T, rt fuzzRoute, body []byte) {
	t.Helper()
	req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
	token := env.owner
	if rt.admin {
		token = adminToken
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	resp := rec.Body.Bytes()
	route := rt.method + " " + rt.path
	if rec.Code >= 500 {
		t.Fatalf("%s with %q: %d %s", route, body, rec.Code, resp)
	}
	if rec.Code >= 400 {
		var e struct {
			Error *api.Error `json:"error"`
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s with %q: %d with Content-Type %q", route, body, rec.Code, ct)
		}
		if err := json.Unmarshal(resp, &e); err != nil || e.Error == nil || e.Error.Message == "" || errorStatus[e.Error.Code] != rec.Code {
			t.Fatalf("%s with %q: %d %s; want a JSON error with the status's code and a message", route, body, rec.Code, resp)
		}
	} else if rec.Code < 300 && len(resp) > 0 && !json.Valid(resp) { // 3xx: the mux's own path cleaning
		t.Fatalf("%s with %q: %d and a body that is not JSON: %q", route, body, rec.Code, resp)
	}
	if bytes.Contains(resp, []byte(env.secret)) && !echoedOutsideValue(body, env.secret) {
		t.Fatalf("%s with %q: the answer carries the secret value: %s", route, body, resp)
	}
	if bytes.Contains(resp, []byte("mosaic-keyring:v")) {
		t.Fatalf("%s with %q: the answer carries a ciphertext: %s", route, body, resp)
	}
}

// echoedOutsideValue reports whether the body itself puts secret where an answer may repeat it:
// anywhere but in a top-level "value" (matched without case, as encoding/json does), the one
// field that holds a credential's value.
func echoedOutsideValue(body []byte, secret string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return false
	}
	for k, v := range obj {
		if strings.EqualFold(k, "value") {
			continue
		}
		if strings.Contains(k, secret) || bytes.Contains(v, []byte(secret)) {
			return true
		}
	}
	return false
}
