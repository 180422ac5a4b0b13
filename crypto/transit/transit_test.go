package transit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/crypto/transittest"
)

// flaky answers the first fail requests to Transit paths with status, then passes the rest to the
// test double.
func flaky(t *testing.T, srv *transittest.Server, fail int32, status int, delay time.Duration) (*httptest.Server, *atomic.Int32) {
	var seen atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/auth/token/lookup-self" && seen.Add(1) <= fail {
			if delay > 0 {
				time.Sleep(delay)
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"errors":["injected failure"]}`))
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy, &seen
}

func setup(t *testing.T) *transittest.Server {
	srv := transittest.New()
	t.Cleanup(srv.Close)
	c, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), Token: srv.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestRetriesOn5xxNotOn4xx(t *testing.T) {
	srv := setup(t)
	ctx := context.Background()
	proxy, seen := flaky(t, srv, 2, http.StatusServiceUnavailable, 0)
	c, err := transit.New(ctx, transit.Config{Addr: proxy.URL, Token: srv.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Encrypt(ctx, "k", []byte("x"), []byte("ctx")); err != nil {
		t.Fatalf("after two 503s: %v; want the third try to succeed", err)
	}
	if seen.Load() != 3 {
		t.Fatalf("%d requests; want 3", seen.Load())
	}

	proxy4, seen4 := flaky(t, srv, 5, http.StatusBadRequest, 0)
	c4, err := transit.New(ctx, transit.Config{Addr: proxy4.URL, Token: srv.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if _, err := c4.Encrypt(ctx, "k", []byte("x"), []byte("ctx")); err == nil || crypto.IsRetryable(err) {
		t.Fatalf("a 400: %v; want a final error", err)
	}
	if seen4.Load() != 1 {
		t.Fatalf("%d requests after a 400; want 1 (no retry)", seen4.Load())
	}

	proxyDown, _ := flaky(t, srv, 100, http.StatusInternalServerError, 0)
	cd, err := transit.New(ctx, transit.Config{Addr: proxyDown.URL, Token: srv.RootToken, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer cd.Close()
	if _, err := cd.Decrypt(ctx, "k", "vault:v1:AAAA", []byte("ctx")); !crypto.IsRetryable(err) {
		t.Fatalf("a server that keeps failing: %v; want ErrUnavailable", err)
	}
}

func TestTimeoutPerCall(t *testing.T) {
	srv := setup(t)
	proxy, _ := flaky(t, srv, 100, http.StatusServiceUnavailable, 2*time.Second)
	c, err := transit.New(context.Background(), transit.Config{Addr: proxy.URL, Token: srv.RootToken, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Encrypt(context.Background(), "k", []byte("x"), []byte("ctx"))
	if !crypto.IsRetryable(err) || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("%v after %s; want ErrUnavailable within the timeout", err, time.Since(start))
	}
}

func TestPermissionDeniedAndNoKeyCreation(t *testing.T) {
	srv := setup(t)
	srv.AddToken("s.worker", time.Hour, transittest.Policy{Path: "transit/decrypt/*", Capabilities: []string{"update"}})
	c, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), Token: "s.worker"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Encrypt(context.Background(), "k", []byte("x"), []byte("ctx")); !errors.Is(err, crypto.ErrPermissionDenied) {
		t.Fatalf("encrypt with a decrypt-only policy: %v; want ErrPermissionDenied", err)
	}
	if _, err := c.CreateKey(context.Background(), "typo"); !errors.Is(err, crypto.ErrPermissionDenied) {
		t.Fatalf("create a key without the right: %v; want ErrPermissionDenied", err)
	}
}

func TestAppRoleLoginAndRenewal(t *testing.T) {
	srv := setup(t)
	srv.AddAppRole("role", "secret", 2*time.Second, transittest.Policy{Path: "transit/*", Capabilities: []string{"update"}})
	if _, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), RoleID: "role", SecretID: "nope"}); err == nil {
		t.Fatal("a wrong secret ID logged in")
	}
	c, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), RoleID: "role", SecretID: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The token lives 2 s and is renewed at half its TTL: after 3 s it still works.
	time.Sleep(3 * time.Second)
	if _, err := c.Encrypt(context.Background(), "k", []byte("x"), []byte("ctx")); err != nil {
		t.Fatalf("after the first TTL: %v; want the renewed token to work", err)
	}
}
