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
	"github.com/mosaicstack/mosaic/api/client"
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
	proof, err := peer.ProveLeafKey()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(federation.ConnectBody{Identity: peer.Identity, HTTPURL: "http://127.0.0.1:9", LeafProof: proof})
	env := &federation.Envelope{Type: federation.TypeConnect, To: node.Identity().ID, Body: body}
	if err := peer.Sign(env, time.Now()); err != nil {
		t.Fatal(err)
	}
	return peer, env
}

// federationServer starts an instance with federation on a fresh database: its node and API URL.
func federationServer(t *testing.T) (*federation.Node, string) {
	t.Helper()
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
	return fed, url
}

// TestStrangersCannotFillTheConnectQueue: POST /federation/connect needs no key, so what one
// address can do is bounded: at most MaxPendingPerSource requests waiting (then 429, and the
// queue is untouched), a few CONNECTs a minute (then 429); and a waiting request is accepted only
// when named by its key, never by the name its sender chose.
func TestStrangersCannotFillTheConnectQueue(t *testing.T) {
	ctx := context.Background()
	fed, url := federationServer(t)

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

	admin, _ := client.New(url, adminToken)
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

// TestAStrangerCannotTakeAnotherInstancesPlace: ids and names are anyone's to claim, keys are
// not. A stranger who asks first under another instance's id and name keeps nothing out: the
// real request waits beside it (it was 409 until the stranger's expired), each asker learns its
// own request's status, and the admin accepts by key. A CONNECT that names another instance's
// leafnode key, or proves none, is refused.
func TestAStrangerCannotTakeAnotherInstancesPlace(t *testing.T) {
	ctx := context.Background()
	fed, url := federationServer(t)
	post := func(path string, env *federation.Envelope) (int, string) {
		t.Helper()
		b, _ := json.Marshal(env)
		resp, err := http.Post(url+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	resign := func(self *federation.Self, body federation.ConnectBody) *federation.Envelope {
		t.Helper()
		b, _ := json.Marshal(body)
		env := &federation.Envelope{Type: federation.TypeConnect, To: fed.Identity().ID, Body: b}
		if err := self.Sign(env, time.Now()); err != nil {
			t.Fatal(err)
		}
		return env
	}

	partner, partnerConnect := signedConnect(t, fed, "partner")
	stranger, _ := signedConnect(t, fed, "stranger")

	// The leafnode key must be the sender's own: another's is refused, and so is none.
	borrowed := stranger.Identity
	borrowed.LeafKey = partner.LeafKey
	proof, _ := stranger.ProveLeafKey()
	if code, body := post("/federation/connect", resign(stranger, federation.ConnectBody{Identity: borrowed, HTTPURL: "http://127.0.0.1:9", LeafProof: proof})); code != http.StatusUnauthorized || !strings.Contains(body, "leafnode key") {
		t.Fatalf("a CONNECT naming another instance's leafnode key: %d %s; want 401", code, body)
	}
	if code, body := post("/federation/connect", resign(stranger, federation.ConnectBody{Identity: stranger.Identity, HTTPURL: "http://127.0.0.1:9"})); code != http.StatusUnauthorized {
		t.Fatalf("a CONNECT without its leafnode proof: %d %s; want 401", code, body)
	}

	// The stranger asks first, under the partner's id and name (its own keys, proven).
	stranger.ID, stranger.Name = partner.ID, partner.Name
	proof, _ = stranger.ProveLeafKey()
	if code, body := post("/federation/connect", resign(stranger, federation.ConnectBody{Identity: stranger.Identity, HTTPURL: "http://127.0.0.1:9", LeafProof: proof})); code != http.StatusAccepted {
		t.Fatalf("the stranger's CONNECT: %d %s", code, body)
	}
	// (From another address: this one has used its CONNECTs of the minute.)
	if _, err := fed.HandleConnect(ctx, partnerConnect, "198.51.100.4"); err != nil {
		t.Fatalf("the partner's CONNECT after a stranger's under its id and name: %v; want it to wait beside it", err)
	}
	statusOf := func(self *federation.Self) string {
		t.Helper()
		env := &federation.Envelope{Type: federation.TypeQuery, To: fed.Identity().ID, Body: json.RawMessage(`{"op":"status"}`)}
		if err := self.Sign(env, time.Now()); err != nil {
			t.Fatal(err)
		}
		code, body := post("/federation/status", env)
		var reply federation.Envelope
		if code != http.StatusOK || json.Unmarshal([]byte(body), &reply) != nil {
			t.Fatalf("status query: %d %s", code, body)
		}
		var st struct{ Status string }
		_ = json.Unmarshal(reply.Body, &st)
		return st.Status
	}
	if a, b := statusOf(partner), statusOf(stranger); a != federation.StatusPending || b != federation.StatusPending {
		t.Fatalf("statuses before the decision: partner %q, stranger %q", a, b)
	}

	admin, _ := client.New(url, adminToken)
	if _, err := admin.AcceptPeer(ctx, partner.Name, nil); err == nil {
		t.Fatal("accepted by a name two requests carry")
	}
	p, err := admin.AcceptPeer(ctx, partner.PublicKey[:federation.MinKeyRef], nil)
	if err != nil || p.Status != federation.StatusAccepted || p.PublicKey != partner.PublicKey {
		t.Fatalf("accept the partner by key: %+v %v", p, err)
	}
	if _, err := admin.AcceptPeer(ctx, stranger.PublicKey[:federation.MinKeyRef], nil); err == nil || !strings.Contains(err.Error(), "known already") {
		t.Fatalf("accept the stranger under the accepted partner's id: %v; want a conflict", err)
	}
	if a, b := statusOf(partner), statusOf(stranger); a != federation.StatusAccepted || b != federation.StatusPending {
		t.Fatalf("statuses after the decision: partner %q, stranger %q", a, b)
	}
	// By id or name, the partner is the accepted peer; the stranger's request is still there.
	if got, err := fed.Peer(ctx, partner.ID.String()); err != nil || got.PublicKey != partner.PublicKey {
		t.Fatalf("the peer by id: %+v %v", got, err)
	}
	if err := admin.RejectPeer(ctx, stranger.PublicKey[:federation.MinKeyRef]); err != nil {
		t.Fatalf("reject the stranger by key: %v", err)
	}
	if a, b := statusOf(partner), statusOf(stranger); a != federation.StatusAccepted || b != federation.StatusRejected {
		t.Fatalf("statuses after the rejection: partner %q, stranger %q", a, b)
	}
}
