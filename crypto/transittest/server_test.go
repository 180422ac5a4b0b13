package transittest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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
		"minimum available version cannot be set when minimum encryption version is not set")
	do(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":2,"min_encryption_version":2}`, ""})
	if a := do(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}); a.status != 200 || a.data["min_available_version"] != 2.0 {
		t.Fatalf("trim: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":1}`, ""}, 400,
		"min decryption version should not be less then min available version")
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

// transit/keys/K has no existence check in OpenBao v2.6.2: every write to it is an update, so a
// create-only token may not create a new key, and an update-only token may.
func TestWritingAKeyNeedsUpdateNewOrNot(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddToken("creator", 0, transittest.Policy{Path: "transit/keys/*", Capabilities: []string{"create"}})
	srv.AddToken("updater", 0, transittest.Policy{Path: "transit/keys/*", Capabilities: []string{"update"}})
	for _, method := range []string{"POST", "PUT"} {
		expectErr(t, srv, call{method, "transit/keys/new-" + method, `{}`, "creator"}, 403, "1 error occurred:\n\t* permission denied\n\n")
		if a := do(t, srv, call{method, "transit/keys/new-" + method, `{}`, "updater"}); a.status != 200 || a.data["latest_version"] != 1.0 {
			t.Fatalf("%s a new key with update only: %+v; want it created", method, a)
		}
		expectErr(t, srv, call{method, "transit/keys/new-" + method, `{}`, "creator"}, 403, "1 error occurred:\n\t* permission denied\n\n")
		if a := do(t, srv, call{method, "transit/keys/new-" + method, `{}`, "updater"}); a.status != 200 {
			t.Fatalf("%s an existing key with update: %+v", method, a)
		}
	}
}

// transit/encrypt/K has an existence check: a create-only token creates a missing key by
// encrypting to it and is refused on an existing one; an update-only token the reverse.
func TestEncryptNeedsCreateForAMissingKeyAndUpdateForAnExistingOne(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddToken("creator", 0, transittest.Policy{Path: "transit/encrypt/*", Capabilities: []string{"create"}})
	srv.AddToken("updater", 0, transittest.Policy{Path: "transit/encrypt/*", Capabilities: []string{"update"}})
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk="}`, "updater"}, 403, "1 error occurred:\n\t* permission denied\n\n")
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.status != 404 {
		t.Fatalf("an update-only encrypt to a missing key created it: %+v", a)
	}
	encryptOne(t, srv, "k", "creator")
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.status != 200 {
		t.Fatalf("a create-only encrypt to a missing key did not create it: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk="}`, "creator"}, 403, "1 error occurred:\n\t* permission denied\n\n")
	encryptOne(t, srv, "k", "updater")
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
	expectErr(t, srv, call{"DELETE", "transit/keys/k", ``, ""}, 400, "error deleting policy k: deletion is not allowed for this key")
	do(t, srv, call{"POST", "transit/keys/k/config", `{"deletion_allowed":true}`, ""})
	if a := do(t, srv, call{"DELETE", "transit/keys/k", ``, ""}); a.status != 204 {
		t.Fatalf("delete: %+v", a)
	}
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.status != 404 {
		t.Fatalf("the deleted key: %+v", a)
	}
}

// The key's configuration applies and reports exportable, min_encryption_version and
// deletion_allowed.
func TestKeyConfigFields(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	do(t, srv, call{"POST", "transit/keys/k", `{}`, ""})
	do(t, srv, call{"POST", "transit/keys/k/rotate", ``, ""})
	a := do(t, srv, call{"POST", "transit/keys/k/config", `{"exportable":true,"min_encryption_version":2,"deletion_allowed":true}`, ""})
	if a.status != 200 || a.data["exportable"] != true || a.data["min_encryption_version"] != 2.0 || a.data["deletion_allowed"] != true {
		t.Fatalf("config: %+v", a)
	}
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.data["exportable"] != true || a.data["min_encryption_version"] != 2.0 || a.data["deletion_allowed"] != true {
		t.Fatalf("the key after config: %+v", a.data)
	}
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

// What a comparison against OpenBao v2.6.2 (dd9c19c) on 2026-12-07 found the double did
// otherwise, one test per behaviour.

// keyAt creates key name and rotates it up to version latest.
func keyAt(t *testing.T, srv *transittest.Server, name string, latest int) {
	t.Helper()
	if a := do(t, srv, call{"POST", "transit/keys/" + name, `{}`, ""}); a.status != 200 {
		t.Fatalf("create %s: %+v", name, a)
	}
	for v := 2; v <= latest; v++ {
		if a := do(t, srv, call{"POST", "transit/keys/" + name + "/rotate", ``, ""}); a.data["latest_version"] != float64(v) {
			t.Fatalf("rotate %s: %+v", name, a)
		}
	}
}

// config answers key k's configuration with body and fails the test unless it succeeds.
func config(t *testing.T, srv *transittest.Server, body string) answer {
	t.Helper()
	a := do(t, srv, call{"POST", "transit/keys/k/config", body, ""})
	if a.status != 200 {
		t.Fatalf("config %s: %d %q", body, a.status, a.errors)
	}
	return a
}

func TestConfigMinEncryptionVersionAboveLatest(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_encryption_version":5}`, ""}, 400,
		"cannot set min encryption version of 5, latest key version is 3")
}

