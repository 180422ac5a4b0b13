package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.Open(filepath.Join(t.TempDir(), "keyring.json"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.CreateKey(context.Background(), crypto.KeyFederation); err != nil {
		t.Fatal(err)
	}
	return kr
}

// The identity is created once and read back the same; its signing key is in PostgreSQL only as
// ciphertext, and a cipher without the key cannot open it.
func TestIdentityIsStoredSealed(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t) // one identity per database
	kr := newKeyring(t)
	first, err := federation.LoadOrCreate(ctx, db, kr, "work")
	if err != nil {
		t.Fatal(err)
	}
	again, err := federation.LoadOrCreate(ctx, db, kr, "ignored on reload")
	if err != nil || again.ID != first.ID || again.PublicKey != first.PublicKey || again.Name != "work" || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("reload: %+v %v; want the same identity", again.Identity, err)
	}
	if len(first.PublicKey) != 56 || first.PublicKey[0] != 'N' {
		t.Fatalf("public key %q is not an nkeys server key", first.PublicKey)
	}
	// The signature of a message made by the reloaded identity verifies with the first's key:
	// the same key pair came back.
	e := &federation.Envelope{Type: federation.TypeQuery, To: uuid.New()}
	if err := again.Sign(e, time.Now()); err != nil {
		t.Fatal(err)
	}
	v := &federation.Verifier{}
	if err := v.Verify(e, first.PublicKey, e.To, time.Now()); err != nil {
		t.Fatalf("a reloaded identity's signature: %v", err)
	}
	if _, err := federation.LoadOrCreate(ctx, db, newKeyring(t), "work"); err == nil {
		t.Fatal("another keyring opened the instance key")
	}
}

func signed(t *testing.T, self *federation.Self, to uuid.UUID, at time.Time, body string) *federation.Envelope {
	t.Helper()
	e := &federation.Envelope{Type: federation.TypeQuery, To: to, Body: json.RawMessage(body)}
	if err := self.Sign(e, at); err != nil {
		t.Fatal(err)
	}
	return e
}

// Forged, tampered, replayed, stale and misaddressed messages are refused.
func TestEnvelopeVerification(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t)
	alice, err := federation.LoadOrCreate(ctx, db, newKeyring(t), "alice")
	if err != nil {
		t.Fatal(err)
	}
	dbB, _ := pgtest.FreshDB(t)
	mallory, err := federation.LoadOrCreate(ctx, dbB, newKeyring(t), "mallory")
	if err != nil {
		t.Fatal(err)
	}
	bob := uuid.New()
	now := time.Now()
	v := &federation.Verifier{Skew: 30 * time.Second}

	ok := signed(t, alice, bob, now, `{"q":"rollback"}`)
	if err := v.Verify(ok, alice.PublicKey, bob, now); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	if err := v.Verify(ok, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrReplay) {
		t.Fatalf("the same message again: %v; want ErrReplay", err)
	}
	tampered := signed(t, alice, bob, now, `{"q":"rollback"}`)
	tampered.Body = json.RawMessage(`{"q":"credentials"}`)
	if err := v.Verify(tampered, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrBadSignature) {
		t.Fatalf("a tampered body: %v; want ErrBadSignature", err)
	}
	forged := signed(t, mallory, bob, now, `{"q":"x"}`)
	forged.From = alice.ID
	if err := v.Verify(forged, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrBadSignature) {
		t.Fatalf("mallory signing as alice: %v; want ErrBadSignature", err)
	}
	old := signed(t, alice, bob, now.Add(-time.Minute), `{}`)
	if err := v.Verify(old, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrStale) {
		t.Fatalf("a minute-old message: %v; want ErrStale", err)
	}
	future := signed(t, alice, bob, now.Add(time.Minute), `{}`)
	if err := v.Verify(future, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrStale) {
		t.Fatalf("a message from the future: %v; want ErrStale", err)
	}
	elsewhere := signed(t, alice, uuid.New(), now, `{}`)
	if err := v.Verify(elsewhere, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrMalformed) {
		t.Fatalf("a message for another instance: %v; want ErrMalformed", err)
	}
}

