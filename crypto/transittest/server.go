// Package transittest is a TEST DOUBLE of OpenBao's HTTP API for the Transit secrets engine — not
// OpenBao. OpenBao cannot run on the machines that build Mosaic, so the Transit client is tested
// against this server, which speaks the same wire protocol as recorded from a real OpenBao v2.6.2
// (shared/openbao-transit.md): the same paths (PUT or POST), the same JSON fields and envelope,
// "vault:v<N>:" ciphertexts of derived AES-256-GCM keys ("vault:v0:" read as version 1), the same
// error texts and HTTP statuses, the same batch behaviour (HTTP 400 with per-item results on
// partial failure unless partial_failure_response_code says otherwise; but a rewrap batch always
// 200, its failed items without plaintext), the same trap (encrypting to a missing key creates it
// when the token may create), create for a new key and update for an existing one, key
// configuration (minimum decryption and encryption versions, reversible until a trim deletes the
// versions below; exportable, which cannot be undone; deletion_allowed, which DELETE needs), token
// and AppRole authentication with renewal and OpenBao's default policy (without it a token cannot
// look itself up), and ACL policies on paths. Its ciphertexts are its own: they do not decrypt on a real OpenBao, nor the reverse.
//
// The same contract suite runs against this server and, when MOSAIC_TEST_OPENBAO_ADDR and
// MOSAIC_TEST_OPENBAO_TOKEN are set, against a real OpenBao.
package transittest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mosaicstack/mosaic/crypto/internal/aead"
)

// Policy grants capabilities ("create", "read", "update") on a path; a trailing '*' matches any
// suffix, as in OpenBao's ACL policies.
type Policy struct {
	Path         string
	Capabilities []string
}

// DefaultPolicy is the part of OpenBao's "default" policy that the Transit client uses: looking
// up and renewing its own token. OpenBao gives it to every token not created without it
// (no_default_policy); so do AddToken and AddAppRole, and AddTokenWithoutDefault does not.
var DefaultPolicy = []Policy{
	{Path: "auth/token/lookup-self", Capabilities: []string{"read"}},
	{Path: "auth/token/renew-self", Capabilities: []string{"update"}},
}

// Server is the Transit test double.
type Server struct {
	srv       *httptest.Server
	RootToken string

	mu       sync.Mutex
	mounts   map[string]map[string]*key // mount path → key name → key
	tokens   map[string]*token
	approles map[string]*approle
	now      func() time.Time
	requests int
}

type token struct {
	policies  []Policy
	root      bool
	ttl       time.Duration
	expires   time.Time
	renewable bool
	renewals  int
}

type approle struct {
	secretID string
	ttl      time.Duration
	policies []Policy
}

type key struct {
	name          string
	derived       bool
	versions      map[int][]byte
	created       map[int]int64
	latest        int
	minDecryption int
	// minEncryption 0: the latest. minAvailable: versions below it are deleted for good (trim);
	// raising minDecryption alone keeps them, and lowering it again brings them back, as OpenBao
	// does.
	minEncryption   int
	minAvailable    int
	exportable      bool
	deletionAllowed bool
}

// New starts a server with a root token and a transit mount at "transit".
func New() *Server {
	s := &Server{
		RootToken: "s.root-" + randHex(8),
		mounts:    map[string]map[string]*key{"transit": {}},
		tokens:    map[string]*token{},
		approles:  map[string]*approle{},
		now:       time.Now,
	}
	s.tokens[s.RootToken] = &token{root: true}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's address (OpenBao's BAO_ADDR).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Requests counts the requests served (for tests of retries and caching).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AddToken creates a token with policies and the default policy; ttl 0 never expires.
func (s *Server) AddToken(tok string, ttl time.Duration, policies ...Policy) {
	s.AddTokenWithoutDefault(tok, ttl, append(slices.Clone(policies), DefaultPolicy...)...)
}

// AddTokenWithoutDefault creates a token with these policies only (OpenBao's no_default_policy):
// it may not even look itself up.
func (s *Server) AddTokenWithoutDefault(tok string, ttl time.Duration, policies ...Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &token{policies: policies, ttl: ttl, renewable: ttl > 0}
	if ttl > 0 {
		t.expires = s.now().Add(ttl)
	}
	s.tokens[tok] = t
}