func TestConfigMinDecryptionVersionAboveLatest(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":5}`, ""}, 400,
		"cannot set min decryption version of 5, latest key version is 3")
}

// min_decryption_version 0 is forced to 1, with a warning.
func TestConfigMinDecryptionVersionZeroIsForcedToOne(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":2}`)
	a := config(t, srv, `{"min_decryption_version":0}`)
	warnings, _ := a.raw["warnings"].([]any)
	const want = "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"
	if a.data["min_decryption_version"] != 1.0 || len(warnings) != 1 || warnings[0] != want {
		t.Fatalf("min_decryption_version 0: minimum %v, warnings %v; want 1 and %q", a.data["min_decryption_version"], a.raw["warnings"], want)
	}
	if a := config(t, srv, `{"min_decryption_version":1}`); a.raw["warnings"] != nil {
		t.Fatalf("min_decryption_version 1: warnings %v; want null", a.raw["warnings"])
	}
}

func TestConfigNegativeMinimums(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":-1}`, ""}, 400, "min decryption version cannot be negative")
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_encryption_version":-1}`, ""}, 400, "min encryption version cannot be negative")
}

// An int field is converted as OpenBao's framework does: a string holding a number is read, any
// other is refused with the framework's message (whose quoted value is empty, verbatim).
func TestConfigIntFieldFromString(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":"abc"}`, ""}, 400,
		`Field validation failed: error converting input for field "min_decryption_version": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax`)
	if a := config(t, srv, `{"min_decryption_version":"2"}`); a.data["min_decryption_version"] != 2.0 {
		t.Fatalf(`min_decryption_version "2": %v; want 2`, a.data["min_decryption_version"])
	}
}

