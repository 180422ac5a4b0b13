// Package transittest is a TEST DOUBLE of OpenBao's HTTP API for the Transit secrets engine — not
// OpenBao. OpenBao cannot run on the machines that build Mosaic, so the Transit client is tested
// against this server, which speaks the same wire protocol as recorded from a real OpenBao v2.6.2
// (shared/openbao-transit.md), and was compared against OpenBao v2.6.2 (commit dd9c19c) on
// 2026-12-07: the same paths (PUT or POST), the same JSON fields and envelope, "vault:v<N>:"
// ciphertexts of derived AES-256-GCM keys ("vault:v0:" read as version 1), the same error texts
// (typos included) and HTTP statuses, the same batch behaviour (HTTP 400 with per-item results on
// partial failure unless partial_failure_response_code says otherwise; but a rewrap batch always
// 200, its failed items without plaintext, and a warning that rewrap ignored
// partial_failure_response_code), the same trap (encrypting to a missing key creates it when the
// token may create: transit/encrypt/K has an existence check, so it needs create for a missing key
// and update for an existing one), the update capability for every write to transit/keys/K, new key
// or not (that path has no existence check, so create is never enough), key configuration with
// OpenBao's checks in OpenBao's order (minimum decryption and encryption versions, reversible until
// a trim deletes the versions below; exportable, which a later false leaves set; deletion_allowed,
// which DELETE needs), OpenBao's conversion of int and bool fields (strings parsed, "Field
// validation failed" otherwise), token and AppRole authentication with renewal, a token lookup that
// lists the token's policies, OpenBao's default policy (without it a token cannot look itself up),
// and ACL policies on paths. Its ciphertexts are its own: they do not decrypt on a real OpenBao,
// nor the reverse.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mosaicstack/mosaic/crypto/internal/aead"
)

// Policy is one path rule of an OpenBao ACL policy: it grants capabilities ("create", "read",
// "update", "delete") on a path; a trailing '*' matches any suffix, as in OpenBao's ACL policies.
type Policy struct {
	// Name is the OpenBao policy the rule belongs to, as a token's lookup and renewal list it
	// (sorted, each once). Rules without a name are listed as "unnamed".
	Name         string
	Path         string
	Capabilities []string
}