// AddAppRole lets role ID and secret ID log in (auth/approle/login) to tokens with these policies.
func (s *Server) AddAppRole(roleID, secretID string, ttl time.Duration, policies ...Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approles[roleID] = &approle{secretID: secretID, ttl: ttl, policies: append(slices.Clone(policies), DefaultPolicy...)}
}

// Renewals reports how many times a token was renewed.
func (s *Server) Renewals(tok string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		return t.renewals
	}
	return 0
}

// ServeHTTP lets the server be mounted elsewhere (fault-injecting proxies in tests).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

type apiError struct {
	status int
	msg    string
}

const denied = "1 error occurred:\n\t* permission denied\n\n"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErr(w, http.StatusNotFound, "404 page not found")
		return
	}
	var body map[string]any
	if r.Body != nil {
		raw, _ := io.ReadAll(r.Body)
		if len(raw) > 0 {
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				writeErr(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
				return
			}
		}
	}
	if body == nil {
		body = map[string]any{}
	}
	if p == "sys/health" {
		writeJSON(w, http.StatusOK, map[string]any{"initialized": true, "sealed": false, "standby": false, "version": "2.6.2-transittest"})
		return
	}
	if p == "auth/approle/login" {
		s.login(w, body)
		return
	}
	tok, authErr := s.authenticate(r)
	if authErr != nil {
		writeErr(w, authErr.status, authErr.msg)
		return
	}
	switch {
	case p == "auth/token/lookup-self":
		if !allowed(tok, p, "read") && !allowed(tok, p, "update") {
			writeErr(w, http.StatusForbidden, denied) // a token without the default policy
			return
		}
		s.lookupSelf(w, r, tok)
		return
	case p == "auth/token/renew-self":
		if !allowed(tok, p, "update") {
			writeErr(w, http.StatusForbidden, denied)
			return
		}
		s.renewSelf(w, tok)
		return
	case strings.HasPrefix(p, "sys/mounts/"):
		s.mount(w, r, tok, strings.TrimPrefix(p, "sys/mounts/"), body)
		return
	}
	mount, rest, _ := strings.Cut(p, "/")
	keys, ok := s.mounts[mount]
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
		return
	}
	op, name, _ := strings.Cut(rest, "/")
	// The capability a request needs, as OpenBao decides it: read for GET, delete for DELETE; a
	// write to a path with an existence check (a key, an encryption that may create its key) needs
	// create when the key does not exist and update when it does; any other write, update.
	capability := "update"
	switch {
	case r.Method == http.MethodGet:
		capability = "read"
	case r.Method == http.MethodDelete:
		capability = "delete"
	case op == "keys" && !strings.Contains(name, "/") || op == "encrypt":
		if _, exists := keys[name]; !exists {
			capability = "create"
		}
	}
	if op != "encrypt" && !allowed(tok, p, capability) {
		writeErr(w, http.StatusForbidden, denied)
		return
	}
	if op == "encrypt" && capability == "update" && !allowed(tok, p, "update") {
		writeErr(w, http.StatusForbidden, denied)
		return
	}
	var data map[string]any
	var e *apiError
	switch op {
	case "keys":
		data, e = s.keys(r, tok, mount, keys, p, name, body)
	case "encrypt":
		s.batchable(w, op, body, func(item map[string]any) (map[string]any, *apiError) {
			return s.encrypt(tok, p, keys, name, item)
		}, func() *apiError { return s.checkEncryptKey(tok, p, keys, name, body) })
		return
	case "decrypt":
		s.batchable(w, op, body, func(item map[string]any) (map[string]any, *apiError) {
			return s.decrypt(keys, name, item)
		}, func() *apiError { return keyExists(keys, name) })
		return
	case "rewrap":
		s.batchable(w, op, body, func(item map[string]any) (map[string]any, *apiError) {
			return s.rewrap(keys, name, item)
		}, func() *apiError { return keyExists(keys, name) })
		return
	case "datakey":
		data, e = s.datakey(keys, name, body)
	default:
		e = &apiError{http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p)}
	}
	if e != nil {
		writeErr(w, e.status, e.msg)
		return
	}
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeData(w, data)
}