// The minimum encryption version may not be below the minimum decryption version, unless it is 0
// (the latest); nothing is applied when refused.
func TestConfigMinEncryptionBelowMinDecryption(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"min_decryption_version":3,"min_encryption_version":2}`, ""}, 400,
		"cannot set min encryption/decryption values; min encryption version of 2 must be greater than or equal to min decryption version of 3")
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.data["min_decryption_version"] != 1.0 || a.data["min_encryption_version"] != 0.0 {
		t.Fatalf("after the refused config: %+v; want it unchanged", a.data)
	}
	if a := config(t, srv, `{"min_decryption_version":3,"min_encryption_version":0}`); a.data["min_decryption_version"] != 3.0 {
		t.Fatalf("min_encryption_version 0 with min_decryption_version 3: %+v", a.data)
	}
}

// After a trim, neither minimum may go below the minimum available version; the checks answer in
// OpenBao's order (encryption before decryption, the enc>=dec rule before both).
func TestConfigAfterTrim(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":2,"min_encryption_version":2}`)
	if a := do(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}); a.status != 200 {
		t.Fatalf("trim: %+v", a)
	}
	for _, c := range []struct{ body, want string }{
		{`{"min_decryption_version":1}`, "min decryption version should not be less then min available version"},
		{`{"min_encryption_version":1}`, "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or equal to min decryption version of 2"},
		{`{"min_encryption_version":0}`, "min encryption version should not be less than min available version"},
		{`{"min_decryption_version":0}`, "min decryption version should not be less then min available version"},
		{`{"min_decryption_version":1,"min_encryption_version":1}`, "min encryption version should not be less than min available version"},
	} {
		expectErr(t, srv, call{"POST", "transit/keys/k/config", c.body, ""}, 400, c.want)
	}
	if a := do(t, srv, call{"GET", "transit/keys/k", ``, ""}); a.data["min_decryption_version"] != 2.0 || a.data["min_encryption_version"] != 2.0 {
		t.Fatalf("after the refused configs: %+v; want 2 and 2", a.data)
	}
}

// exportable cannot be undone, and asking is not an error: false is ignored.
func TestConfigExportableFalseIsIgnored(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 1)
	config(t, srv, `{"exportable":true}`)
	if a := config(t, srv, `{"exportable":false}`); a.data["exportable"] != true {
		t.Fatalf("exportable false after true: %v; want it still true", a.data["exportable"])
	}
}

// A bool field is converted as OpenBao's framework does: a string as strconv.ParseBool reads it.
func TestConfigBoolFieldFromString(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 1)
	expectErr(t, srv, call{"POST", "transit/keys/k/config", `{"deletion_allowed":"yes"}`, ""}, 400,
		`Field validation failed: error converting input for field "deletion_allowed": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax`)
	if a := config(t, srv, `{"deletion_allowed":"true"}`); a.data["deletion_allowed"] != true {
		t.Fatalf(`deletion_allowed "true": %v; want true`, a.data["deletion_allowed"])
	}
}

func TestConfigMissingKey(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	expectErr(t, srv, call{"POST", "transit/keys/nokey/config", `{"min_decryption_version":1}`, ""}, 400, "no existing key named nokey could be found")
}

// encrypt's key_version must lie between min_encryption_version and the latest version.
func TestEncryptKeyVersionBounds(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_encryption_version":2}`)
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk=","key_version":1}`, ""}, 400,
		"requested version for encryption is less than the minimum encryption key version")
	expectErr(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk=","key_version":4}`, ""}, 400,
		"requested version for encryption is higher than the latest key version")
	if a := do(t, srv, call{"POST", "transit/encrypt/k", `{"plaintext":"aGk=","key_version":2}`, ""}); a.status != 200 || a.data["key_version"] != 2.0 {
		t.Fatalf("key_version 2: %+v", a)
	}
}

func TestTrimNeedsMinEncryptionVersion(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":2}`)
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":1}`, ""}, 400,
		"minimum available version cannot be set when minimum encryption version is not set")
}

// The minimum available version may be neither of the minimums (OpenBao's "minmum", verbatim).
func TestTrimAboveMinimums(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":1,"min_encryption_version":3}`)
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}, 400,
		"minimum available version cannot be greater than minimum decryption version")
	config(t, srv, `{"min_decryption_version":2,"min_encryption_version":2}`)
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":3}`, ""}, 400,
		"minimum available version cannot be greater than minmum encryption version")
}

func TestTrimZeroOrMissing(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":2,"min_encryption_version":2}`)
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":0}`, ""}, 400, "minimum available version should be positive")
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{}`, ""}, 400, "missing min_available_version")
}

func TestTrimCannotDecrement(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 3)
	config(t, srv, `{"min_decryption_version":3,"min_encryption_version":3}`)
	if a := do(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":3}`, ""}); a.status != 200 {
		t.Fatalf("trim 3: %+v", a)
	}
	expectErr(t, srv, call{"POST", "transit/keys/k/trim", `{"min_available_version":2}`, ""}, 400, "minimum available version cannot be decremented")
}

