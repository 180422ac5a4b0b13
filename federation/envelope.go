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

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Message types of the Agent Federation Protocol.
const (
	TypeConnect    = "CONNECT"
	TypeQuery      = "QUERY"
	TypeCommand    = "COMMAND"
	TypeEvent      = "EVENT"
	TypeDisconnect = "DISCONNECT"
	// TypeReply is every signed answer to a request (its Re names the request's nonce). A reply
	// is never taken as a request, nor a request as a reply: a peer cannot obtain this instance's
	// signature on a request it did not make by having it refused.
	TypeReply = "REPLY"
)

// Envelope (mosaictype.Envelope) is a federation message: every one is signed by its sender's
// instance key and carries a timestamp and a nonce, so that the receiver can refuse forgeries,
// replays and stale messages.
type Envelope = mosaictype.Envelope

// Errors of Verify.
var (
	ErrBadSignature = errors.New("federation: the signature does not verify against the peer's key")
	ErrStale        = errors.New("federation: the message's timestamp is outside the accepted window")
	ErrReplay       = errors.New("federation: the message's nonce was seen already")
	ErrMalformed    = errors.New("federation: malformed message")
	// ErrUnsigned: an answer that carries no signature (or none of the peer's): not the peer's word.
	ErrUnsigned = errors.New("federation: the answer is not signed by the peer")
	// ErrTooMany: an address has as many requests to connect waiting as it may.
	ErrTooMany = errors.New("federation: too many requests to connect from this address")
	// ErrBusy: the verifier remembers as many nonces as it may; try again once the window moves.
	ErrBusy = errors.New("federation: too many messages within the replay window")
)

// signedBytes is what an envelope's signature covers: every field but the signature, in a fixed
// order. A body that is not valid JSON does not marshal: that is an error, never a signature over
// nothing.
func signedBytes(e *Envelope) ([]byte, error) {
	c := *e
	c.Signature = ""
	c.Timestamp = c.Timestamp.UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, nil
}

// Sign fills the timestamp and nonce and signs e with this instance's key.
func (s *Self) Sign(e *Envelope, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	e.From, e.Timestamp, e.Nonce, e.Signature = s.ID, now.UTC().Truncate(time.Millisecond), base64.RawURLEncoding.EncodeToString(nonce), ""
	msg, err := signedBytes(e)
	if err != nil {
		return err
	}
	sig, err := s.kp.Sign(msg)
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
	// Max bounds the nonces remembered within the window (default 100 000): past it, after
	// forgetting the expired ones, a message is refused (ErrBusy) rather than let memory grow.
	Max int

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when it may be forgotten
	pruned time.Time
}

// Verify checks a request (or an event) e from a peer whose recorded public key is peerKey, for
// this instance (self). A reply, or anything that names a request it answers (Re), is refused.
func (v *Verifier) Verify(e *Envelope, peerKey string, self uuid.UUID, now time.Time) error {
	switch e.Type {
	case TypeConnect, TypeQuery, TypeCommand, TypeEvent, TypeDisconnect:
	default:
		return fmt.Errorf("%w: type %q", ErrMalformed, e.Type)
	}
	if e.Re != "" {
		return fmt.Errorf("%w: a request answers nothing (re)", ErrMalformed)
	}
	return v.verify(e, peerKey, self, now)
}

// VerifyReply checks a reply e to the request whose nonce is re, from a peer whose recorded
// public key is peerKey, for this instance (self).
func (v *Verifier) VerifyReply(e *Envelope, re, peerKey string, self uuid.UUID, now time.Time) error {
	if e.Type != TypeReply {
		return fmt.Errorf("%w: type %q is not a reply", ErrMalformed, e.Type)
	}
	if re == "" || e.Re != re {
		return fmt.Errorf("%w: the reply does not answer this request", ErrBadSignature)
	}
	return v.verify(e, peerKey, self, now)
}

func (v *Verifier) verify(e *Envelope, peerKey string, self uuid.UUID, now time.Time) error {
	skew := v.Skew
	if skew <= 0 {
		skew = 30 * time.Second
	}
	if e.To != self || e.Nonce == "" || len(e.Nonce) > 64 {
		return fmt.Errorf("%w: wrong receiver or nonce", ErrMalformed)
	}
	pub, err := nkeys.FromPublicKey(peerKey)
	if err != nil {
		return fmt.Errorf("%w: the peer's key: %v", ErrMalformed, err)
	}
	msg, err := signedBytes(e)
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(e.Signature)
	if err != nil || pub.Verify(msg, sig) != nil {
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
	limit := v.Max
	if limit <= 0 {
		limit = 100_000
	}
	if now.Sub(v.pruned) > time.Second || len(v.nonces) >= limit { // a busy link verifies many messages
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
	if len(v.nonces) >= limit {
		return ErrBusy
	}
	v.nonces[key] = e.Timestamp.Add(2 * skew)
	return nil
}
