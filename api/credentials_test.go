package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

type credEnv struct {
	owner, member, admin *client.Client
	ws                   uuid.UUID
	logs                 *bytes.Buffer
	url, ownerKey        string // for raw requests
}

func credServer(t *testing.T) credEnv {
	t.Helper()
	ctx := context.Background()
	db := pgtest.DB(t)
	creds := testCredentials(t, db)
	reg := agents.NewRegistry()
	credrotate.Register(reg, credrotate.Config{Credentials: creds})
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	logs := &bytes.Buffer{}
	log := zerolog.New(logs)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Tasks: tasks, Credentials: creds, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, srv)
	admin, _ := client.New(ts, adminToken)
	w, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "creds-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	user, err := db.AddMember(ctx, w.ID, "member", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := db.CreateAPIKey(ctx, w.ID, user, "member", store.RoleMember, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := client.New(ts, w.APIKey)
	member, _ := client.New(ts, key)
	return credEnv{owner: owner, member: member, admin: admin, ws: w.ID, logs: logs, url: ts, ownerKey: w.APIKey}
}

func secretValue(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestCredentialRoutes: create, list, get, update, rotate (a value, or the agent), delete and the
// audit log over HTTP; answers carry the masked value only; USER credentials are their owner's;
// WORKSPACE ones need ADMIN to change, SYSTEM ones the admin token; the values are in no answer,
// no log line and no PostgreSQL column.
func TestCredentialRoutes(t *testing.T) {
	t.Parallel()
	e := credServer(t)
	ctx := context.Background()
	base := "/v1/workspaces/" + e.ws.String() + "/credentials"
	v1, v2, team := secretValue("sk-one-"), secretValue("sk-two-"), secretValue("sk-team-")

	var raw json.RawMessage
	if err := e.owner.Do(ctx, http.MethodPost, base, api.PutCredentialRequest{Name: "openai", Type: store.CredentialAPIKey, Value: v1}, &raw); err != nil {
		t.Fatal(err)
	}
	var mine store.Credential
	if err := json.Unmarshal(raw, &mine); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(v1)) || mine.MaskedValue != "••••"+v1[len(v1)-4:] || mine.Scope != store.ScopeUser || mine.Version != 1 {
		t.Fatalf("create answered %s; want the masked value only, USER scope, version 1", raw)
	}
	if _, err := e.owner.PutCredential(ctx, e.ws, api.PutCredentialRequest{Name: "team", Scope: store.ScopeWorkspace, Value: team}); err != nil {
		t.Fatal(err)
	}

	// The member sees the WORKSPACE credential only and cannot change it.
	list, err := e.member.ListCredentials(ctx, e.ws)
	if err != nil || len(list) != 1 || list[0].Name != "team" {
		t.Fatalf("member lists %+v %v; want team only", list, err)
	}
	if _, err := e.member.GetCredential(ctx, e.ws, mine.ID); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("member gets the owner's USER credential: %v", err)
	}
	if _, err := e.member.RotateCredential(ctx, e.ws, list[0].ID, api.RotateCredentialRequest{Value: "x-" + team}); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("member rotates a WORKSPACE credential: %v", err)
	}
	for name, req := range map[string]api.PutCredentialRequest{
		"workspace scope": {Name: "w", Scope: store.ScopeWorkspace, Value: "v"},
		"system scope":    {Name: "s", Scope: store.ScopeSystem, Value: "v"},
	} {
		if _, err := e.member.PutCredential(ctx, e.ws, req); !mosaictype.IsCode(err, api.CodeForbidden) {
			t.Errorf("member, %s: %v; want forbidden", name, err)
		}
	}

	for name, req := range map[string]api.PutCredentialRequest{
		"no value":       {Name: "a"},
		"no name":        {Value: "v"},
		"long name":      {Name: strings.Repeat("n", 129), Value: "v"},
		"control chars":  {Name: "a\nb", Value: "v"},
		"bad type":       {Name: "a", Type: "TOKEN", Value: "v"},
		"bad scope":      {Name: "a", Scope: "TEAM", Value: "v"},
		"bad policy":     {Name: "a", RotationPolicy: "monthly", Value: "v"},
		"too large":      {Name: "a", Value: strings.Repeat("v", credentials.MaxValue+1)},
		"many metadata":  {Name: "a", Value: "v", Metadata: manyEntries(33)},
		"long provider":  {Name: "a", Value: "v", Provider: strings.Repeat("p", 65)},
		"duplicate name": {Name: "openai", Value: "v"},
	} {
		_, err := e.owner.PutCredential(ctx, e.ws, req)
		if !mosaictype.IsCode(err, api.CodeInvalidArgument) && !mosaictype.IsCode(err, api.CodeConflict) && !mosaictype.IsCode(err, api.CodeTooLarge) {
			t.Errorf("%s: %v; want a clear refusal", name, err)
		}
	}
	if err := e.owner.Do(ctx, http.MethodPost, base, map[string]any{"name": "a", "value": "v", "valu": "typo"}, nil); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Errorf("unknown field: %v", err)
	}

	// Update, rotate with a value, rotate by the agent, delete.
	policy := "every 30d"
	updated, err := e.owner.UpdateCredential(ctx, e.ws, mine.ID, api.UpdateCredentialRequest{RotationPolicy: &policy})
	if err != nil || updated.RotationPolicy == nil || *updated.RotationPolicy != policy || updated.Version != 1 {
		t.Fatalf("update: %+v %v", updated, err)
	}
	// Provider and metadata say where a rotation sends the value: bound to it, they change only
	// with the value given again.
	for _, req := range []api.UpdateCredentialRequest{{Metadata: map[string]string{"env": "prod"}}, {Provider: ptr("postgres")}} {
		if _, err := e.owner.UpdateCredential(ctx, e.ws, mine.ID, req); !mosaictype.IsCode(err, api.CodeInvalidArgument) ||
			!strings.Contains(err.Error(), "give the value again") {
			t.Fatalf("update %+v without the value: %v; want a refusal that says to give the value", req, err)
		}
	}
	bad := "fortnightly"
	if _, err := e.owner.UpdateCredential(ctx, e.ws, mine.ID, api.UpdateCredentialRequest{RotationPolicy: &bad}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("update with a bad policy: %v", err)
	}
	if err := e.owner.Do(ctx, http.MethodPost, base+"/"+mine.ID.String()+"/rotate", api.RotateCredentialRequest{Value: v2}, &raw); err != nil {
		t.Fatal(err)
	}
	var rotated store.Credential
	if err := json.Unmarshal(raw, &rotated); err != nil || rotated.Version != 2 || !rotated.HasPrevious || bytes.Contains(raw, []byte(v2)) {
		t.Fatalf("rotate answered %s (%v)", raw, err)
	}
	v3 := secretValue("v3-")
	updated, err = e.owner.UpdateCredential(ctx, e.ws, mine.ID, api.UpdateCredentialRequest{Metadata: map[string]string{"env": "prod"}, Value: v3})
	if err != nil || updated.Metadata["env"] != "prod" || updated.Version != 3 || !updated.HasPrevious {
		t.Fatalf("update of the metadata with the value: %+v %v", updated, err)
	}
	if _, err := e.owner.RotateCredential(ctx, e.ws, mine.ID, api.RotateCredentialRequest{Value: "x", Agent: true}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("rotate with a value and the agent: %v", err)
	}
	if _, err := e.owner.RotateCredential(ctx, e.ws, mine.ID, api.RotateCredentialRequest{}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("rotate with nothing: %v", err)
	}
	out, err := e.owner.RotateCredential(ctx, e.ws, mine.ID, api.RotateCredentialRequest{Agent: true})
	if err != nil || out["task_id"] == nil {
		t.Fatalf("rotate by the agent: %v %v", out, err)
	}
	taskID, _ := uuid.Parse(out["task_id"].(string))
	task, err := e.owner.GetTask(ctx, e.ws, taskID, 0)
	if err != nil || task.Kind != credrotate.KindRotateSecret {
		t.Fatalf("the agent's task: %+v %v", task, err)
	}
	if err := e.owner.DeleteCredential(ctx, e.ws, mine.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.owner.GetCredential(ctx, e.ws, mine.ID); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("get after delete: %v", err)
	}

	audit, err := e.owner.CredentialAudit(ctx, e.ws, mine.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, ","); got != "delete,rotate,update,rotate,update,create" {
		t.Fatalf("audit of the credential: %s; want delete,rotate,update,rotate,update,create (newest first)", got)
	}
	if _, err := e.owner.CredentialAudit(ctx, e.ws, uuid.Nil, 501); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
		t.Fatalf("audit with limit 501: %v", err)
	}

	for _, secret := range []string{v1, v2, v3, team} {
		if where := pgtest.FindInDatabase(t, secret); len(where) != 0 {
			t.Errorf("a credential value is in PostgreSQL: %v", where)
		}
		if bytes.Contains(e.logs.Bytes(), []byte(secret)) {
			t.Error("a credential value is in the API log")
		}
	}
	if !bytes.Contains(e.logs.Bytes(), []byte("/credentials")) {
		t.Fatal("the API log has no credential request lines: it would prove nothing")
	}
}

