package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
)

// signedConnect makes an instance named name (an identity in a database of its own) and its
// signed CONNECT to node.
func signedConnect(t testing.TB, node *federation.Node, name string) (*federation.Self, *federation.Envelope) {
	t.Helper()
	peerDB, _ := pgtest.FreshDB(t)
	peer, err := federation.LoadOrCreate(context.Background(), peerDB, federationKeyring, name)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(federation.ConnectBody{Identity: peer.Identity, HTTPURL: "http://127.0.0.1:9"})
	env := &federation.Envelope{Type: federation.TypeConnect, To: node.Identity().ID, Body: body}
	if err := peer.Sign(env, time.Now()); err != nil {
		t.Fatal(err)
	}
	return peer, env
}

// TestStrangersCannotFillTheConnectQueue: POST /federation/connect needs no key, so what one
// address can do is bounded: at most MaxPendingPerSource requests waiting (then 429, and the
// queue is untouched), a few CONNECTs a minute (then 429); and a waiting request is accepted only
// when named by its key, never by the name its sender chose.
func TestStrangersCannotFillTheConnectQueue(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t)
	tasks, err := agents.NewClient(agents.ClientConfig{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tasks.Close)
	fed := startFederation(t, db, tasks)
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, Tasks: tasks, Federation: fed})
	if err != nil {
		t.Fatal(err)
	}
	url := newServer(t, srv)
	t.Cleanup(srv.Close)

	connect := func(name string) (*federation.Self, *federation.Envelope) { return signedConnect(t, fed, name) }
	post := func(name string) (int, string, *federation.Self) {
		t.Helper()
		peer, env := connect(name)
		b, _ := json.Marshal(env)
		resp, err := http.Post(url+"/federation/connect", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String(), peer
	}
	// Over HTTP: a burst of CONNECTs from one address, then the rate limit.
	var first *federation.Self
	for i := range 3 {
		code, body, peer := post("stranger-" + uuid.NewString()[:8])
		if code != http.StatusAccepted {
			t.Fatalf("request %d from this address: %d %s", i+1, code, body)
		}
		if first == nil {
			first = peer
		}
	}
	if code, body, _ := post("rate-limited"); code != http.StatusTooManyRequests || !strings.Contains(body, "try again in a minute") {
		t.Fatalf("a CONNECT past the rate: %d %s; want 429", code, body)
	}
	// Whatever the rate, one address holds at most MaxPendingPerSource waiting requests.
	for i := range federation.MaxPendingPerSource + 1 {
		_, env := connect("elsewhere-" + uuid.NewString()[:8])
		_, err := fed.HandleConnect(ctx, env, "192.0.2.7")
		if i < federation.MaxPendingPerSource && err != nil {
			t.Fatalf("request %d from 192.0.2.7: %v", i+1, err)
		}
		if i == federation.MaxPendingPerSource && !errors.Is(err, federation.ErrTooMany) {
			t.Fatalf("a request past the per-address bound: %v; want ErrTooMany", err)
		}
	}

	admin, _ := api.NewClient(url, adminToken)
	if _, err := admin.AcceptPeer(ctx, first.Name, nil); err == nil || !strings.Contains(err.Error(), "by its key") {
		t.Fatalf("accept by the name a stranger chose: %v; want a refusal naming the key", err)
	}
	if _, err := admin.AcceptPeer(ctx, first.ID.String(), nil); err == nil || !strings.Contains(err.Error(), "by its key") {
		t.Fatalf("accept by id: %v; want a refusal naming the key", err)
	}
	p, err := admin.AcceptPeer(ctx, first.PublicKey[:federation.MinKeyRef], nil)
	if err != nil || p.Status != federation.StatusAccepted || p.ID != first.ID {
		t.Fatalf("accept by key: %+v %v", p, err)
	}
}