func (s *Server) authenticate(r *http.Request) (*token, *apiError) {
	v := r.Header.Get("X-Vault-Token")
	if v == "" {
		v, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	t, ok := s.tokens[v]
	if !ok || (!t.expires.IsZero() && s.now().After(t.expires)) {
		return nil, &apiError{http.StatusForbidden, "permission denied"}
	}
	return t, nil
}

func allowed(t *token, p, capability string) bool {
	if t.root {
		return true
	}
	for _, pol := range t.policies {
		match := pol.Path == p
		if prefix, ok := strings.CutSuffix(pol.Path, "*"); ok {
			match = strings.HasPrefix(p, prefix)
		}
		if match && slices.Contains(pol.Capabilities, capability) {
			return true
		}
	}
	return false
}

func (s *Server) login(w http.ResponseWriter, body map[string]any) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	role, ok := s.approles[roleID]
	if !ok || role.secretID != secretID {
		writeErr(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	tok := "s.approle-" + randHex(12)
	t := &token{policies: role.policies, ttl: role.ttl, renewable: role.ttl > 0}
	if role.ttl > 0 {
		t.expires = s.now().Add(role.ttl)
	}
	s.tokens[tok] = t
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(tok, t)))
}

func authBlock(tok string, t *token) map[string]any {
	return map[string]any{"client_token": tok, "accessor": "acc-" + tok[len(tok)-6:], "policies": []string{"default"},
		"token_policies": []string{"default"}, "lease_duration": int(t.ttl.Seconds()), "renewable": t.renewable,
		"token_type": "service", "orphan": false}
}

func (s *Server) lookupSelf(w http.ResponseWriter, r *http.Request, t *token) {
	ttl := 0
	if !t.expires.IsZero() {
		ttl = int(t.expires.Sub(s.now()).Seconds())
	}
	writeData(w, map[string]any{"ttl": ttl, "renewable": t.renewable, "policies": []string{"default"}, "creation_ttl": int(t.ttl.Seconds())})
}

func (s *Server) renewSelf(w http.ResponseWriter, t *token) {
	if !t.renewable {
		writeErr(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	t.expires = s.now().Add(t.ttl)
	t.renewals++
	var tok string
	for k, v := range s.tokens {
		if v == t {
			tok = k
		}
	}
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(tok, t)))
}

func (s *Server) mount(w http.ResponseWriter, r *http.Request, t *token, p string, body map[string]any) {
	if !t.root {
		writeErr(w, http.StatusForbidden, denied)
		return
	}
	p = strings.Trim(p, "/")
	if r.Method == http.MethodGet {
		if _, ok := s.mounts[p]; !ok {
			writeErr(w, http.StatusBadRequest, "No secret engine mount at "+p+"/")
			return
		}
		writeData(w, map[string]any{"type": "transit", "description": ""})
		return
	}
	if typ, _ := body["type"].(string); typ != "transit" {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("plugin not found in the catalog: %s", typ))
		return
	}
	if _, ok := s.mounts[p]; ok {
		writeErr(w, http.StatusBadRequest, "path is already in use at "+p+"/")
		return
	}
	s.mounts[p] = map[string]*key{}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) newKey(name string, derived bool) *key {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return &key{name: name, derived: derived, versions: map[int][]byte{1: raw}, created: map[int]int64{1: s.now().Unix()},
		latest: 1, minDecryption: 1}
}

func (k *key) info() map[string]any {
	keys := map[string]any{}
	for v, ts := range k.created {
		if v >= k.minDecryption {
			keys[strconv.Itoa(v)] = ts
		}
	}
	d := map[string]any{"allow_plaintext_backup": false, "auto_rotate_period": 0, "deletion_allowed": k.deletionAllowed,
		"derived": k.derived, "exportable": k.exportable, "imported_key": false, "keys": keys, "latest_version": k.latest,
		"min_available_version": k.minAvailable, "min_decryption_version": k.minDecryption, "min_encryption_version": k.minEncryption,
		"name": k.name, "soft_deleted": false, "supports_decryption": true, "supports_derivation": true,
		"supports_encryption": true, "supports_signing": false, "type": "aes256-gcm96"}
	if k.derived {
		d["convergent_encryption"] = false
		d["kdf"] = "hkdf_sha256"
	}
	return d
}

