package transittest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/crypto/transittest"
)

// The test double answers as the real OpenBao did in shared/openbao-transit-transcript.txt:
// statuses, error texts and shapes.

type call struct {
	method, path string
	body         string
	token        string // "" means root; "-" means none
}

type answer struct {
	status int
	errors []string
	data   map[string]any
	raw    map[string]any
}

func do(t *testing.T, srv *transittest.Server, c call) answer {
	t.Helper()
	req, _ := http.NewRequest(c.method, srv.URL()+"/v1/"+c.path, bytes.NewBufferString(c.body))
	switch c.token {
	case "":
		req.Header.Set("X-Vault-Token", srv.RootToken)
	case "-":
	default:
		req.Header.Set("X-Vault-Token", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.raw); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", c.method, c.path, b)
		}
		if errs, ok := a.raw["errors"].([]any); ok {
			for _, e := range errs {
				a.errors = append(a.errors, e.(string))
			}
		}
		a.data, _ = a.raw["data"].(map[string]any)
	}
	return a
}

func expectErr(t *testing.T, srv *transittest.Server, c call, status int, msg string) {
	t.Helper()
	a := do(t, srv, c)
	if a.status != status || len(a.errors) != 1 || a.errors[0] != msg {
		t.Errorf("%s %s %s: %d %q; want %d %q", c.method, c.path, c.body, a.status, a.errors, status, msg)
	}
}

