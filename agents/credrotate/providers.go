package credrotate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/store"
)

// Provider sets and tests a credential's value where it is used.
type Provider interface {
	// Generate makes the next value.
	Generate(ctx context.Context, cred store.Credential) (crypto.Secret, error)
	// Set makes next the value at the provider (current is the value in use). It must be safe to
	// call again after a crash: next may already be set.
	Set(ctx context.Context, cred store.Credential, current, next crypto.Secret) error
	// Test checks that next works at the provider.
	Test(ctx context.Context, cred store.Credential, next crypto.Secret) error
}

// ErrProvider: a provider's configuration (the credential's metadata) is wrong.
var ErrProvider = errors.New("rotation provider")

// Random rotates application secrets: a fresh random value, nothing to set or test elsewhere.
type Random struct {
	// Bytes of randomness. Default 32 (encoded base64url).
	Bytes int
}

// Generate implements Provider.
func (r Random) Generate(context.Context, store.Credential) (crypto.Secret, error) {
	n := r.Bytes
	if n <= 0 {
		n = 32
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return crypto.Secret{}, err
	}
	out := []byte(base64.RawURLEncoding.EncodeToString(b))
	clear(b)
	return crypto.NewSecret(out), nil
}

// Set implements Provider: nothing to set.
func (Random) Set(context.Context, store.Credential, crypto.Secret, crypto.Secret) error { return nil }

// Test implements Provider: the value is not empty.
func (Random) Test(_ context.Context, _ store.Credential, next crypto.Secret) error {
	return next.Use(func(b []byte) error {
		if len(b) == 0 {
			return errors.New("random: empty value")
		}
		return nil
	})
}

// Postgres rotates the password of a PostgreSQL role. The credential's metadata holds "dsn": a
// postgres:// URL naming the role, without password; the role changes its own password
// (ALTER ROLE CURRENT_USER), so no administrator credential is needed, and the test logs in.
//
// A password is only ever presented through SCRAM-SHA-256 (require_auth=scram-sha-256, whatever
// the DSN says): a server that asks for it in clear or as MD5, or does not authenticate at all, is
// refused before anything is sent.
type Postgres struct {
	// Timeout bounds each connection. Default 10s.
	Timeout time.Duration
	// RequireVerifyFull refuses a DSN whose connection is not TLS with the certificate and host
	// name verified (sslmode=verify-full), fallbacks included. Production sets it.
	RequireVerifyFull bool
}

// ErrInsecureEndpoint: a provider's endpoint would receive a value without the protection the
// configuration demands (TLS verify-full, an allowed destination).
var ErrInsecureEndpoint = errors.New("endpoint refused")

// Generate implements Provider: 32 random bytes, base64url.
func (Postgres) Generate(ctx context.Context, cred store.Credential) (crypto.Secret, error) {
	return Random{}.Generate(ctx, cred)
}

func (p Postgres) connect(ctx context.Context, cred store.Credential, password crypto.Secret) (*pgx.Conn, error) {
	dsn := cred.Metadata["dsn"]
	if dsn == "" {
		return nil, fmt.Errorf("%w: postgres: the credential's metadata has no \"dsn\"", ErrProvider)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: dsn: %v", ErrProvider, err)
	}
	// The DSN is the credential's (an ADMIN's words): what it may not choose is set here.
	cfg.RequireAuth = "scram-sha-256"
	if p.RequireVerifyFull && !verifiesFull(cfg) {
		return nil, fmt.Errorf("%w: postgres: production needs sslmode=verify-full in the credential's dsn", ErrInsecureEndpoint)
	}
	if err := password.Use(func(b []byte) error { cfg.Password = string(b); return nil }); err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cfg.ConnectTimeout = timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	cfg.Password = ""
	if err != nil {
		// pgx's connect errors name the host and user, never the password.
		return nil, fmt.Errorf("postgres: log in as %s: %w", cfg.User, err)
	}
	return conn, nil
}

// verifiesFull says whether every host pgx would try is reached over TLS that verifies the
// server's certificate and name (what sslmode=verify-full gives).
func verifiesFull(cfg *pgx.ConnConfig) bool {
	ok := func(t *tls.Config) bool { return t != nil && !t.InsecureSkipVerify && t.ServerName != "" }
	if !ok(cfg.TLSConfig) {
		return false
	}
	for _, f := range cfg.Fallbacks {
		if !ok(f.TLSConfig) {
			return false
		}
	}
	return true
}

// Set implements Provider: if next already logs in, it is set; else log in with current and set it.
func (p Postgres) Set(ctx context.Context, cred store.Credential, current, next crypto.Secret) error {
	if conn, err := p.connect(ctx, cred, next); err == nil {
		conn.Close(ctx)
		return nil // set before a crash
	}
	conn, err := p.connect(ctx, cred, current)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return next.Use(func(b []byte) error {
		// Send the SCRAM verifier, not the password: ALTER ROLE statements land in server logs
		// and pg_stat_activity. (ALTER ROLE takes no parameters, hence the literal.)
		verifier, err := store.ScramVerifier(b)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, "ALTER ROLE CURRENT_USER PASSWORD "+store.QuoteLiteral(verifier))
		if err != nil {
			return fmt.Errorf("postgres: set the new password: %w", redactErr(err))
		}
		return nil
	})
}

// Test implements Provider: log in with next.
func (p Postgres) Test(ctx context.Context, cred store.Credential, next crypto.Secret) error {
	conn, err := p.connect(ctx, cred, next)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// redactErr keeps only a statement error's SQLSTATE: PostgreSQL's message may quote the statement
// (and so the value).
func redactErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("SQLSTATE %s", pgErr.Code)
	}
	return errors.New("statement failed")
}