// DefaultPolicy is the part of OpenBao's "default" policy that the Transit client uses: looking
// up and renewing its own token. OpenBao gives it to every token not created without it
// (no_default_policy); so do AddToken and AddAppRole, and AddTokenWithoutDefault does not.
var DefaultPolicy = []Policy{
	{Name: "default", Path: "auth/token/lookup-self", Capabilities: []string{"read"}},
	{Name: "default", Path: "auth/token/renew-self", Capabilities: []string{"update"}},
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

// token is what OpenBao's token store keeps of a token, as lookup-self shows it.
type token struct {
	id, accessor string
	policies     []Policy
	root         bool
	ttl          time.Duration
	issued       time.Time
	expires      time.Time // zero: never
	renewable    bool
	renewals     int
	lastRenewal  time.Time
	// path is where it was made (auth/token/create, auth/approle/login, auth/token/root);
	// displayName, entityID (AppRole logins have an entity), meta and orphan as OpenBao sets them
	// for that path.
	path, displayName, entityID string
	meta                        map[string]string
	orphan                      bool
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
	s.tokens[s.RootToken] = &token{id: s.RootToken, accessor: randAlnum(24), root: true, issued: s.now(),
		path: "auth/token/root", displayName: "root", orphan: true}
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

// AddToken creates a token with policies and the default policy, as auth/token/create would
// make it; ttl 0 never expires.
func (s *Server) AddToken(tok string, ttl time.Duration, policies ...Policy) {
	s.AddTokenWithoutDefault(tok, ttl, append(slices.Clone(policies), DefaultPolicy...)...)
}

// AddTokenWithoutDefault creates a token with these policies only (OpenBao's no_default_policy):
// it may not even look itself up.
func (s *Server) AddTokenWithoutDefault(tok string, ttl time.Duration, policies ...Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = s.newToken(tok, ttl, policies, "auth/token/create", "token", "", nil, false)
}

func (s *Server) newToken(id string, ttl time.Duration, policies []Policy, path, displayName, entityID string,
	meta map[string]string, orphan bool) *token {
	t := &token{id: id, accessor: randAlnum(24), policies: policies, ttl: ttl, renewable: ttl > 0, issued: s.now(),
		path: path, displayName: displayName, entityID: entityID, meta: meta, orphan: orphan}
	if ttl > 0 {
		t.expires = t.issued.Add(ttl)
	}
	return t
}

// AddAppRole lets role ID and secret ID log in (auth/approle/login) to tokens with these policies
// and the default policy.
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

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
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
		s.lookupSelf(w, tok)
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
	// write to a path with an existence check needs create when the thing does not exist and
	// update when it does; any other write, update. Of the paths served here only
	// transit/encrypt/K has an existence check (does the key exist?): transit/keys/K registers an
	// update operation alone, so writing it needs update even to create a new key.
	capability := "update"
	switch {
	case r.Method == http.MethodGet:
		capability = "read"
	case r.Method == http.MethodDelete:
		capability = "delete"
	case op == "encrypt":
		if _, exists := keys[name]; !exists {
			capability = "create"
		}
	}
	if !allowed(tok, p, capability) {
		writeErr(w, http.StatusForbidden, denied)
		return
	}
	var data map[string]any
	var warnings []string
	var e *apiError
	switch op {
	case "keys":
		data, warnings, e = s.keys(r, keys, p, name, body)
	case "encrypt":
		s.batchable(w, op, body, func(item map[string]any) (map[string]any, *apiError) {
			return s.encrypt(keys, name, item)
		}, func() *apiError { s.createOnEncrypt(keys, name, body); return nil })
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
	writeJSON(w, http.StatusOK, envelope(data, nil, warnings))
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

// policyNames lists a token's policies as OpenBao does: sorted, each once; "root" for the root
// token.
func (t *token) policyNames() []string {
	if t.root {
		return []string{"root"}
	}
	names := []string{}
	for _, p := range t.policies {
		n := p.Name
		if n == "" {
			n = "unnamed"
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
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
	t := s.newToken(tok, role.ttl, role.policies, "auth/approle/login", "approle", randUUID(),
		map[string]string{"role_name": roleID}, true)
	s.tokens[tok] = t
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(t), nil))
}

// authBlock is the "auth" of a login or a renewal, with the fields OpenBao's HTTP layer writes.
func authBlock(t *token) map[string]any {
	return map[string]any{"client_token": t.id, "accessor": t.accessor, "policies": t.policyNames(),
		"token_policies": t.policyNames(), "metadata": t.meta, "lease_duration": int(t.ttl.Seconds()),
		"renewable": t.renewable, "entity_id": t.entityID, "token_type": "service", "orphan": t.orphan,
		"mfa_requirement": nil, "num_uses": 0}
}

// lookupSelf answers with the fields of OpenBao's token lookup.
func (s *Server) lookupSelf(w http.ResponseWriter, t *token) {
	ttl := 0
	var expireTime any
	if !t.expires.IsZero() {
		ttl = int(t.expires.Sub(s.now()).Seconds())
		expireTime = t.expires
	}
	d := map[string]any{"accessor": t.accessor, "creation_time": t.issued.Unix(), "creation_ttl": int(t.ttl.Seconds()),
		"display_name": t.displayName, "entity_id": t.entityID, "expire_time": expireTime, "explicit_max_ttl": 0,
		"id": t.id, "issue_time": t.issued, "meta": t.meta, "num_uses": 0, "orphan": t.orphan, "path": t.path,
		"policies": t.policyNames(), "renewable": t.renewable, "ttl": ttl, "type": "service"}
	if !t.lastRenewal.IsZero() {
		d["last_renewal_time"] = t.lastRenewal.Unix()
		d["last_renewal"] = t.lastRenewal
	}
	writeJSON(w, http.StatusOK, envelope(d, nil, nil))
}

func (s *Server) renewSelf(w http.ResponseWriter, t *token) {
	if !t.renewable {
		writeErr(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	t.lastRenewal = s.now()
	t.expires = t.lastRenewal.Add(t.ttl)
	t.renewals++
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(t), nil))
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
		writeJSON(w, http.StatusOK, envelope(map[string]any{"type": "transit", "description": ""}, nil, nil))
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

// keys serves transit/keys/K and its actions, each with OpenBao's own text for a missing key.
func (s *Server) keys(r *http.Request, keys map[string]*key, p, name string, body map[string]any) (map[string]any, []string, *apiError) {
	name, action, _ := strings.Cut(name, "/")
	k, exists := keys[name]
	switch {
	case action == "" && r.Method == http.MethodGet:
		if !exists {
			return nil, nil, &apiError{http.StatusNotFound, ""}
		}
		return k.info(), nil, nil
	case action == "" && r.Method == http.MethodDelete:
		switch {
		case !exists:
			return nil, nil, badRequest("error deleting policy %s: could not delete key; not found", name)
		case !k.deletionAllowed:
			return nil, nil, badRequest("error deleting policy %s: deletion is not allowed for this key", name)
		}
		delete(keys, name)
		return nil, nil, nil
	case action == "":
		// The type is checked before the key is looked up, so a wrong one is refused for an
		// existing key too; writing an existing key changes nothing and says so.
		if typ, ok := body["type"].(string); ok && typ != "aes256-gcm96" {
			return nil, nil, badRequest("unknown key type %v", typ)
		}
		if exists {
			return k.info(), []string{fmt.Sprintf("key %s already existed", name)}, nil
		}
		derived, _ := body["derived"].(bool)
		k = s.newKey(name, derived)
		keys[name] = k
		return k.info(), nil, nil
	case action == "rotate":
		if !exists {
			return nil, nil, badRequest("key not found")
		}
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		k.latest++
		k.versions[k.latest], k.created[k.latest] = raw, s.now().Unix()
		return k.info(), nil, nil
	case action == "config":
		// OpenBao converts every field before the handler runs, so a malformed field is refused
		// even for a missing key.
		c, e := parseConfig(body)
		if e != nil {
			return nil, nil, e
		}
		if !exists {
			return nil, nil, badRequest("no existing key named %s could be found", name)
		}
		return k.configure(c)
	case action == "trim":
		n, given, e := intField(body, "min_available_version")
		switch {
		case e != nil:
			return nil, nil, e
		case !exists:
			return nil, nil, badRequest("invalid key name")
		case !given:
			return nil, nil, badRequest("missing min_available_version")
		}
		data, e := k.trim(n)
		return data, nil, e
	}
	return nil, nil, &apiError{http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p)}
}

// configRequest is the body of keys/K/config, each field nil when not given.
type configRequest struct {
	minDecryption, minEncryption *int
	deletionAllowed, exportable  *bool
}

func parseConfig(body map[string]any) (configRequest, *apiError) {
	var c configRequest
	for _, f := range []struct {
		name string
		dst  **int
	}{{"min_decryption_version", &c.minDecryption}, {"min_encryption_version", &c.minEncryption}} {
		n, given, e := intField(body, f.name)
		if e != nil {
			return c, e
		}
		if given {
			*f.dst = &n
		}
	}
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"deletion_allowed", &c.deletionAllowed}, {"exportable", &c.exportable}} {
		b, given, e := boolField(body, f.name)
		if e != nil {
			return c, e
		}
		if given {
			*f.dst = &b
		}
	}
	return c, nil
}

const minDecryptionZeroWarning = "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"

// configure is keys/K/config, with OpenBao's checks in OpenBao's order (path_keys_config.go):
// the minimum decryption version (not negative; 0 is forced to 1 with a warning; not above the
// latest), the minimum encryption version (not negative; not above the latest; 0 means the
// latest), the encryption minimum not below the decryption minimum (unless 0), then, only when
// something changed, neither minimum below the trimmed versions (the encryption one first).
// Nothing is applied unless every check passes. exportable cannot be undone: a false is ignored.
func (k *key) configure(c configRequest) (map[string]any, []string, *apiError) {
	minDec, minEnc, deletionAllowed, exportable := k.minDecryption, k.minEncryption, k.deletionAllowed, k.exportable
	var warnings []string
	changed := false
	if c.minDecryption != nil {
		n := *c.minDecryption
		if n < 0 {
			return nil, nil, badRequest("min decryption version cannot be negative")
		}
		if n == 0 {
			n = 1
			warnings = append(warnings, minDecryptionZeroWarning)
		}
		if n != minDec {
			if n > k.latest {
				return nil, nil, badRequest("cannot set min decryption version of %d, latest key version is %d", n, k.latest)
			}
			minDec, changed = n, true
		}
	}
	if c.minEncryption != nil {
		n := *c.minEncryption
		if n < 0 {
			return nil, nil, badRequest("min encryption version cannot be negative")
		}
		if n != minEnc {
			if n > k.latest {
				return nil, nil, badRequest("cannot set min encryption version of %d, latest key version is %d", n, k.latest)
			}
			minEnc, changed = n, true
		}
	}
	if minEnc > 0 && minEnc < minDec {
		return nil, nil, badRequest("cannot set min encryption/decryption values; min encryption version of %d must be greater than or equal to min decryption version of %d", minEnc, minDec)
	}
	if c.deletionAllowed != nil && *c.deletionAllowed != deletionAllowed {
		deletionAllowed, changed = *c.deletionAllowed, true
	}
	if c.exportable != nil && *c.exportable && !exportable {
		exportable, changed = true, true
	}
	if changed {
		switch {
		case k.minAvailable > minEnc:
			return nil, nil, badRequest("min encryption version should not be less than min available version")
		case k.minAvailable > minDec:
			return nil, nil, badRequest("min decryption version should not be less then min available version")
		}
	}
	k.minDecryption, k.minEncryption, k.deletionAllowed, k.exportable = minDec, minEnc, deletionAllowed, exportable
	return k.info(), warnings, nil
}

// trim is keys/K/trim: the versions below min_available_version are deleted for good, which
// OpenBao allows only once the minimum encryption version is set and both minimums are not below
// it; its checks in OpenBao's order (path_trim.go).
func (k *key) trim(n int) (map[string]any, *apiError) {
	switch {
	case n < k.minAvailable:
		return nil, badRequest("minimum available version cannot be decremented")
	case k.minEncryption == 0:
		return nil, badRequest("minimum available version cannot be set when minimum encryption version is not set")
	case n > k.minEncryption:
		return nil, badRequest("minimum available version cannot be greater than minmum encryption version")
	case n > k.minDecryption:
		return nil, badRequest("minimum available version cannot be greater than minimum decryption version")
	case n < 0:
		return nil, badRequest("minimum available version cannot be negative")
	case n == 0:
		return nil, badRequest("minimum available version should be positive")
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
		return badRequest("encryption key not found")
	}
	return nil
}

// createOnEncrypt: encrypting to a missing key creates it (OpenBao's upsert), the trap
// shared/openbao-transit.md warns of; serve has checked that the token may create.
func (s *Server) createOnEncrypt(keys map[string]*key, name string, body map[string]any) {
	if _, ok := keys[name]; ok {
		return
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
}

const missingContext = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"

// decodeContext decodes an item's base64 context, as OpenBao's handlers do before using the key.
func decodeContext(item map[string]any) ([]byte, *apiError) {
	c, _ := item["context"].(string)
	if c == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return nil, badRequest("%s", err.Error())
	}
	return b, nil
}

// context is an item's derivation context: required for a derived key, ignored otherwise.
func (k *key) context(item map[string]any) ([]byte, *apiError) {
	if !k.derived {
		return nil, nil
	}
	b, e := decodeContext(item)
	if e != nil {
		return nil, e
	}
	if len(b) == 0 {
		return nil, badRequest(missingContext)
	}
	return b, nil
}

func (s *Server) encrypt(keys map[string]*key, name string, item map[string]any) (map[string]any, *apiError) {
	k := keys[name]
	pt, _ := item["plaintext"].(string)
	plaintext, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, badRequest("%s", err.Error())
	}
	kctx, e := k.context(item)
	if e != nil {
		return nil, e
	}
	version := k.latest
	if v, ok := item["key_version"]; ok {
		n, err := toInt(v)
		switch {
		case err != nil:
			return nil, badRequest("invalid key version")
		case n < 0:
			return nil, badRequest("requested version for encryption is negative")
		case n > k.latest:
			return nil, badRequest("requested version for encryption is higher than the latest key version")
		case n > 0 && n < k.minEncryption:
			return nil, badRequest("requested version for encryption is less than the minimum encryption key version")
		case n > 0:
			version = n
		}
	}
	sealed, err := aead.Seal(k.versions[version], kctx, plaintext)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, err.Error()}
	}
	return map[string]any{"ciphertext": fmt.Sprintf("vault:v%d:%s", version, base64.StdEncoding.EncodeToString(sealed)), "key_version": version}, nil
}