func TestTranscriptErrors(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	const ctxA, ctxB = "dGVuYW50LWE=", "dGVuYW50LWI="
	if a := do(t, srv, call{"POST", "transit/keys/k1", `{"type":"aes256-gcm96"}`, ""}); a.status != 200 || a.data["derived"] != false || a.data["latest_version"] != 1.0 {
		t.Fatalf("create k1: %+v", a)
	}
	a := do(t, srv, call{"POST", "transit/keys/kd", `{"type":"aes256-gcm96","derived":true}`, ""})
	if a.status != 200 || a.data["kdf"] != "hkdf_sha256" || a.data["derived"] != true {
		t.Fatalf("create kd: %+v", a)
	}
	enc := do(t, srv, call{"PUT", "transit/encrypt/kd", `{"plaintext":"aGVsbG8gd29ybGQ=","context":"` + ctxA + `"}`, ""})
	ct, _ := enc.data["ciphertext"].(string)
	if enc.status != 200 || !strings.HasPrefix(ct, "vault:v1:") || enc.data["key_version"] != 1.0 {
		t.Fatalf("encrypt: %+v", enc)
	}
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings", "auth"} {
		if _, ok := enc.raw[k]; !ok {
			t.Errorf("the envelope lacks %q", k)
		}
	}
	dec := do(t, srv, call{"POST", "transit/decrypt/kd", `{"ciphertext":"` + ct + `","context":"` + ctxA + `"}`, ""})
	if dec.data["plaintext"] != "aGVsbG8gd29ybGQ=" {
		t.Fatalf("decrypt: %+v", dec)
	}
	const missingCtx = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
	expectErr(t, srv, call{"POST", "transit/decrypt/kd", `{"ciphertext":"` + ct + `","context":"` + ctxB + `"}`, ""}, 400, "cipher: message authentication failed")
	expectErr(t, srv, call{"POST", "transit/encrypt/kd", `{"plaintext":"aGVsbG8gd29ybGQ="}`, ""}, 400, missingCtx)
	expectErr(t, srv, call{"POST", "transit/decrypt/kd", `{"ciphertext":"` + ct + `"}`, ""}, 400, missingCtx)
	expectErr(t, srv, call{"POST", "transit/decrypt/kd", `{"ciphertext":"` + ct + `","context":"not base64!!"}`, ""}, 400, "illegal base64 data at input byte 3")
	expectErr(t, srv, call{"POST", "transit/decrypt/nokey", `{"ciphertext":"` + ct + `"}`, ""}, 400, "encryption key not found")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"garbage"}`, ""}, 400, "invalid ciphertext: no prefix")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:v1:!!!notbase64"}`, ""}, 400, "invalid ciphertext: could not decode base64")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, ""}, 400, "cipher: message authentication failed")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:vX:AAAA"}`, ""}, 400, "invalid ciphertext: version number could not be decoded")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:v9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, ""}, 400, "invalid ciphertext: version is too new")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:v1:AAAA"}`, ""}, 400, "invalid ciphertext length")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":""}`, ""}, 400, "missing ciphertext to decrypt")
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{}`, ""}, 400, "missing ciphertext to decrypt")
	expectErr(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"not base64!!"}`, ""}, 400, "illegal base64 data at input byte 3")
	expectErr(t, srv, call{"POST", "nomount/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, ""}, 404, `no handler for route "nomount/encrypt/k1". route entry not found.`)
	expectErr(t, srv, call{"POST", "transit/datakey/bogus/k1", `{}`, ""}, 400, "Invalid path, must be 'plaintext' or 'wrapped'")
	expectErr(t, srv, call{"POST", "sys/mounts/transit", `{"type":"transit"}`, ""}, 400, "path is already in use at transit/")
	expectErr(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, "-"}, 403, "permission denied")
	expectErr(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, "s.not-a-token"}, 403, "permission denied")

	// The trap: encrypting to a missing key creates it (for a token that may create).
	if a := do(t, srv, call{"POST", "transit/encrypt/nokey", `{"plaintext":"aGVsbG8gd29ybGQ="}`, ""}); a.status != 200 || a.data["key_version"] != 1.0 {
		t.Errorf("encrypt to a missing key: %+v; want it created", a)
	}
	if a := do(t, srv, call{"GET", "transit/keys/nokey", ``, ""}); a.status != 200 {
		t.Errorf("the auto-created key: %d", a.status)
	}

	// Rotation, rewrap and the minimum decryption version.
	k1 := do(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, ""}).data["ciphertext"].(string)
	if a := do(t, srv, call{"POST", "transit/keys/k1/rotate", ``, ""}); a.data["latest_version"] != 2.0 {
		t.Fatalf("rotate: %+v", a)
	}
	rw := do(t, srv, call{"POST", "transit/rewrap/k1", `{"ciphertext":"` + k1 + `"}`, ""})
	if !strings.HasPrefix(rw.data["ciphertext"].(string), "vault:v2:") || rw.data["key_version"] != 2.0 {
		t.Fatalf("rewrap: %+v", rw)
	}
	cfg := do(t, srv, call{"POST", "transit/keys/k1/config", `{"min_decryption_version":2}`, ""})
	if keys := cfg.data["keys"].(map[string]any); len(keys) != 1 || keys["2"] == nil {
		t.Errorf("after min_decryption_version 2 the keys are %v; want only 2", keys)
	}
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"` + k1 + `"}`, ""}, 400, "ciphertext or signature version is disallowed by policy (too old)")
	expectErr(t, srv, call{"POST", "transit/rewrap/k1", `{"ciphertext":"` + k1 + `"}`, ""}, 400, "ciphertext or signature version is disallowed by policy (too old)")
}

func TestTranscriptBatches(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	const ctxA, ctxB = "dGVuYW50LWE=", "dGVuYW50LWI="
	do(t, srv, call{"POST", "transit/keys/kd", `{"type":"aes256-gcm96","derived":true}`, ""})
	do(t, srv, call{"POST", "transit/keys/k1", `{"type":"aes256-gcm96"}`, ""})
	expectErr(t, srv, call{"POST", "transit/encrypt/kd", `{"batch_input":[{"plaintext":"aGVsbG8gd29ybGQ=","context":"` + ctxA + `","reference":"r1"},{"plaintext":"aGVsbG8gd29ybGQ=","reference":"r3"}]}`, ""},
		400, "context should be set either in all the request blocks or in none")
	expectErr(t, srv, call{"POST", "transit/encrypt/k1", `{"batch_input":[]}`, ""}, 400, "missing batch input to process")
	expectErr(t, srv, call{"POST", "transit/decrypt/nokey2", `{"batch_input":[{"ciphertext":"vault:v1:AAAA"}]}`, ""}, 400, "encryption key not found")

	enc := do(t, srv, call{"POST", "transit/encrypt/kd", `{"batch_input":[{"plaintext":"aGVsbG8gd29ybGQ=","context":"` + ctxA + `","reference":"r1"},{"plaintext":"c2Vjb25k","context":"` + ctxB + `","reference":"r2"}]}`, ""})
	res := enc.data["batch_results"].([]any)
	ct1, ct2 := res[0].(map[string]any)["ciphertext"].(string), res[1].(map[string]any)["ciphertext"].(string)
	if enc.status != 200 || res[1].(map[string]any)["reference"] != "r2" {
		t.Fatalf("batch encrypt: %+v", enc)
	}
	partial := `[{"ciphertext":"` + ct1 + `","context":"` + ctxA + `","reference":"r1"},{"ciphertext":"` + ct2 + `","context":"` + ctxA + `","reference":"r2-wrongctx"},{"ciphertext":"garbage","context":"` + ctxA + `","reference":"bad"}]`
	a := do(t, srv, call{"POST", "transit/decrypt/kd", `{"batch_input":` + partial + `}`, ""})
	if a.status != 400 || a.errors != nil || len(a.data["batch_results"].([]any)) != 3 {
		t.Fatalf("partial failure: %d %v %+v; want 400, no errors, the per-item results", a.status, a.errors, a.data)
	}
	items := a.data["batch_results"].([]any)
	if items[0].(map[string]any)["plaintext"] != "aGVsbG8gd29ybGQ=" ||
		items[1].(map[string]any)["error"] != "cipher: message authentication failed" ||
		items[2].(map[string]any)["error"] != "invalid ciphertext: no prefix" {
		t.Errorf("per-item results: %+v", items)
	}
	a = do(t, srv, call{"POST", "transit/decrypt/kd", `{"partial_failure_response_code":200,"batch_input":` + partial + `}`, ""})
	if a.status != 200 {
		t.Errorf("partial failure with partial_failure_response_code 200: %d", a.status)
	}
	a = do(t, srv, call{"POST", "transit/decrypt/k1", `{"partial_failure_response_code":200,"batch_input":[{"ciphertext":"garbage"}]}`, ""})
	if a.status != 400 {
		t.Errorf("every item failing: %d; want 400 whatever the partial failure code", a.status)
	}
}

func TestPoliciesAndAppRole(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k1", `{"type":"aes256-gcm96"}`, ""})
	srv.AddToken("s.enc-only", time.Hour, transittest.Policy{Path: "transit/encrypt/k1", Capabilities: []string{"update"}})
	if a := do(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, "s.enc-only"}); a.status != 200 {
		t.Fatalf("allowed encrypt: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/decrypt/k1", `{"ciphertext":"vault:v1:AAAA"}`, "s.enc-only"}, 403, "1 error occurred:\n\t* permission denied\n\n")
	// Without create, encrypting to a missing key does not create it.
	expectErr(t, srv, call{"POST", "transit/encrypt/typo", `{"plaintext":"aGVsbG8gd29ybGQ="}`, "s.enc-only"}, 403, "1 error occurred:\n\t* permission denied\n\n")

	srv.AddAppRole("role-1", "secret-1", time.Minute, transittest.Policy{Path: "transit/*", Capabilities: []string{"update"}})
	expectErr(t, srv, call{"POST", "auth/approle/login", `{"role_id":"role-1","secret_id":"wrong"}`, "-"}, 400, "invalid role or secret ID")
	login := do(t, srv, call{"POST", "auth/approle/login", `{"role_id":"role-1","secret_id":"secret-1"}`, "-"})
	auth := login.raw["auth"].(map[string]any)
	tok := auth["client_token"].(string)
	if auth["lease_duration"] != 60.0 || auth["renewable"] != true {
		t.Fatalf("login: %+v", auth)
	}
	if a := do(t, srv, call{"POST", "transit/encrypt/k1", `{"plaintext":"aGVsbG8gd29ybGQ="}`, tok}); a.status != 200 {
		t.Fatalf("AppRole token encrypt: %+v", a)
	}
	if a := do(t, srv, call{"POST", "auth/token/renew-self", ``, tok}); a.status != 200 || srv.Renewals(tok) != 1 {
		t.Fatalf("renew: %+v", a)
	}
}

// What OpenBao v2.6.2 does that the double once did not, one test per behaviour.

func encryptOne(t *testing.T, srv *transittest.Server, key, token string) string {
	t.Helper()
	a := do(t, srv, call{"POST", "transit/encrypt/" + key, `{"plaintext":"aGk="}`, token})
	ct, _ := a.data["ciphertext"].(string)
	if a.status != 200 || ct == "" {
		t.Fatalf("encrypt: %+v", a)
	}
	return ct
}

// Raising min_decryption_version keeps the older versions: lowering it again makes their
// ciphertexts decrypt. Only trim deletes them, after which the minimum cannot go below it.
func TestMinDecryptionVersionIsReversibleUntilTrimmed(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	v1 := encryptOne(t, srv, "k", "")
	do(t, srv, call{"POST", "transit/keys/k/rotate", ``, ""})
	dec := call{"POST", "transit/decrypt/k", `{"ciphertext":"` + v1 + `"}`, ""}

	do(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":2}`, ""})
	expectErr(t, srv, dec, 400, "ciphertext or signature version is disallowed by policy (too old)")
	do(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":1}`, ""})
	if a := do(t, srv, dec); a.status != 200 || a.data["plaintext"] != "aGk=" {
		t.Fatalf("after lowering the minimum again, v1: %+v; OpenBao decrypts it", a)
	}

	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}, 400,
		"minimum encryption version should not be zero when setting minimum available version")
	do(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":2,"min_encryption_version":2}`, ""})
	if a := do(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}); a.status != 200 || a.data["min_available_version"] != 2.0 {
		t.Fatalf("trim: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":1}`, ""}, 400,
		"min decryption version should not be less than min available version")
	expectErr(t, srv, dec, 400, "ciphertext or signature version is disallowed by policy (too old)")
}

// A rewrap batch answers 200 whatever failed, ignores partial_failure_response_code, and its
// failed items carry their error and no plaintext; a decrypt batch answers 400.
func TestRewrapBatchAnswers200WhateverFails(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	bad := `{"batch_input":[{"ciphertext":"vault:v1:AAAA"},{"ciphertext":"vault:v9:AAAA"}],"partial_failure_response_code":207}`
	a := do(t, srv, call{"POST", "transit/rewrap/k", bad, ""})
	if a.status != 200 {
		t.Fatalf("rewrap batch with every item failing: HTTP %d; OpenBao answers 200", a.status)
	}
	for _, r := range a.data["batch_results"].([]any) {
		m := r.(map[string]any)
		if _, has := m["plaintext"]; has || m["error"] == "" || m["error"] == nil {
			t.Fatalf("failed rewrap item %v: want an error and no plaintext", m)
		}
	}
	if a := do(t, srv, call{"POST", "transit/decrypt/k", bad, ""}); a.status != 400 {
		t.Fatalf("decrypt batch with every item failing: HTTP %d; want 400", a.status)
	}
}

// Writing a key that exists is an update, not a create; encrypting to an existing key too.
func TestWritingAnExistingKeyNeedsUpdate(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddToken("creator", 0, transittest.Policy{Path: "transit/keys/*", Capabilities: []string{"create"}},
		transittest.Policy{Path: "transit/encrypt/*", Capabilities: []string{"create"}})
	if a := do(t, srv, call{"POST", "transit/keys/k", `{}`, "creator"}); a.status != 200 {
		t.Fatalf("create a new key with create: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/keys/k", `{}`, "creator"}, 403, "1 error occurred:\n\t* permission denied\n\n")
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk="}`, "creator"}, 403, "1 error occurred:\n\t* permission denied\n\n")
}

