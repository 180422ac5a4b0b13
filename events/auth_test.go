package events_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/events"
)

// TestEmbeddedServerAuthenticatesEveryClient: the embedded server lets no client in without
// credentials or with wrong ones; Mosaic's own user has all of JetStream; a workspace's publisher,
// whose account exists from its first login, may publish that workspace's tasks and nothing else
// (the same confinement as deploy/nats's publisher accounts).
func TestEmbeddedServerAuthenticatesEveryClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	auth, err := events.LoadServerAuth(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := events.StartServer(events.ServerConfig{StoreDir: filepath.Join(dir, "nats"), Port: -1, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ws := uuid.New()
	pubUser, pubPassword := auth.Publisher(ws)
	_, otherPassword := auth.Publisher(uuid.New())

	for name, opts := range map[string][]nats.Option{
		"no credentials":                 nil,
		"a wrong password":               {nats.UserInfo(events.SystemUser, "guess")},
		"another workspace's password":   {nats.UserInfo(pubUser, otherPassword)},
		"the system user's password":     {nats.UserInfo(pubUser, srv.SystemConn("").Password)},
		"a token":                        {nats.Token(srv.SystemConn("").Password)},
		"a user that names no workspace": {nats.UserInfo("pub-nobody", pubPassword)},
	} {
		nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected; want refused", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v; want an authorization error", name, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := events.Connect(ctx, srv.SystemConn(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.AuthRequired() {
		t.Error("the server does not announce that it requires authentication")
	}
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	assertPublisherConfined(t, ctx, srv.ClientURL(), pubUser, pubPassword, ws.String(), nc, js)
}

// TestServerAuthSecretStaysPrivate: the secret is created readable by its owner only, read back
// the same, and refused once others may read it.
func TestServerAuthSecretStaysPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := events.LoadServerAuth(dir, false); err == nil {
		t.Fatal("loaded a secret that does not exist")
	}
	a, err := events.LoadServerAuth(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nats-auth.key")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v; want 0600", st.Mode().Perm())
	}
	b, err := events.LoadServerAuth(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	ws := uuid.New()
	if _, p1 := a.Publisher(ws); func() string { _, p := b.Publisher(ws); return p }() != p1 {
		t.Fatal("the publisher's password changed between two loads of the same secret")
	}
	if _, p := a.Publisher(uuid.New()); p == func() string { _, p := a.Publisher(ws); return p }() {
		t.Fatal("two workspaces' publishers share a password")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := events.LoadServerAuth(dir, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable secret: %v; want refused", err)
	}
}