// open decrypts an item's ciphertext with OpenBao's checks in OpenBao's order (keysutil's
// DecryptWithFactory): the "vault:v" prefix, two fields, the version (0 read as 1, not too new,
// not below the minimum), the base64 body, and only then a derived key's missing context.
func (k *key) open(item map[string]any) ([]byte, *apiError) {
	ct, _ := item["ciphertext"].(string)
	if ct == "" {
		return nil, badRequest("missing ciphertext to decrypt")
	}
	kctx, e := decodeContext(item)
	if e != nil {
		return nil, e
	}
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return nil, badRequest("invalid ciphertext: no prefix")
	}
	ver, body, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, badRequest("invalid ciphertext: wrong number of fields")
	}
	n, err := strconv.Atoi(ver)
	if err != nil {
		return nil, badRequest("invalid ciphertext: version number could not be decoded")
	}
	if n == 0 {
		n = 1 // OpenBao reads v0, an early format's version, as version 1
	}
	if n > k.latest {
		return nil, badRequest("invalid ciphertext: version is too new")
	}
	if n < k.minDecryption || k.versions[n] == nil {
		return nil, badRequest("ciphertext or signature version is disallowed by policy (too old)")
	}
	sealed, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, badRequest("invalid ciphertext: could not decode base64")
	}
	if !k.derived {
		kctx = nil
	} else if len(kctx) == 0 {
		return nil, badRequest(missingContext)
	}
	out, err := aead.Open(k.versions[n], kctx, sealed)
	if errors.Is(err, aead.ErrShort) {
		return nil, badRequest("invalid ciphertext length")
	}
	if err != nil {
		return nil, badRequest("cipher: message authentication failed")
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
		return nil, badRequest("Invalid path, must be 'plaintext' or 'wrapped'")
	}
	if e := keyExists(keys, name); e != nil {
		return nil, e
	}
	k := keys[name]
	bits := 256
	if v, ok := body["bits"]; ok {
		n, err := toInt(v)
		if err != nil || (n != 128 && n != 256 && n != 512) {
			return nil, badRequest("invalid bit length")
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

// rewrapFields are the fields of transit/rewrap/K's schema. OpenBao answers a request with other
// fields with a warning that names them: rewrap has no partial_failure_response_code, which
// Mosaic's batches send.
var rewrapFields = []string{"name", "ciphertext", "context", "key_version", "batch_input"}

// ignoredWarning is the warning OpenBao adds to a successful answer when the request carried
// fields the path's schema does not have (modelled for rewrap only; encrypt and decrypt take
// partial_failure_response_code).
func ignoredWarning(op string, body map[string]any) []string {
	if op != "rewrap" {
		return nil
	}
	var ignored []string
	for f := range body {
		if !slices.Contains(rewrapFields, f) {
			ignored = append(ignored, f)
		}
	}
	if len(ignored) == 0 {
		return nil
	}
	sort.Strings(ignored)
	return []string{fmt.Sprintf("Endpoint ignored these unrecognized parameters: %v", ignored)}
}

// batchable serves a single item or a batch_input, with Transit's batch rules: a batch with a
// failed item answers 400 (or partial_failure_response_code when some succeeded), a failed
// decrypt item carries an empty plaintext; but a rewrap batch answers 200 whatever failed,
// ignores partial_failure_response_code (with a warning that says so), and its failed items carry
// only their error.
func (s *Server) batchable(w http.ResponseWriter, op string, body map[string]any, one func(map[string]any) (map[string]any, *apiError), precheck func() *apiError) {
	warnings := ignoredWarning(op, body)
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
		writeJSON(w, http.StatusOK, envelope(data, nil, warnings))
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
	writeJSON(w, status, envelope(map[string]any{"batch_results": results}, nil, warnings))
}

// envelope is OpenBao's answer: data, auth and warnings are null when nil.
func envelope(data, auth map[string]any, warnings []string) map[string]any {
	var d, a, wr any
	if data != nil {
		d = data
	}
	if auth != nil {
		a = auth
	}
	if warnings != nil {
		wr = warnings
	}
	return map[string]any{"request_id": randUUID(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": d, "wrap_info": nil, "warnings": wr, "auth": a}
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

// intField reads an int field of a request as OpenBao's framework does before the handler runs
// (mapstructure's weak decoding): a JSON number (an integer: 2.5 is refused) or a string holding
// one (base prefixes allowed, "" is 0), a bool as 0 or 1, null as 0. given says whether the field
// was in the request. Numbers arrive as json.Number (serve decodes with UseNumber).
func intField(body map[string]any, field string) (n int, given bool, e *apiError) {
	v, given := body[field]
	if !given {
		return 0, false, nil
	}
	var str string
	switch x := v.(type) {
	case nil:
		return 0, true, nil
	case bool:
		if x {
			return 1, true, nil
		}
		return 0, true, nil
	case json.Number:
		str = string(x)
	case string:
		str = x
	default:
		return 0, true, fieldError(field, fmt.Sprintf("expected type 'int', got unconvertible type '%T'", v))
	}
	if str == "" {
		str = "0"
	}
	i, err := strconv.ParseInt(str, 0, 64)
	if err != nil {
		return 0, true, fieldError(field, "cannot parse value as 'int': "+numError(err))
	}
	return int(i), true, nil
}

// boolField reads a bool field as OpenBao's framework does: a bool, a number (not 0 is true) or a
// string as strconv.ParseBool reads it ("" is false), null as false.
func boolField(body map[string]any, field string) (b, given bool, e *apiError) {
	v, given := body[field]
	if !given {
		return false, false, nil
	}
	var str string
	switch x := v.(type) {
	case nil:
		return false, true, nil
	case bool:
		return x, true, nil
	case json.Number: // a string kind to mapstructure: parsed as a bool, so 1 is true and 2 an error
		str = string(x)
	case string:
		str = x
	default:
		return false, true, fieldError(field, fmt.Sprintf("expected type 'bool', got unconvertible type '%T'", v))
	}
	if str == "" {
		return false, true, nil
	}
	b, err := strconv.ParseBool(str)
	if err != nil {
		return false, true, fieldError(field, "cannot parse value as 'bool': "+numError(err))
	}
	return b, true, nil
}

// fieldError is OpenBao's answer to a field it cannot convert. The value's name in mapstructure's
// message is empty (a weak decode of one value has no field name), hence the empty quotes.
func fieldError(field, msg string) *apiError {
	return badRequest("Field validation failed: error converting input for field %q: '' %s", field, msg)
}

// numError is a strconv error as mapstructure writes it: without the value.
func numError(err error) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return "strconv." + ne.Func + ": " + ne.Err.Error()
	}
	return err.Error()
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

// randAlnum is n random letters and digits, like OpenBao's token accessors.
func randAlnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

func randUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