func (s *Server) keys(r *http.Request, t *token, mount string, keys map[string]*key, p, name string, body map[string]any) (map[string]any, *apiError) {
	name, action, _ := strings.Cut(name, "/")
	k, exists := keys[name]
	switch {
	case action == "" && r.Method == http.MethodGet:
		if !exists {
			return nil, &apiError{http.StatusNotFound, ""}
		}
		return k.info(), nil
	case action == "" && r.Method == http.MethodDelete:
		if !exists {
			return nil, nil
		}
		if !k.deletionAllowed {
			return nil, &apiError{http.StatusBadRequest, "deletion is not allowed for this key"}
		}
		delete(keys, name)
		return nil, nil
	case action == "":
		if !exists {
			if typ, ok := body["type"].(string); ok && typ != "aes256-gcm96" {
				return nil, &apiError{http.StatusBadRequest, fmt.Sprintf("unknown key type %q", typ)}
			}
			derived, _ := body["derived"].(bool)
			k = s.newKey(name, derived)
			keys[name] = k
		}
		return k.info(), nil
	case !exists:
		return nil, &apiError{http.StatusBadRequest, "encryption key not found"}
	case action == "rotate":
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		k.latest++
		k.versions[k.latest], k.created[k.latest] = raw, s.now().Unix()
		return k.info(), nil
	case action == "config":
		return k.configure(body)
	case action == "trim":
		return k.trim(body)
	}
	return nil, &apiError{http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p)}
}

// configure is keys/K/config: every field checked before any is applied.
func (k *key) configure(body map[string]any) (map[string]any, *apiError) {
	minDec, minEnc := k.minDecryption, k.minEncryption
	if v, ok := body["min_decryption_version"]; ok {
		n, err := toInt(v)
		if err != nil || n < 0 || n > k.latest {
			return nil, &apiError{http.StatusBadRequest, "cannot set min decryption version of 0 or above the latest version"}
		}
		if n > 0 {
			minDec = n
		}
	}
	if v, ok := body["min_encryption_version"]; ok {
		n, err := toInt(v)
		if err != nil || n < 0 || n > k.latest {
			return nil, &apiError{http.StatusBadRequest, "cannot set min encryption version above the latest version"}
		}
		minEnc = n
	}
	if k.minAvailable > 0 && minDec < k.minAvailable {
		return nil, &apiError{http.StatusBadRequest, "min decryption version should not be less than min available version"}
	}
	if k.minAvailable > 0 && minEnc > 0 && minEnc < k.minAvailable {
		return nil, &apiError{http.StatusBadRequest, "min encryption version should not be less than min available version"}
	}
	exportable := k.exportable
	if v, ok := body["exportable"]; ok {
		b, _ := v.(bool)
		if k.exportable && !b {
			return nil, &apiError{http.StatusBadRequest, "cannot disable exportability"}
		}
		exportable = b
	}
	if v, ok := body["deletion_allowed"]; ok {
		k.deletionAllowed, _ = v.(bool)
	}
	k.minDecryption, k.minEncryption, k.exportable = minDec, minEnc, exportable
	return k.info(), nil
}

// trim is keys/K/trim: the versions below min_available_version are deleted for good, which
// OpenBao allows only once both minimums are set and not below it.
func (k *key) trim(body map[string]any) (map[string]any, *apiError) {
	n, err := toInt(body["min_available_version"])
	switch {
	case err != nil || n <= 0:
		return nil, &apiError{http.StatusBadRequest, "invalid min_available_version provided"}
	case k.minEncryption == 0:
		return nil, &apiError{http.StatusBadRequest, "minimum encryption version should not be zero when setting minimum available version"}
	case n > k.minDecryption || n > k.minEncryption:
		return nil, &apiError{http.StatusBadRequest, "minimum available version should not be greater than minimum decryption or encryption version"}
	case n < k.minAvailable:
		return nil, &apiError{http.StatusBadRequest, "minimum available version should not be less than the existing value"}
	}
	k.minAvailable = n
	for ver := range k.versions {
		if ver < n {
			delete(k.versions, ver)
			delete(k.created, ver)
		}
	}
	return k.info(), nil
}

func keyExists(keys map[string]*key, name string) *apiError {
	if _, ok := keys[name]; !ok {
		return &apiError{http.StatusBadRequest, "encryption key not found"}
	}
	return nil
}