func manyEntries(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["k"+strings.Repeat("x", i)] = "v"
	}
	return m
}

// The rotation agent's jobs span what a workspace member may not touch (a key rotation rewraps
// every workspace), so they are not published through the task routes; key rotation is the admin
// token's.
func TestRotationJobsAreNotPublishedDirectly(t *testing.T) {
	t.Parallel()
	e := credServer(t)
	ctx := context.Background()
	for _, kind := range []string{credrotate.KindRotateKey, credrotate.KindRotateSecret} {
		_, err := e.owner.Publish(ctx, e.ws, api.PublishRequest{Kind: kind, Args: json.RawMessage(`{"credential_id":"` + uuid.NewString() + `"}`)})
		if !mosaictype.IsCode(err, api.CodeForbidden) || !strings.Contains(err.Error(), "rotation agent") {
			t.Fatalf("owner publishes %s: %v; want forbidden", kind, err)
		}
	}
	if _, err := e.owner.RotateKey(ctx, e.ws, crypto.KeyCredentials, api.RotateKeyRequest{}); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Fatalf("owner rotates a key: %v; want forbidden", err)
	}
	for _, bad := range []struct {
		key   string
		batch int
	}{{"mosaic-nope", 0}, {crypto.KeyCredentials, 5000}} {
		if _, err := e.admin.RotateKey(ctx, e.ws, bad.key, api.RotateKeyRequest{BatchSize: bad.batch}); !mosaictype.IsCode(err, api.CodeInvalidArgument) {
			t.Fatalf("rotate key %q batch %d: %v; want invalid argument", bad.key, bad.batch, err)
		}
	}
	out, err := e.admin.RotateKey(ctx, e.ws, crypto.KeyCredentials, api.RotateKeyRequest{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(out["task_id"].(string))
	if err != nil {
		t.Fatalf("rotate key answered %v", out)
	}
	task, err := e.owner.GetTask(ctx, e.ws, id, 0)
	if err != nil || task.Kind != credrotate.KindRotateKey || !strings.Contains(string(task.Args), `"batch_size":10`) {
		t.Fatalf("the queued task: %+v %v", task, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestNilWorkspaceIsRefusedAtTheEdge: the nil UUID in a path names no workspace. A key is refused
// as for any workspace it does not belong to (403), the admin token as for one that does not
// exist (404); before, the nil id passed for "no workspace in the path" and the request reached
// the database without one.
func TestNilWorkspaceIsRefusedAtTheEdge(t *testing.T) {
	t.Parallel()
	e := credServer(t)
	ctx := context.Background()
	for _, path := range []string{"/v1/workspaces/" + uuid.Nil.String() + "/credentials", "/v1/workspaces/" + uuid.Nil.String() + "/tasks"} {
		if err := e.owner.Do(ctx, http.MethodGet, path, nil, nil); !mosaictype.IsCode(err, api.CodeForbidden) {
			t.Errorf("GET %s with a workspace key: %v; want forbidden", path, err)
		}
		if err := e.admin.Do(ctx, http.MethodGet, path, nil, nil); !mosaictype.IsCode(err, api.CodeNotFound) {
			t.Errorf("GET %s with the admin token: %v; want not found", path, err)
		}
	}
	if err := e.owner.Do(ctx, http.MethodPost, "/v1/workspaces/"+uuid.Nil.String()+"/credentials",
		map[string]any{"name": "x", "value": "v", "scope": "WORKSPACE"}, nil); !mosaictype.IsCode(err, api.CodeForbidden) {
		t.Errorf("POST a credential into the nil workspace: %v; want forbidden", err)
	}
}

// TestNULAndInvalidUTF8AreRefused: a NUL byte or invalid UTF-8 in a path, a query parameter or a
// body field is a 400 that says where, never a 500 from PostgreSQL further in (nor, for invalid
// UTF-8 in a body, a value silently changed to U+FFFD).
func TestNULAndInvalidUTF8AreRefused(t *testing.T) {
	t.Parallel()
	e := credServer(t)
	ctx := context.Background()
	base := "/v1/workspaces/" + e.ws.String()
	raw := func(method, path, body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, method, e.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.ownerKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{
		base + "/tasks?kind=demo%00echo", base + "/tasks?status=%ff%fe", base + "/tasks?%00=1",
		base + "/credentials/abc%00def", base + "/tasks/%ff",
	} {
		if status, body := raw(http.MethodGet, path, ""); status != http.StatusBadRequest || !strings.Contains(body, "NUL byte or invalid UTF-8") {
			t.Errorf("GET %s: %d %s; want 400 naming the NUL or invalid UTF-8", path, status, body)
		}
	}
	for _, body := range []string{
		`{"name":"db\u0000x","value":"v"}`, `{"name":"db","value":"v","metadata":{"k":"a\u0000b"}}`,
		`{"name":"db","value":"v","metadata":{"k\u0000":"x"}}`, "{\"name\":\"db\xff\",\"value\":\"v\"}",
	} {
		if status, resp := raw(http.MethodPost, base+"/credentials", body); status != http.StatusBadRequest {
			t.Errorf("POST %q: %d %s; want 400", body, status, resp)
		}
	}
}