// HTTP rotates a value held by another service: metadata "set_url" receives
// POST {"name", "value"} to set it; metadata "test_url" answers 2xx to GET with
// "Authorization: Bearer <value>" when it works.
//
// It reaches only the destinations in Allow: a URL whose host is not listed is refused, and so is
// any address in a loopback, link-local, private or otherwise non-public range unless a listed
// CIDR covers it (checked on the address actually dialled, so DNS cannot steer around it). No
// proxy from the environment, no redirects. Its errors name the step and the status, never the
// URL or the answer.
type HTTP struct {
	// Allow lists the destinations: host names ("vault.example.com", "*.example.com"), with a
	// port to pin it ("vault.example.com:8443"), or CIDRs ("10.20.0.0/16", "127.0.0.1/32"). Empty:
	// the provider reaches nothing.
	Allow []string
	// Timeout bounds each call. Default 10s.
	Timeout time.Duration
}

// Generate implements Provider: 32 random bytes, base64url.
func (HTTP) Generate(ctx context.Context, cred store.Credential) (crypto.Secret, error) {
	return Random{}.Generate(ctx, cred)
}

// allowList is HTTP.Allow, parsed.
type allowList struct {
	hosts []string // lower case, "host" or "host:port", "*.suffix" allowed
	nets  []netip.Prefix
}

func parseAllow(entries []string) (allowList, error) {
	var a allowList
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return allowList{}, fmt.Errorf("%w: http: allow %q: %v", ErrProvider, e, err)
			}
			a.nets = append(a.nets, p.Masked())
			continue
		}
		if strings.ContainsAny(e, " \t@?#") {
			return allowList{}, fmt.Errorf("%w: http: allow %q is not a host, host:port or CIDR", ErrProvider, e)
		}
		a.hosts = append(a.hosts, e)
	}
	return a, nil
}

// ValidateAllow checks HTTP.Allow entries (for a flag).
func ValidateAllow(entries []string) error { _, err := parseAllow(entries); return err }

func (a allowList) inNets(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// hostAllowed: the URL's host (and port) is listed by name, or is an address a listed CIDR covers.
func (a allowList) hostAllowed(u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return a.inNets(ip)
	}
	for _, h := range a.hosts {
		name, p, hasPort := strings.Cut(h, ":")
		if hasPort && p != port {
			continue
		}
		if name == host || (strings.HasPrefix(name, "*.") && strings.HasSuffix(host, name[1:])) {
			return true
		}
	}
	return false
}

// addrAllowed: a dialled address is public, or a listed CIDR covers it.
func (a allowList) addrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if a.inNets(ip) {
		return true
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!sharedAddressSpace.Contains(ip)
}

// sharedAddressSpace is 100.64.0.0/10 (carrier-grade NAT, RFC 6598): not public either.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

var errDestination = fmt.Errorf("%w: the destination is not allowed (--rotation-http-allow)", ErrInsecureEndpoint)

func (h HTTP) client(allow allowList) *http.Client {
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !allow.addrAllowed(ap.Addr()) {
			return errDestination
		}
		return nil
	}}
	return &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{Proxy: nil, DialContext: dialer.DialContext, TLSHandshakeTimeout: timeout},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (h HTTP) endpoint(cred store.Credential, key string) (*url.URL, allowList, error) {
	raw := cred.Metadata[key]
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, allowList{}, fmt.Errorf("%w: http: the credential's metadata needs %q, an http(s) URL without user info", ErrProvider, key)
	}
	allow, err := parseAllow(h.Allow)
	if err != nil {
		return nil, allowList{}, err
	}
	if !allow.hostAllowed(u) {
		return nil, allowList{}, fmt.Errorf("http: %s: %w", strings.TrimSuffix(key, "_url"), errDestination)
	}
	return u, allow, nil
}

// Set implements Provider.
func (h HTTP) Set(ctx context.Context, cred store.Credential, _, next crypto.Secret) error {
	u, allow, err := h.endpoint(cred, "set_url")
	if err != nil {
		return err
	}
	var body []byte
	if err := next.Use(func(b []byte) error {
		var err error
		body, err = json.Marshal(map[string]string{"name": cred.Name, "value": string(b)})
		return err
	}); err != nil {
		return err
	}
	defer clear(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return h.send(allow, req, "set", "")
}

// Test implements Provider.
func (h HTTP) Test(ctx context.Context, cred store.Credential, next crypto.Secret) error {
	u, allow, err := h.endpoint(cred, "test_url")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if err := next.Use(func(b []byte) error { req.Header.Set("Authorization", "Bearer "+string(b)); return nil }); err != nil {
		return err
	}
	defer req.Header.Del("Authorization")
	return h.send(allow, req, "test", " to the new value")
}

// send makes one call and wants a 2xx. The error says the step and the status only: it ends up
// in the task's last_error, which people who may not know the URL read.
func (h HTTP) send(allow allowList, req *http.Request, step, what string) error {
	resp, err := h.client(allow).Do(req)
	if errors.Is(err, errDestination) {
		return fmt.Errorf("http: %s: %w", step, errDestination)
	}
	if err != nil {
		reason := "no answer"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			reason = "timed out"
		}
		return fmt.Errorf("http: %s: %s", step, reason)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("http: %s: answered %d%s", step, resp.StatusCode, what)
	}
	return nil
}