// checkEncryptKey: encrypting to a missing key creates it when the token may create (OpenBao's
// upsert), the trap shared/openbao-transit.md warns of.
func (s *Server) checkEncryptKey(t *token, p string, keys map[string]*key, name string, body map[string]any) *apiError {
	if _, ok := keys[name]; ok {
		return nil
	}
	if !allowed(t, p, "create") {
		return &apiError{http.StatusForbidden, denied}
	}
	derived := false
	if c, ok := body["context"].(string); ok && c != "" {
		derived = true
	}
	if items, ok := body["batch_input"].([]any); ok && len(items) > 0 {
		if m, ok := items[0].(map[string]any); ok {
			if c, ok := m["context"].(string); ok && c != "" {
				derived = true
			}
		}
	}
	keys[name] = s.newKey(name, derived)
	return nil
}

const missingContext = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"

func (k *key) context(item map[string]any) ([]byte, *apiError) {
	c, _ := item["context"].(string)
	if !k.derived {
		return nil, nil
	}
	if c == "" {
		return nil, &apiError{http.StatusBadRequest, missingContext}
	}
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, err.Error()}
	}
	return b, nil
}

func (s *Server) encrypt(t *token, p string, keys map[string]*key, name string, item map[string]any) (map[string]any, *apiError) {
	k := keys[name]
	pt, _ := item["plaintext"].(string)
	plaintext, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, err.Error()}
	}
	kctx, e := k.context(item)
	if e != nil {
		return nil, e
	}
	version := k.latest
	if v, ok := item["key_version"]; ok {
		n, err := toInt(v)
		if err != nil || (n > 0 && (n < max(k.minEncryption, k.minAvailable, 1) || n > k.latest)) {
			return nil, &apiError{http.StatusBadRequest, "invalid key version"}
		}
		if n > 0 {
			version = n
		}
	}
	sealed, err := aead.Seal(k.versions[version], kctx, plaintext)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, err.Error()}
	}
	return map[string]any{"ciphertext": fmt.Sprintf("vault:v%d:%s", version, base64.StdEncoding.EncodeToString(sealed)), "key_version": version}, nil
}

func (k *key) open(item map[string]any) ([]byte, *apiError) {
	ct, _ := item["ciphertext"].(string)
	if ct == "" {
		return nil, &apiError{http.StatusBadRequest, "missing ciphertext to decrypt"}
	}
	kctx, e := k.context(item)
	if e != nil {
		return nil, e
	}
	rest, ok := strings.CutPrefix(ct, "vault:")
	if !ok {
		return nil, &apiError{http.StatusBadRequest, "invalid ciphertext: no prefix"}
	}
	ver, body, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(strings.TrimPrefix(ver, "v"))
	if !ok || !strings.HasPrefix(ver, "v") || err != nil {
		return nil, &apiError{http.StatusBadRequest, "invalid ciphertext: version number could not be decoded"}
	}
	sealed, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, "invalid ciphertext: could not decode base64"}
	}
	if n == 0 {
		n = 1 // OpenBao reads v0, an early format's version, as version 1
	}
	if n > k.latest {
		return nil, &apiError{http.StatusBadRequest, "invalid ciphertext: version is too new"}
	}
	if n < k.minDecryption || k.versions[n] == nil {
		return nil, &apiError{http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)"}
	}
	out, err := aead.Open(k.versions[n], kctx, sealed)
	if errors.Is(err, aead.ErrShort) {
		return nil, &apiError{http.StatusBadRequest, "invalid ciphertext length"}
	}
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, "cipher: message authentication failed"}
	}
	return out, nil
}

func (s *Server) decrypt(keys map[string]*key, name string, item map[string]any) (map[string]any, *apiError) {
	out, e := keys[name].open(item)
	if e != nil {
		return nil, e
	}
	return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(out)}, nil
}

func (s *Server) rewrap(keys map[string]*key, name string, item map[string]any) (map[string]any, *apiError) {
	k := keys[name]
	out, e := k.open(item)
	if e != nil {
		return nil, e
	}
	kctx, _ := k.context(item)
	sealed, err := aead.Seal(k.versions[k.latest], kctx, out)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, err.Error()}
	}
	return map[string]any{"ciphertext": fmt.Sprintf("vault:v%d:%s", k.latest, base64.StdEncoding.EncodeToString(sealed)), "key_version": k.latest}, nil
}

