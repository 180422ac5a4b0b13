package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/nats-io/nkeys"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Identity (mosaictype.Identity) is what an instance shows its peers.
type Identity = mosaictype.Identity

// identityDomain starts what an identity's signature covers, so that it is never the signature of
// a federation message (whose signed bytes are a JSON object) or of anything else.
const identityDomain = "mosaic federation identity\x00"

// identityBytes is what an identity's signature covers: every field but the signature.
func identityBytes(id Identity) ([]byte, error) {
	id.Signature = ""
	id.CreatedAt = id.CreatedAt.UTC()
	b, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	return append([]byte(identityDomain), b...), nil
}

// SignIdentity returns id signed by this instance's key.
func (s *Self) SignIdentity(id Identity) (Identity, error) {
	msg, err := identityBytes(id)
	if err != nil {
		return id, err
	}
	sig, err := s.kp.Sign(msg)
	if err != nil {
		return id, err
	}
	id.Signature = base64.RawURLEncoding.EncodeToString(sig)
	return id, nil
}

// ErrUnsignedIdentity: an identity document without a valid signature by the key it names.
var ErrUnsignedIdentity = errors.New("federation: the identity is not signed by the key it presents")

// VerifyIdentity checks that id is signed by the public key it carries: nothing in it was
// changed on the way. Which key that is, only the peer's admin can say (connect --expect-key).
func VerifyIdentity(id Identity) error {
	pub, err := nkeys.FromPublicKey(id.PublicKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsignedIdentity, err)
	}
	msg, err := identityBytes(id)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsignedIdentity, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(id.Signature)
	if err != nil || id.Signature == "" || pub.Verify(msg, sig) != nil {
		return ErrUnsignedIdentity
	}
	return nil
}

// Capabilities an instance can grant a peer (none touches credentials: they never cross): the
// ones the grants' table accepts.
var Capabilities = slices.Clone(store.FederationCapabilities)

// Self is this instance: its identity and its signing key, held in memory only.
type Self struct {
	Identity
	kp nkeys.KeyPair
}

// errCreatedElsewhere: another process created the identity first.
var errCreatedElsewhere = errors.New("federation: the identity was created by another process")

func seedContext(id uuid.UUID) []byte { return []byte("federation:" + id.String()) }

// LoadOrCreate reads this instance's identity, creating it (named name) on first use. The seed is
// decrypted with the mosaic-federation key; a process whose policy cannot decrypt fails here.
func LoadOrCreate(ctx context.Context, db *store.DB, cipher crypto.Cipher, name string) (*Self, error) {
	if name == "" || len(name) > 64 {
		return nil, errors.New("federation: the instance name must be 1 to 64 bytes")
	}
	stored, err := db.GetFederationIdentity(ctx)
	if errors.Is(err, store.ErrNotFound) {
		self, err := create(ctx, db, cipher, name)
		if errors.Is(err, errCreatedElsewhere) {
			return LoadOrCreate(ctx, db, cipher, name)
		}
		return self, err
	}
	if err != nil {
		return nil, err
	}
	seed, err := cipher.Decrypt(ctx, crypto.KeyFederation, stored.SeedCiphertext, seedContext(stored.ID))
	if err != nil {
		return nil, fmt.Errorf("federation: open the instance key: %w", err)
	}
	kp, err := nkeys.FromSeed(bytes.Clone(seed)) // the key pair keeps its own copy; ours is wiped
	clear(seed)
	if err != nil {
		return nil, fmt.Errorf("federation: the stored instance key is not an nkeys seed: %w", err)
	}
	if got, _ := kp.PublicKey(); got != stored.PublicKey {
		return nil, errors.New("federation: the stored instance key does not match its public key")
	}
	return newSelf(identityOf(stored), kp)
}

// newSelf completes an identity with its leafnode key.
func newSelf(id Identity, kp nkeys.KeyPair) (*Self, error) {
	s := &Self{Identity: id, kp: kp}
	leaf, err := s.leafKeyPair()
	if err != nil {
		return nil, err
	}
	s.LeafKey, err = leaf.PublicKey()
	return s, err
}

// leafKeyPair derives the leafnode login key from the instance key: SHA-256 of a label and the
// instance's raw seed, as an nkeys user seed. It signs nothing but leafnode logins.
func (s *Self) leafKeyPair() (nkeys.KeyPair, error) {
	seed, err := s.kp.Seed()
	if err != nil {
		return nil, err
	}
	_, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, err
	}
	derived := sha256.Sum256(append([]byte("mosaic federation leafnode login\x00"), raw...))
	clear(raw)
	return nkeys.FromRawSeed(nkeys.PrefixByteUser, derived[:])
}

// leafProofDomain starts what a leafnode key signs to prove whose it is. A leafnode login signs
// the nonce of the server it logs in to, which the server chooses; but that nonce reaches the
// login as a JSON string, always valid UTF-8, and these bytes begin with 0xFF, never valid UTF-8:
// no server can obtain this proof by a login.
const leafProofDomain = "\xffmosaic federation leafnode key\x00"

func leafProofBytes(id Identity) []byte {
	return []byte(leafProofDomain + id.PublicKey + "\x00" + id.ID.String() + "\x00" + id.LeafKey)
}

// ProveLeafKey signs, with the leafnode key, that it belongs to this instance (its id and key):
// a CONNECT carries it, so that nobody registers another instance's leafnode key as theirs.
func (s *Self) ProveLeafKey() (string, error) {
	kp, err := s.leafKeyPair()
	if err != nil {
		return "", err
	}
	sig, err := kp.Sign(leafProofBytes(s.Identity))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sig), nil
}

// ErrLeafKeyNotProven: a CONNECT whose leafnode key did not sign that it belongs to the sender.
var ErrLeafKeyNotProven = errors.New("federation: the leafnode key is not proven to be the sender's")

// VerifyLeafProof checks a proof made by ProveLeafKey for id.
func VerifyLeafProof(id Identity, proof string) error {
	pub, err := nkeys.FromPublicKey(id.LeafKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLeafKeyNotProven, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(proof)
	if err != nil || proof == "" || pub.Verify(leafProofBytes(id), sig) != nil {
		return ErrLeafKeyNotProven
	}
	return nil
}

// leafSeed is the leafnode login key as an nkeys seed, the form a leafnode remote takes (held
// in memory only).
func (s *Self) leafSeed() (string, error) {
	kp, err := s.leafKeyPair()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	return string(seed), err
}

func create(ctx context.Context, db *store.DB, cipher crypto.Cipher, name string) (*Self, error) {
	kp, err := nkeys.CreateServer()
	if err != nil {
		return nil, err
	}
	seed, err := kp.Seed() // the key pair's own bytes: not to be wiped while it signs
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	id := store.NewID()
	ct, err := cipher.Encrypt(ctx, crypto.KeyFederation, seed, seedContext(id))
	if err != nil {
		return nil, fmt.Errorf("federation: seal the instance key: %w", err)
	}
	stored, err := db.CreateFederationIdentity(ctx, store.FederationIdentity{ID: id, Name: name, PublicKey: pub, SeedCiphertext: ct})
	if errors.Is(err, store.ErrConflict) {
		return nil, errCreatedElsewhere
	}
	if err != nil {
		return nil, err
	}
	return newSelf(identityOf(stored), kp)
}

// identityOf is the identity a stored one shows (its leafnode key is derived by newSelf).
func identityOf(stored store.FederationIdentity) Identity {
	return Identity{ID: stored.ID, Name: stored.Name, PublicKey: stored.PublicKey, Capabilities: Capabilities, CreatedAt: stored.CreatedAt}
}
