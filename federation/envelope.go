package federation

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nkeys"
)

// Message types of the Agent Federation Protocol.
const (
	TypeConnect    = "CONNECT"
	TypeQuery      = "QUERY"
	TypeCommand    = "COMMAND"
	TypeEvent      = "EVENT"
	TypeDisconnect = "DISCONNECT"
)

// Envelope is a federation message: every one is signed by its sender's instance key and carries
// a timestamp and a nonce, so that the receiver can refuse forgeries, replays and stale messages.
type Envelope struct {
	Type      string          `json:"type"`
	From      uuid.UUID       `json:"from"` // the sender's instance id
	To        uuid.UUID       `json:"to"`   // the receiver's instance id
	Timestamp time.Time       `json:"ts"`
	Nonce     string          `json:"nonce"`
	Body      json.RawMessage `json:"body,omitempty"`
	// Re is, in a reply, the nonce of the request it answers: a reply cannot be replayed to
	// another request.
	Re        string `json:"re,omitempty"`
	Signature string `json:"sig,omitempty"` // base64url Ed25519 over signedBytes
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("federation: the signature does not verify against the peer's key")
	ErrStale        = errors.New("federation: the message's timestamp is outside the accepted window")
	ErrReplay       = errors.New("federation: the message's nonce was seen already")
	ErrMalformed    = errors.New("federation: malformed message")
)

// signedBytes is what the signature covers: every field but the signature, in a fixed order.
func (e *Envelope) signedBytes() []byte {
	c := *e
	c.Signature = ""
	c.Timestamp = c.Timestamp.UTC()
	b, _ := json.Marshal(c) // a struct of strings, a time and raw JSON always marshals
	return b
}

// Sign fills the timestamp and nonce and signs e with this instance's key.
func (s *Self) Sign(e *Envelope, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	e.From, e.Timestamp, e.Nonce, e.Signature = s.ID, now.UTC().Truncate(time.Millisecond), base64.RawURLEncoding.EncodeToString(nonce), ""
	sig, err := s.kp.Sign(e.signedBytes())
	if err != nil {
		return err
	}
	e.Signature = base64.RawURLEncoding.EncodeToString(sig)
	return nil
}

// Verifier checks incoming messages: the signature against the sender's recorded public key, the
// timestamp within Skew of now, and the nonce never seen within the window.
type Verifier struct {
	// Skew is how far a timestamp may be from now, either way. Default 30s.
	Skew time.Duration

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when it may be forgotten
	pruned time.Time
}

// Verify checks e from a peer whose recorded public key is peerKey, for this instance (self).
func (v *Verifier) Verify(e *Envelope, peerKey string, self uuid.UUID, now time.Time) error {
	skew := v.Skew
	if skew <= 0 {
		skew = 30 * time.Second
	}
	switch e.Type {
	case TypeConnect, TypeQuery, TypeCommand, TypeEvent, TypeDisconnect:
	default:
		return fmt.Errorf("%w: type %q", ErrMalformed, e.Type)
	}
	if e.To != self || e.Nonce == "" || len(e.Nonce) > 64 {
		return fmt.Errorf("%w: wrong receiver or nonce", ErrMalformed)
	}
	pub, err := nkeys.FromPublicKey(peerKey)
	if err != nil {
		return fmt.Errorf("%w: the peer's key: %v", ErrMalformed, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(e.Signature)
	if err != nil || pub.Verify(e.signedBytes(), sig) != nil {
		return ErrBadSignature
	}
	if d := now.Sub(e.Timestamp); d > skew || d < -skew {
		return ErrStale
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nonces == nil {
		v.nonces = map[string]time.Time{}
	}
	if now.Sub(v.pruned) > time.Second { // at most once a second: a busy link verifies many messages
		for n, until := range v.nonces {
			if now.After(until) {
				delete(v.nonces, n) // past the window, a replay is refused as stale anyway
			}
		}
		v.pruned = now
	}
	key := e.From.String() + "/" + e.Nonce
	if _, seen := v.nonces[key]; seen {
		return ErrReplay
	}
	v.nonces[key] = e.Timestamp.Add(2 * skew)
	return nil
}
