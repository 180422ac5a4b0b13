package credrotate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// TestHTTPProviderReachesOnlyAllowedDestinations: with no allow-list the provider reaches
// nothing; a listed name that resolves to loopback is still refused (checked on the dialled
// address), a listed CIDR lets it through; redirects are not followed; an error says the step and
// the status, never the URL.
func TestHTTPProviderReachesOnlyAllowedDestinations(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/set", http.StatusTemporaryRedirect)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("internal detail"))
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	byName := "http://localhost:" + u.Port()
	cred := func(base, path string) store.Credential {
		return store.Credential{Credential: mosaictype.Credential{Name: "svc", Metadata: map[string]string{"set_url": base + path, "test_url": base + path}}}
	}
	value := crypto.NewSecret([]byte("the-value-never-leaves"))
	ctx := context.Background()

	for _, c := range []struct {
		name  string
		allow []string
		cred  store.Credential
	}{
		{"no allow-list", nil, cred(srv.URL, "/set")},
		{"host not listed", []string{"vault.example.com"}, cred(srv.URL, "/set")},
		{"listed name, loopback address", []string{"localhost"}, cred(byName, "/set")},
		{"listed name, another port", []string{"localhost:1"}, cred(byName, "/set")},
		{"another network listed", []string{"10.0.0.0/8"}, cred(srv.URL, "/set")},
	} {
		err := HTTP{Allow: c.allow}.Set(ctx, c.cred, value, value)
		if !errors.Is(err, ErrInsecureEndpoint) {
			t.Errorf("%s: %v; want ErrInsecureEndpoint", c.name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("a refused destination was called %d times", n)
	}

	allowed := HTTP{Allow: []string{"127.0.0.1/32"}}
	if err := allowed.Set(ctx, cred(srv.URL, "/set"), value, value); err != nil {
		t.Fatalf("a listed CIDR: %v", err)
	}
	if err := (HTTP{Allow: []string{"localhost", "127.0.0.0/8"}}).Test(ctx, cred(byName, "/set"), value); err != nil {
		t.Fatalf("a listed name on a listed network: %v", err)
	}
	for path, want := range map[string]string{"/broken": "http: set: answered 500", "/redirect": "http: set: answered 307"} {
		err := allowed.Set(ctx, cred(srv.URL, path), value, value)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v; want exactly %q (no URL, no answer body)", path, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), u.Port()) || strings.Contains(err.Error(), "detail")) {
			t.Errorf("%s: the error names the endpoint or its answer: %v", path, err)
		}
	}
	if err := ValidateAllow([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR passed validation")
	}
}

// TestPostgresProviderRequiresVerifyFull: in production a DSN without sslmode=verify-full (a
// fallback without it included) is refused before any connection.
func TestPostgresProviderRequiresVerifyFull(t *testing.T) {
	p := Postgres{RequireVerifyFull: true}
	value := crypto.NewSecret([]byte("pw"))
	for _, mode := range []string{"disable", "prefer", "require", "verify-ca"} {
		cred := store.Credential{Credential: mosaictype.Credential{Metadata: map[string]string{"dsn": "postgres://role@127.0.0.1:1/db?sslmode=" + mode}}}
		if err := p.Test(context.Background(), cred, value); !errors.Is(err, ErrInsecureEndpoint) {
			t.Errorf("sslmode=%s: %v; want ErrInsecureEndpoint", mode, err)
		}
	}
	cred := store.Credential{Credential: mosaictype.Credential{Metadata: map[string]string{"dsn": "postgres://role@127.0.0.1:1/db?sslmode=verify-full"}}}
	if err := p.Test(context.Background(), cred, value); err == nil || errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("sslmode=verify-full: %v; want it let through to the (absent) server", err)
	}
}
