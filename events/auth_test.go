package events_test

import (
	"context"
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
	auth := events.GenerateServerAuth()
	srv, err := events.StartServer(events.ServerConfig{StoreDir: t.TempDir(), Port: -1, Auth: auth})
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

// TestServerAuthPasswordsDeriveFromTheSecret: the same secret gives the same passwords (a
// restarted server and the CLI agree), each workspace's publisher its own, and a short secret is
// refused. (That mosaic dev keeps the secret readable by its owner only, and refuses it
// otherwise, is TestDevNATSRequiresCredentials's.)
func TestServerAuthPasswordsDeriveFromTheSecret(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := events.NewServerAuth(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := events.NewServerAuth(append([]byte(nil), secret...))
	if err != nil {
		t.Fatal(err)
	}
	ws := uuid.New()
	_, pa := a.Publisher(ws)
	_, pb := b.Publisher(ws)
	if pa != pb {
		t.Fatal("the publisher's password changed between two loads of the same secret")
	}
	if _, other := a.Publisher(uuid.New()); other == pa {
		t.Fatal("two workspaces' publishers share a password")
	}
	if _, sys := a.System(); sys == pa {
		t.Fatal("a publisher shares the system user's password")
	}
	if _, err := events.NewServerAuth(secret[:31]); err == nil {
		t.Fatal("a secret of 31 bytes was taken")
	}
}
