package credrotate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
type Postgres struct {
	// Timeout bounds each connection. Default 10s.
	Timeout time.Duration
}

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
type HTTP struct {
	Client *http.Client // default: 10 s timeout
}

func (h HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Generate implements Provider: 32 random bytes, base64url.
func (HTTP) Generate(ctx context.Context, cred store.Credential) (crypto.Secret, error) {
	return Random{}.Generate(ctx, cred)
}

func endpoint(cred store.Credential, key string) (string, error) {
	raw := cred.Metadata[key]
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: http: the credential's metadata needs %q, an http(s) URL", ErrProvider, key)
	}
	return raw, nil
}

// Set implements Provider.
func (h HTTP) Set(ctx context.Context, cred store.Credential, _, next crypto.Secret) error {
	u, err := endpoint(cred, "set_url")
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return h.send(req, "set", "")
}

// Test implements Provider.
func (h HTTP) Test(ctx context.Context, cred store.Credential, next crypto.Secret) error {
	u, err := endpoint(cred, "test_url")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if err := next.Use(func(b []byte) error { req.Header.Set("Authorization", "Bearer "+string(b)); return nil }); err != nil {
		return err
	}
	defer req.Header.Del("Authorization")
	return h.send(req, "test", " to the new value")
}

// send makes one call and wants a 2xx; the error names the step and the URL,
// never the request (which carries the value).
func (h HTTP) send(req *http.Request, step, what string) error {
	resp, err := h.client().Do(req)
	if err != nil {
		return fmt.Errorf("http: %s: %w", step, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("http: %s: %s answered %d%s", step, req.URL.Redacted(), resp.StatusCode, what)
	}
	return nil
}