// Grants take the protocol's capabilities only; tasks.publish names its kinds; nothing about
// credentials is grantable, however it is spelt.
func TestParseCapabilities(t *testing.T) {
	caps, kinds, err := federation.ParseCapabilities([]string{"knowledge.search", "tasks.publish:demo.echo,demo.steps", "tasks.publish:demo.echo"})
	if err != nil || len(caps) != 2 || len(kinds) != 2 {
		t.Fatalf("good grant: %v %v %v", caps, kinds, err)
	}
	for _, bad := range [][]string{nil, {"credentials.read"}, {"knowledge.search", "Credential"}, {"tasks.publish"},
		{"tasks.publish:"}, {"tasks.publish:Demo Echo"}, {"knowledge.search:x"}, {"admin"}} {
		if _, _, err := federation.ParseCapabilities(bad); !errors.Is(err, federation.ErrInvalid) {
			t.Errorf("%q: %v; want ErrInvalid", bad, err)
		}
	}
	if _, _, err := federation.ParseCapabilities([]string{"credentials.read"}); !errors.Is(err, federation.ErrCredentials) {
		t.Errorf("credentials.read: %v; want ErrCredentials", err)
	}
	now := time.Now()
	g := federation.Grant{Capabilities: []string{"tasks.publish"}, TaskKinds: []string{"demo.echo"}, ExpiresAt: now.Add(time.Hour)}
	if !federation.Allows(g, "tasks.publish", "demo.echo", now) || federation.Allows(g, "tasks.publish", "demo.steps", now) ||
		federation.Allows(g, "tasks.read", "", now) || federation.Allows(g, "tasks.publish", "demo.echo", now.Add(2*time.Hour)) {
		t.Fatal("Allows")
	}
}

// A reply and a request are told apart: a signed reply is never taken as a request (nor anything
// that names a request it answers), and only a signed REPLY to this very request is taken as its
// answer. Together with unsigned refusals of unverified requests, a peer cannot obtain this
// instance's signature over a request it chose.
func TestRepliesAndRequestsAreToldApart(t *testing.T) {
	alice := newSelf(t, "alice")
	bob := uuid.New()
	now := time.Now()
	req := signed(t, alice, bob, now, `{"op":"status"}`)

	reply := &federation.Envelope{Type: federation.TypeReply, To: bob, Body: json.RawMessage(`{}`), Re: req.Nonce}
	if err := alice.Sign(reply, now); err != nil {
		t.Fatal(err)
	}
	v := &federation.Verifier{}
	if err := v.Verify(reply, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrMalformed) {
		t.Fatalf("a reply verified as a request: %v", err)
	}
	withRe := &federation.Envelope{Type: federation.TypeDisconnect, To: bob, Re: "a-nonce"}
	if err := alice.Sign(withRe, now); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(withRe, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrMalformed) {
		t.Fatalf("a request naming a request it answers (re) verified: %v", err)
	}
	if err := v.VerifyReply(reply, "another-nonce", alice.PublicKey, bob, now); err == nil {
		t.Fatal("a reply to another request verified as this one's")
	}
	if err := v.VerifyReply(req, req.Nonce, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrMalformed) {
		t.Fatalf("a request verified as a reply: %v", err)
	}
	if err := v.VerifyReply(reply, req.Nonce, alice.PublicKey, bob, now); err != nil {
		t.Fatalf("the reply to this request: %v", err)
	}
	// A body that is not JSON cannot be signed: an error, not a signature over nothing.
	bad := &federation.Envelope{Type: federation.TypeQuery, To: bob, Body: json.RawMessage(`{"op":`)}
	if err := alice.Sign(bad, now); err == nil || bad.Signature != "" {
		t.Fatalf("signed a message whose body does not marshal: %v %q", err, bad.Signature)
	}
}

