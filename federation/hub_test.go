package federation_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
)

func newSelf(t *testing.T, name string) *federation.Self {
	t.Helper()
	db, _ := pgtest.FreshDB(t)
	s, err := federation.LoadOrCreate(context.Background(), db, newKeyring(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startHub(t *testing.T, self *federation.Self, listen string) *federation.Hub {
	t.Helper()
	lg := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	h, err := federation.StartHub(self, federation.HubConfig{Listen: listen, Logger: &lg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// Two hubs: the one that accepted lists the other's key; the other connects out. Requests go both
// ways over the one leafnode; a stranger's key is refused; unlinking severs the link at once.
func TestHubLinks(t *testing.T) {
	a, b, c := newSelf(t, "a"), newSelf(t, "b"), newSelf(t, "c")
	ha, hb, hc := startHub(t, a, ""), startHub(t, b, "127.0.0.1:0"), startHub(t, c, "")
	// b accepted a; c is nobody to b but tries with b's URL anyway.
	bForA, err := hb.Link(a.ID, a.LeafKey, "")
	if err != nil {
		t.Fatal(err)
	}
	aForB, err := ha.Link(b.ID, "", hb.LeafURL())
	if err != nil {
		t.Fatal(err)
	}
	cForB, err := hc.Link(b.ID, "", hb.LeafURL())
	if err != nil {
		t.Fatal(err)
	}
	echo := func(nc *nats.Conn, subj, answer string) {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { _ = m.Respond([]byte(answer)) }); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
	}
	echo(bForA, "fed.b", "from b")
	echo(aForB, "fed.a", "from a")
	deadline := time.Now().Add(10 * time.Second)
	for !ha.Connected(b.ID) || !hb.Connected(a.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the leafnode did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ask := func(nc *nats.Conn, subj string) (string, error) {
		var m *nats.Msg
		var err error
		for i := 0; i < 40; i++ { // interest crosses the leafnode shortly after it is up
			if m, err = nc.Request(subj, []byte("?"), time.Second); err != nats.ErrNoResponders {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return "", err
		}
		return string(m.Data), nil
	}
	if got, err := ask(aForB, "fed.b"); err != nil || got != "from b" {
		t.Fatalf("a asking b: %q %v", got, err)
	}
	if got, err := ask(bForA, "fed.a"); err != nil || got != "from a" {
		t.Fatalf("b asking a: %q %v", got, err)
	}
	if _, err := cForB.Request("fed.b", []byte("?"), 300*time.Millisecond); err == nil || hc.Connected(b.ID) {
		t.Fatal("c reached b without being accepted")
	}
	if err := hb.Unlink(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := aForB.Request("fed.b", []byte("?"), 300*time.Millisecond); err == nil {
		t.Fatal("a still reaches b after b removed the link")
	}
	if hb.Connected(a.ID) {
		t.Fatal("the leafnode is still up")
	}
}

// A listener on every interface advertises the URL it is told to; a bad one is refused.
func TestHubAdvertise(t *testing.T) {
	self := newSelf(t, "adv")
	h, err := federation.StartHub(self, federation.HubConfig{Listen: "127.0.0.1:0", Advertise: "tls://mosaic.example.test:7422"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.LeafURL() != "tls://mosaic.example.test:7422" {
		t.Fatalf("leafnode URL %q", h.LeafURL())
	}
	if _, err := federation.StartHub(self, federation.HubConfig{Listen: "127.0.0.1:0", Advertise: "mosaic.example.test:7422"}); err == nil {
		t.Fatal("an advertised URL without a scheme was taken")
	}
}
