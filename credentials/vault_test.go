package credentials_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/store"
)

func TestParseRotationPolicy(t *testing.T) {
	for in, want := range map[string]time.Duration{"every 1h": time.Hour, "every 30d": 30 * 24 * time.Hour, "every 2w": 14 * 24 * time.Hour} {
		if got, err := credentials.ParseRotationPolicy(in); err != nil || got != want {
			t.Errorf("%q: %v %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "30d", "every", "every 0d", "every 3m", "every -1h", "every 10001d", "every d"} {
		if _, err := credentials.ParseRotationPolicy(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// TestMaskShowsOnlyTheEndOfALongValue: a short value shows nothing; a long one its last four
// characters (runes, not bytes).
func TestMaskShowsOnlyTheEndOfALongValue(t *testing.T) {
	for in, want := range map[string]string{"short": "••••", "12345678901": "••••", "sk-live-abcdefgh1234": "••••1234",
		"ключ-очень-секретный": "••••тный"} {
		if got := credentials.Mask([]byte(in)); got != want {
			t.Errorf("Mask(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := credentials.Spec{Name: "github", RotationPolicy: "every 30d"}
	if err := ok.Validate(); err != nil || ok.Type != store.CredentialSecret || ok.Scope != store.ScopeUser {
		t.Fatalf("%+v: %v; want valid, type and scope defaulted", ok, err)
	}
	for _, s := range []credentials.Spec{{}, {Name: "a\nb"}, {Name: strings.Repeat("n", 129)}, {Name: "x", Type: "TOKEN"},
		{Name: "x", Scope: "GLOBAL"}, {Name: "x", RotationPolicy: "monthly"}, {Name: "x", Provider: strings.Repeat("p", 65)},
		{Name: "x", Metadata: map[string]string{"k": "a\x00b"}}} {
		if err := s.Validate(); !errors.Is(err, credentials.ErrInvalid) {
			t.Errorf("%+v: %v; want ErrInvalid", s, err)
		}
	}
}