func TestTrimMissingKey(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	expectErr(t, srv, call{"POST", "transit/keys/nokey/trim", `{"min_available_version":1}`, ""}, 400, "invalid key name")
}

// rewrap has no partial_failure_response_code: OpenBao answers with a warning that it ignored it;
// decrypt takes it, and says nothing.
func TestRewrapWarnsItIgnoresPartialFailureResponseCode(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 1)
	ct := encryptOne(t, srv, "k", "")
	batch := `{"batch_input":[{"ciphertext":"` + ct + `"}],"partial_failure_response_code":200}`
	a := do(t, srv, call{"POST", "transit/rewrap/k", batch, ""})
	warnings, _ := a.raw["warnings"].([]any)
	const want = "Endpoint ignored these unrecognized parameters: [partial_failure_response_code]"
	if a.status != 200 || len(warnings) != 1 || warnings[0] != want {
		t.Fatalf("rewrap batch: %d, warnings %v; want 200 and %q", a.status, a.raw["warnings"], want)
	}
	if a := do(t, srv, call{"POST", "transit/decrypt/k", batch, ""}); a.status != 200 || a.raw["warnings"] != nil {
		t.Fatalf("decrypt batch: %d, warnings %v; want 200 and null", a.status, a.raw["warnings"])
	}
	if a := do(t, srv, call{"POST", "transit/rewrap/k", `{"batch_input":[{"ciphertext":"` + ct + `"}]}`, ""}); a.raw["warnings"] != nil {
		t.Fatalf("rewrap batch without it: warnings %v; want null", a.raw["warnings"])
	}
}

func TestDeleteMissingKey(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	expectErr(t, srv, call{"DELETE", "transit/keys/nokey", ``, ""}, 400, "error deleting policy nokey: could not delete key; not found")
}

// The prefix is "vault:v"; after it come two fields.
func TestDecryptPrefixAndFields(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	keyAt(t, srv, "k", 1)
	expectErr(t, srv, call{"POST", "transit/decrypt/k", `{"ciphertext":"vault:"}`, ""}, 400, "invalid ciphertext: no prefix")
	expectErr(t, srv, call{"POST", "transit/decrypt/k", `{"ciphertext":"vault:v1"}`, ""}, 400, "invalid ciphertext: wrong number of fields")
}

// lookup-self answers with the token's fields and its real policies, sorted.
func TestTokenLookupListsTheTokenAndItsPolicies(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddToken("s.usual", time.Hour, transittest.Policy{Name: "pol-transit", Path: "transit/*", Capabilities: []string{"update"}})
	a := do(t, srv, call{"GET", "auth/token/lookup-self", ``, "s.usual"})
	d := a.data
	if a.status != 200 {
		t.Fatalf("lookup-self: %+v", a)
	}
	if got := fmt.Sprint(d["policies"]); got != "[default pol-transit]" {
		t.Errorf("policies %s; want [default pol-transit]", got)
	}
	for k, want := range map[string]any{"id": "s.usual", "path": "auth/token/create", "display_name": "token", "entity_id": "",
		"orphan": false, "type": "service", "num_uses": 0.0, "explicit_max_ttl": 0.0, "meta": nil, "renewable": true, "creation_ttl": 3600.0} {
		if got, ok := d[k]; !ok || got != want {
			t.Errorf("%s: %v (present %v); want %v", k, got, ok, want)
		}
	}
	if acc, _ := d["accessor"].(string); len(acc) != 24 {
		t.Errorf("accessor %q; want 24 characters", acc)
	}
	if ct, _ := d["creation_time"].(float64); ct < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("creation_time %v; want a recent Unix time", d["creation_time"])
	}
	for _, k := range []string{"issue_time", "expire_time"} {
		if s, _ := d[k].(string); s == "" {
			t.Errorf("%s %v; want an RFC 3339 time", k, d[k])
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("%s %q: %v", k, s, err)
		}
	}
	if ttl, _ := d["ttl"].(float64); ttl < 3590 || ttl > 3600 {
		t.Errorf("ttl %v; want about 3600", d["ttl"])
	}
}