func (s *Server) datakey(keys map[string]*key, rest string, body map[string]any) (map[string]any, *apiError) {
	kind, name, _ := strings.Cut(rest, "/")
	if kind != "plaintext" && kind != "wrapped" {
		return nil, &apiError{http.StatusBadRequest, "Invalid path, must be 'plaintext' or 'wrapped'"}
	}
	if e := keyExists(keys, name); e != nil {
		return nil, e
	}
	k := keys[name]
	bits := 256
	if v, ok := body["bits"]; ok {
		n, err := toInt(v)
		if err != nil || (n != 128 && n != 256 && n != 512) {
			return nil, &apiError{http.StatusBadRequest, "invalid bit length"}
		}
		bits = n
	}
	kctx, e := k.context(body)
	if e != nil {
		return nil, e
	}
	dk := make([]byte, bits/8)
	_, _ = rand.Read(dk)
	sealed, err := aead.Seal(k.versions[k.latest], kctx, []byte(base64.StdEncoding.EncodeToString(dk)))
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, err.Error()}
	}
	out := map[string]any{"ciphertext": fmt.Sprintf("vault:v%d:%s", k.latest, base64.StdEncoding.EncodeToString(sealed)), "key_version": k.latest}
	if kind == "plaintext" {
		out["plaintext"] = base64.StdEncoding.EncodeToString(dk)
	}
	return out, nil
}

// batchable serves a single item or a batch_input, with Transit's batch rules: a batch with a
// failed item answers 400 (or partial_failure_response_code when some succeeded), a failed
// decrypt item carries an empty plaintext; but a rewrap batch answers 200 whatever failed,
// ignores partial_failure_response_code, and its failed items carry only their error.
func (s *Server) batchable(w http.ResponseWriter, op string, body map[string]any, one func(map[string]any) (map[string]any, *apiError), precheck func() *apiError) {
	raw, isBatch := body["batch_input"]
	if !isBatch {
		if e := precheck(); e != nil {
			writeErr(w, e.status, e.msg)
			return
		}
		data, e := one(body)
		if e != nil {
			writeErr(w, e.status, e.msg)
			return
		}
		writeData(w, data)
		return
	}
	items, _ := raw.([]any)
	if len(items) == 0 {
		writeErr(w, http.StatusBadRequest, "missing batch input to process")
		return
	}
	with := 0
	for _, it := range items {
		m, _ := it.(map[string]any)
		if c, ok := m["context"].(string); ok && c != "" {
			with++
		}
	}
	if with != 0 && with != len(items) {
		writeErr(w, http.StatusBadRequest, "context should be set either in all the request blocks or in none")
		return
	}
	if e := precheck(); e != nil {
		writeErr(w, e.status, e.msg)
		return
	}
	results := make([]map[string]any, len(items))
	failed := 0
	for i, it := range items {
		m, _ := it.(map[string]any)
		ref, _ := m["reference"].(string)
		data, e := one(m)
		if e != nil {
			failed++
			results[i] = map[string]any{"error": e.msg, "reference": ref}
			if op == "decrypt" {
				results[i]["plaintext"] = ""
			}
			continue
		}
		data["reference"] = ref
		results[i] = data
	}
	status := http.StatusOK
	if failed > 0 && op != "rewrap" {
		status = http.StatusBadRequest
		if code, ok := body["partial_failure_response_code"]; ok && failed < len(items) {
			if n, err := toInt(code); err == nil && n >= 200 && n < 600 {
				status = n
			}
		}
	}
	writeJSON(w, status, envelope(map[string]any{"batch_results": results}, nil))
}

func envelope(data, auth map[string]any) map[string]any {
	var d, a any
	if data != nil {
		d = data
	}
	if auth != nil {
		a = auth
	}
	return map[string]any{"request_id": randUUID(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": d, "wrap_info": nil, "warnings": nil, "auth": a}
}

func writeData(w http.ResponseWriter, data map[string]any) {
	writeJSON(w, http.StatusOK, envelope(data, nil))
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	errs := []string{}
	if msg != "" {
		errs = append(errs, msg)
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case string:
		return strconv.Atoi(n)
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
