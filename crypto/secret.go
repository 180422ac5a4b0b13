package crypto

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/rs/zerolog"
)

// Redacted is what a Secret prints, marshals and logs as.
const Redacted = "[REDACTED]"

// ErrWiped: the Secret was wiped (or is the zero value).
var ErrWiped = errors.New("secret: wiped or empty")

// Secret holds a plaintext. It never prints (String, GoString, Format — whatever the verb, value
// or pointer), marshals (JSON, text, binary) or logs (zerolog, slog) its content; Use lends the
// bytes, and Wipe zeroes them. A Secret is a handle: copies share the plaintext and its wiping.
type Secret struct{ h *secretBytes }

type secretBytes struct {
	mu sync.Mutex
	b  []byte
}

// NewSecret takes ownership of b: the caller must not use or keep it afterwards.
func NewSecret(b []byte) Secret { return Secret{h: &secretBytes{b: b}} }

// Use calls fn with the plaintext, which fn must not keep. It fails with ErrWiped after Wipe.
func (s Secret) Use(fn func(plaintext []byte) error) error {
	if s.h == nil {
		return ErrWiped
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if s.h.b == nil {
		return ErrWiped
	}
	return fn(s.h.b)
}

// Wipe zeroes the plaintext; the Secret is unusable afterwards. Safe to call twice.
func (s Secret) Wipe() {
	if s.h == nil {
		return
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	clear(s.h.b)
	s.h.b = nil
}

// Wiped reports whether the Secret holds no plaintext any more.
func (s Secret) Wiped() bool {
	if s.h == nil {
		return true
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.b == nil
}

// String implements fmt.Stringer: Redacted.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer: Redacted (for %#v).
func (s Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter: every verb prints Redacted.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler: "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler: Redacted.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalBinary implements encoding.BinaryMarshaler: Redacted.
func (s Secret) MarshalBinary() ([]byte, error) { return []byte(Redacted), nil }

// MarshalZerologObject implements zerolog.LogObjectMarshaler.
func (s Secret) MarshalZerologObject(e *zerolog.Event) { e.Str("secret", Redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