// A token without the default policy may not look itself up.
func TestTokenLookupNeedsTheDefaultPolicy(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddTokenWithoutDefault("bare", 0, transittest.Policy{Path: "transit/*", Capabilities: []string{"update"}})
	srv.AddToken("usual", 0, transittest.Policy{Path: "transit/*", Capabilities: []string{"update"}})
	if a := do(t, srv, call{"GET", "auth/token/lookup-self", ``, "bare"}); a.status != 403 {
		t.Fatalf("lookup-self without the default policy: %+v", a)
	}
	if a := do(t, srv, call{"GET", "auth/token/lookup-self", ``, "usual"}); a.status != 200 {
		t.Fatalf("lookup-self with the default policy: %+v", a)
	}
}

// DELETE transit/keys/K deletes (with the delete capability, and only when deletion_allowed).
func TestDeleteKeyNeedsDeletionAllowed(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	srv.AddToken("writer", 0, transittest.Policy{Path: "transit/keys/*", Capabilities: []string{"create", "update"}})
	expectErr(t, srv, call{"DELETE", "transit/keys/k", ``, "writer"}, 403, "1 error occurred:\n\t* permission denied\n\n")
	expectErr(t, srv, call{"DELETE", "transit/keys/k", ``, ""}, 400, "deletion is not allowed for this key")
	do(t, srv, call{"POST", "transit/keys/k/config", `{"deletion_allowed":true}`, ""})
	if a := do(t, srv, call{"DELETE", "transit/keys/k", ``, ""}); a.status != 204 {
		t.Fatalf("delete: %+v", a)
	}
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.status != 404 {
		t.Fatalf("the deleted key: %+v", a)
	}
}

// exportable cannot be turned off; min_encryption_version bounds the versions encrypt may use;
// the key's configuration reports both, and deletion_allowed.
func TestKeyConfigFields(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	do(t, srv, call{"POST", "transit/keys/k/rotate", ``, ""})
	a := do(t, srv, call{"POST", "transit/keys/k/config", `{"exportable":true,"min_encryption_version":2,"deletion_allowed":true}`, ""})
	if a.status != 200 || a.data["exportable"] != true || a.data["min_encryption_version"] != 2.0 || a.data["deletion_allowed"] != true {
		t.Fatalf("config: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"exportable":false}`, ""}, 400, "cannot disable exportability")
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk=","key_version":1}`, ""}, 400, "invalid key version")
}

// A "vault:v0:" ciphertext is read as version 1.
func TestV0CiphertextIsVersion1(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	v1 := encryptOne(t, srv, "k", "")
	v0 := strings.Replace(v1, "vault:v1:", "vault:v0:", 1)
	if a := do(t, srv, call{"POST", "transit/decrypt/k", `{"ciphertext":"` + v0 + `"}`, ""}); a.status != 200 || a.data["plaintext"] != "aGk=" {
		t.Fatalf("decrypt %s: %+v", v0, a)
	}
}
