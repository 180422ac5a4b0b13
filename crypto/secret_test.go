package crypto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/crypto"
)

func TestSecretNeverShows(t *testing.T) {
	const plain = "hunter2-very-secret"
	s := crypto.NewSecret([]byte(plain))
	type wrapper struct {
		Name   string
		Secret crypto.Secret
		Ptr    *crypto.Secret
	}
	w := wrapper{Name: "x", Secret: s, Ptr: &s}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, w))
	}
	j, _ := json.Marshal(w)
	out = append(out, string(j), s.String())
	var zbuf bytes.Buffer
	zl := zerolog.New(&zbuf)
	zl.Info().Interface("secret", s).Object("obj", s).Interface("wrapper", w).Msg("x")
	zl.Info().Msgf("%v", s)
	var sbuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&sbuf, nil)).Info("x", "secret", s, "wrapper", w)
	out = append(out, zbuf.String(), sbuf.String())
	for _, o := range out {
		if strings.Contains(o, plain) || strings.Contains(o, fmt.Sprintf("%x", plain)) {
			t.Fatalf("the plaintext shows in %q", o)
		}
	}
	if !strings.Contains(zbuf.String(), crypto.Redacted) {
		t.Fatalf("zerolog output %q lacks the redaction", zbuf.String())
	}
	var got string
	if err := s.Use(func(b []byte) error { got = string(b); return nil }); err != nil || got != plain {
		t.Fatalf("Use: %q %v", got, err)
	}
	s.Wipe()
	if err := s.Use(func([]byte) error { return nil }); !errors.Is(err, crypto.ErrWiped) || !s.Wiped() {
		t.Fatalf("after Wipe: %v", err)
	}
	s.Wipe() // twice is fine
}

func TestSecretWipeZeroesTheBytes(t *testing.T) {
	b := []byte("zero-me")
	s := crypto.NewSecret(b)
	s.Wipe()
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Fatalf("the bytes after Wipe: %q", b)
	}
}
