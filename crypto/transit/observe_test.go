package transit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/crypto/transittest"
)

// observed records what Config.Observe was called with: "op" or "op:kind".
type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) observe(op string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		op += ":no-duration"
	}
	if err != nil {
		op += ":" + transit.ErrorKind(err)
	}
	o.calls = append(o.calls, op)
}

// take returns the calls seen since the last take.
func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

func observedClient(t *testing.T, addr, token string, maxRetries int) (*transit.Client, *observed) {
	t.Helper()
	o := &observed{}
	c, err := transit.New(context.Background(), transit.Config{Addr: addr, Token: token, MaxRetries: maxRetries, Observe: o.observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, o
}

func TestObserveOncePerCallWithErrorKind(t *testing.T) {
	srv := transittest.New()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, o := observedClient(t, srv.URL(), srv.RootToken, 0)
	expect := func(what string, want ...string) {
		t.Helper()
		if got := o.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: observed %q; want %q", what, got, want)
		}
	}

	if _, err := c.CreateKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	expect("create a key (which reads it back)", "create_key")
	ct, err := c.Encrypt(ctx, "k", []byte("x"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	expect("encrypt", "encrypt")
	if _, err := c.Decrypt(ctx, "k", ct, []byte("ctx")); err != nil {
		t.Fatal(err)
	}
	expect("decrypt", "decrypt")
	if _, err := c.Decrypt(ctx, "k", ct, []byte("another context")); err == nil {
		t.Fatal("decrypt with another context succeeded")
	}
	expect("decrypt with the wrong context", "decrypt:client")
	if _, err := c.Rewrap(ctx, "k", ct, []byte("ctx")); err != nil {
		t.Fatal(err)
	}
	expect("rewrap", "rewrap")
	if _, err := c.RotateKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	expect("rotate", "rotate")
	if _, err := c.KeyInfo(ctx, "missing"); err == nil {
		t.Fatal("key info of a missing key succeeded")
	}
	expect("key info of a missing key", "key_info:client")

	// A batch whose every item fails is asked again item by item: still one call observed, and
	// its items' errors are results, not the call's error.
	res, err := c.EncryptBatch(ctx, "k", []crypto.Item{{Plaintext: []byte("a")}, {Plaintext: []byte("b")}})
	if err != nil || len(res) != 2 || res[0].Err == nil {
		t.Fatalf("batch without contexts on a derived key: %v %+v", err, res)
	}
	expect("a batch whose items all fail", "encrypt_batch")

	// Permission: a policy that allows decrypt only.
	srv.AddToken("s.worker", time.Hour, transittest.Policy{Path: "transit/decrypt/*", Capabilities: []string{"update"}})
	cw, ow := observedClient(t, srv.URL(), "s.worker", 0)
	if _, err := cw.Encrypt(ctx, "k", []byte("x"), []byte("ctx")); err == nil {
		t.Fatal("encrypt with a decrypt-only policy succeeded")
	}
	if got := ow.take(); !slices.Equal(got, []string{"encrypt:permission"}) {
		t.Fatalf("encrypt refused by the policy: observed %q", got)
	}

	// Server: 500s on every try; observed once, after the retries.
	proxy, seen := flaky(t, srv, 100, http.StatusInternalServerError, 0)
	cs, oserver := observedClient(t, proxy.URL, srv.RootToken, 2)
	if _, err := cs.Decrypt(ctx, "k", ct, []byte("ctx")); err == nil {
		t.Fatal("decrypt through a failing server succeeded")
	}
	if got := oserver.take(); !slices.Equal(got, []string{"decrypt:server"}) || seen.Load() != 3 {
		t.Fatalf("a server answering 500: observed %q after %d requests; want one decrypt:server after 3", got, seen.Load())
	}

	// Unavailable: nobody answers any more.
	gone := httptest.NewServer(srv)
	cu, ou := observedClient(t, gone.URL, srv.RootToken, 1)
	gone.Close()
	if _, err := cu.Encrypt(ctx, "k", []byte("x"), []byte("ctx")); err == nil {
		t.Fatal("encrypt with OpenBao gone succeeded")
	}
	if got := ou.take(); !slices.Equal(got, []string{"encrypt:unavailable"}) {
		t.Fatalf("OpenBao gone: observed %q", got)
	}
}

func TestErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		nil:                        "",
		crypto.ErrPermissionDenied: transit.ErrorPermission,
		crypto.ErrUnavailable:      transit.ErrorUnavailable,
		crypto.ErrDecrypt:          transit.ErrorClient,
		crypto.ErrKeyNotFound:      transit.ErrorClient,
	} {
		if got := transit.ErrorKind(err); got != want {
			t.Errorf("ErrorKind(%v) = %q; want %q", err, got, want)
		}
	}
}
