package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
)

func TestRefusesProduction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	if _, err := keyring.Open(path, keyring.Options{Env: "production"}); !errors.Is(err, crypto.ErrProductionRefused) {
		t.Fatalf("production: %v; want ErrProductionRefused", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a refused keyring created its file")
	}
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	if _, err := keyring.Open(path, keyring.Options{Env: "production", AllowInProduction: true, Logger: &log}); err != nil {
		t.Fatalf("production, explicitly allowed: %v", err)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "Not for production") {
		t.Fatalf("no ERROR line saying it is not for production: %s", logs.String())
	}
}

func TestKeysPersistWithTheirVersions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyring.json")
	k, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateKey(ctx, crypto.KeyCredentials); err != nil {
		t.Fatal(err)
	}
	ct1, _ := k.Encrypt(ctx, crypto.KeyCredentials, []byte("one"), []byte("c"))
	if _, err := k.RotateKey(ctx, crypto.KeyCredentials); err != nil {
		t.Fatal(err)
	}
	ct2, _ := k.Encrypt(ctx, crypto.KeyCredentials, []byte("two"), []byte("c"))
	if !strings.HasPrefix(ct1, "mosaic-keyring:v1:") || !strings.HasPrefix(ct2, "mosaic-keyring:v2:") {
		t.Fatalf("ciphertexts %q %q", ct1, ct2)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v; want 0600", fi.Mode(), err)
	}
	again, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for ct, want := range map[string]string{ct1: "one", ct2: "two"} {
		if pt, err := again.Decrypt(ctx, crypto.KeyCredentials, ct, []byte("c")); err != nil || string(pt) != want {
			t.Fatalf("after reopening: %q %v", pt, err)
		}
	}
	// A Transit ciphertext is not the keyring's.
	if _, err := again.Decrypt(ctx, crypto.KeyCredentials, "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAA", []byte("c")); !errors.Is(err, crypto.ErrInvalidCiphertext) {
		t.Fatalf("a vault: ciphertext: %v", err)
	}
}