// The replay cache is bounded: past its size (after forgetting what left the window) a message
// is refused as busy, not remembered; what is remembered is still refused as a replay.
func TestReplayCacheIsBounded(t *testing.T) {
	alice := newSelf(t, "alice")
	bob := uuid.New()
	now := time.Now()
	v := &federation.Verifier{Max: 3}
	var first *federation.Envelope
	for i := range 3 {
		e := signed(t, alice, bob, now, `{}`)
		if i == 0 {
			first = e
		}
		if err := v.Verify(e, alice.PublicKey, bob, now); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := v.Verify(signed(t, alice, bob, now, `{}`), alice.PublicKey, bob, now); !errors.Is(err, federation.ErrBusy) {
		t.Fatalf("a fourth message within the window: %v; want ErrBusy", err)
	}
	if err := v.Verify(first, alice.PublicKey, bob, now); !errors.Is(err, federation.ErrReplay) {
		t.Fatalf("a replay: %v; want ErrReplay", err)
	}
	// Once the window has moved on, room again.
	later := now.Add(2 * time.Minute)
	if err := v.Verify(signed(t, alice, bob, later, `{}`), alice.PublicKey, bob, later); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// The identity document is signed by the key it presents: a proxy that rewrites where the
// leafnode connects (or any other field) breaks the signature, and one that also swaps in its own
// key and signature is caught by the expected key (connect --expect-key).
func TestIdentityDocumentIsSigned(t *testing.T) {
	alice := newSelf(t, "alice")
	id := alice.Identity
	id.LeafURL = "nats-leaf://alice.example:7422"
	signedID, err := alice.SignIdentity(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := federation.VerifyIdentity(signedID); err != nil {
		t.Fatalf("the signed identity: %v", err)
	}
	rewritten := signedID
	rewritten.LeafURL = "nats-leaf://mallory.example:7422"
	if err := federation.VerifyIdentity(rewritten); !errors.Is(err, federation.ErrUnsignedIdentity) {
		t.Fatalf("a rewritten leaf URL: %v; want ErrUnsignedIdentity", err)
	}
	if err := federation.VerifyIdentity(id); !errors.Is(err, federation.ErrUnsignedIdentity) {
		t.Fatalf("an unsigned identity: %v; want ErrUnsignedIdentity", err)
	}
	mallory := newSelf(t, "mallory")
	swapped := rewritten
	swapped.PublicKey = mallory.PublicKey
	if swapped, err = mallory.SignIdentity(swapped); err != nil {
		t.Fatal(err)
	}
	if err := federation.VerifyIdentity(swapped); err != nil || swapped.PublicKey == alice.PublicKey {
		t.Fatalf("mallory's own signed document: %v (it verifies, under mallory's key, which --expect-key refuses)", err)
	}
}

// TestLeafKeyProof: a CONNECT proves its leafnode key with that key's signature over the
// instance's key, id and leafnode key; the proof fits no other identity.
func TestLeafKeyProof(t *testing.T) {
	alice, mallory := newSelf(t, "alice"), newSelf(t, "mallory")
	proof, err := alice.ProveLeafKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := federation.VerifyLeafProof(alice.Identity, proof); err != nil {
		t.Fatalf("alice's proof: %v", err)
	}
	claimed := mallory.Identity
	claimed.LeafKey = alice.LeafKey // alice's leafnode key under mallory's instance key
	for name, id := range map[string]federation.Identity{"another instance key": claimed, "another id": func() federation.Identity {
		id := alice.Identity
		id.ID = mallory.ID
		return id
	}()} {
		if err := federation.VerifyLeafProof(id, proof); !errors.Is(err, federation.ErrLeafKeyNotProven) {
			t.Fatalf("alice's proof for %s: %v; want ErrLeafKeyNotProven", name, err)
		}
	}
	if err := federation.VerifyLeafProof(alice.Identity, ""); !errors.Is(err, federation.ErrLeafKeyNotProven) {
		t.Fatalf("no proof: %v", err)
	}
}