// renew-self's auth block carries the token's policies, entity, metadata and uses; an AppRole
// login's token has an entity and the role in its metadata.
func TestRenewSelfAuthBlock(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	srv.AddAppRole("role-1", "secret-1", time.Hour, transittest.Policy{Name: "pol-transit", Path: "transit/*", Capabilities: []string{"update"}})
	login := do(t, srv, call{"POST", "auth/approle/login", `{"role_id":"role-1","secret_id":"secret-1"}`, "-"})
	tok := login.raw["auth"].(map[string]any)["client_token"].(string)
	a := do(t, srv, call{"POST", "auth/token/renew-self", ``, tok})
	auth, _ := a.raw["auth"].(map[string]any)
	if a.status != 200 || auth == nil {
		t.Fatalf("renew-self: %+v", a)
	}
	if fmt.Sprint(auth["policies"]) != "[default pol-transit]" || fmt.Sprint(auth["token_policies"]) != "[default pol-transit]" {
		t.Errorf("policies %v, token_policies %v; want [default pol-transit]", auth["policies"], auth["token_policies"])
	}
	if e, _ := auth["entity_id"].(string); len(e) != 36 {
		t.Errorf("entity_id %v; want an AppRole login's entity", auth["entity_id"])
	}
	if m, _ := auth["metadata"].(map[string]any); m["role_name"] != "role-1" {
		t.Errorf("metadata %v; want role_name role-1", auth["metadata"])
	}
	if n, ok := auth["num_uses"]; !ok || n != 0.0 {
		t.Errorf("num_uses %v (present %v); want 0", n, ok)
	}
	if auth["renewable"] != true || auth["lease_duration"] != 3600.0 || auth["client_token"] != tok {
		t.Errorf("auth %v", auth)
	}
	look := do(t, srv, call{"GET", "auth/token/lookup-self", ``, tok})
	if look.data["accessor"] != auth["accessor"] || look.data["entity_id"] != auth["entity_id"] || look.data["path"] != "auth/approle/login" {
		t.Errorf("lookup-self after renewal %v; want the same accessor and entity, path auth/approle/login", look.data)
	}
	if _, ok := look.data["last_renewal_time"]; !ok {
		t.Errorf("lookup-self after renewal has no last_renewal_time")
	}
}

// Beyond the comparison, read in OpenBao v2.6.2's source (builtin/logical/transit).

// path_rotate.go: rotating a missing key says "key not found".
func TestRotateMissingKey(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	expectErr(t, srv, call{"POST", "transit/keys/nokey/rotate", ``, ""}, 400, "key not found")
}

// path_keys.go: an unknown type is named unquoted, and refused for an existing key too; writing
// an existing key changes nothing and warns.
func TestWritingAKeyTypeAndExisting(t *testing.T) {
	srv := transittest.New()
	defer srv.Close()
	expectErr(t, srv, call{"POST", "transit/keys/k", `{"type":"rsa-9999"}`, ""}, 400, "unknown key type rsa-9999")
	keyAt(t, srv, "k", 1)
	expectErr(t, srv, call{"POST", "transit/keys/k", `{"type":"rsa-9999"}`, ""}, 400, "unknown key type rsa-9999")
	a := do(t, srv, call{"POST", "transit/keys/k", `{"derived":true}`, ""})
	warnings, _ := a.raw["warnings"].([]any)
	if a.status != 200 || a.data["derived"] != false || len(warnings) != 1 || warnings[0] != "key k already existed" {
		t.Fatalf("writing an existing key: %d %v, warnings %v; want 200, unchanged, \"key k already existed\"", a.status, a.data["derived"], a.raw["warnings"])
	}
}
