package crypto_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/crypto/transittest"
)

// The contract every crypto.Cipher keeps, run against the local keyring, the Transit client
// talking to the test double of Transit's HTTP API, and — when MOSAIC_TEST_OPENBAO_ADDR and
// MOSAIC_TEST_OPENBAO_TOKEN are set — the Transit client talking to a real OpenBao. The suite
// creates its own keys (fresh names each run).

type implementation struct {
	name string
	new  func(t *testing.T) crypto.Cipher
}

func implementations() []implementation {
	return []implementation{
		{"keyring", func(t *testing.T) crypto.Cipher {
			k, err := keyring.Open(filepath.Join(t.TempDir(), "keyring.json"), keyring.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return k
		}},
		{"transit-testserver", func(t *testing.T) crypto.Cipher {
			srv := transittest.New()
			t.Cleanup(srv.Close)
			c, err := transit.New(context.Background(), transit.Config{Addr: srv.URL(), Token: srv.RootToken})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return c
		}},
		{"transit-openbao", func(t *testing.T) crypto.Cipher {
			addr, token := os.Getenv("MOSAIC_TEST_OPENBAO_ADDR"), os.Getenv("MOSAIC_TEST_OPENBAO_TOKEN")
			if addr == "" || token == "" {
				t.Skip("no real OpenBao: set MOSAIC_TEST_OPENBAO_ADDR and MOSAIC_TEST_OPENBAO_TOKEN (a token that may mount transit and create keys) to run the contract against one")
			}
			c, err := transit.New(context.Background(), transit.Config{Addr: addr, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			if err := c.EnsureMount(context.Background()); err != nil {
				t.Fatal(err)
			}
			return c
		}},
	}
}

func TestCipherContract(t *testing.T) {
	for _, impl := range implementations() {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			runContract(t, impl.new(t))
		})
	}
}

func runContract(t *testing.T, c crypto.Cipher) {
	ctx := context.Background()
	key := "contract-" + uuid.NewString()[:8]
	info, err := c.CreateKey(ctx, key)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	if !info.Derived || info.LatestVersion != 1 {
		t.Fatalf("new key: %+v; want derived, version 1", info)
	}
	if again, err := c.CreateKey(ctx, key); err != nil || again.LatestVersion != 1 {
		t.Fatalf("create again: %+v %v; want the same key, unchanged", again, err)
	}
	wsA, wsB, credA, credB := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	ctxA := crypto.CredentialContext(wsA, credA)
	secret := []byte("s3cr3t-" + uuid.NewString())

	ct, err := c.Encrypt(ctx, key, secret, ctxA)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ct, string(secret)) {
		t.Fatal("the ciphertext contains the plaintext")
	}
	if _, v, _, err := crypto.ParseVersion(ct); err != nil || v != 1 {
		t.Fatalf("ciphertext %q: version %d, %v", ct, v, err)
	}
	pt, err := c.Decrypt(ctx, key, ct, ctxA)
	if err != nil || string(pt) != string(secret) {
		t.Fatalf("decrypt: %q %v", pt, err)
	}

	t.Run("wrong context, workspace or row", func(t *testing.T) {
		for name, kctx := range map[string][]byte{
			"another credential":                          crypto.CredentialContext(wsA, credB),
			"another workspace (ciphertext copied there)": crypto.CredentialContext(wsB, credA),
			"garbage context":                             []byte("x"),
		} {
			if _, err := c.Decrypt(ctx, key, ct, kctx); !errors.Is(err, crypto.ErrDecrypt) {
				t.Errorf("%s: %v; want ErrDecrypt", name, err)
			}
		}
		if _, err := c.Decrypt(ctx, key, ct, nil); !errors.Is(err, crypto.ErrMissingContext) {
			t.Errorf("no context: %v; want ErrMissingContext", err)
		}
		if _, err := c.Encrypt(ctx, key, secret, nil); !errors.Is(err, crypto.ErrMissingContext) {
			t.Errorf("encrypt without context: %v; want ErrMissingContext", err)
		}
	})

	t.Run("malformed ciphertexts", func(t *testing.T) {
		prefix, _, body, _ := crypto.ParseVersion(ct)
		for _, bad := range []string{"", "garbage", prefix + ":", prefix + ":v1", prefix + ":v1:!!!notbase64", prefix + ":vX:AAAA", prefix + ":v9:" + body, prefix + ":v1:AAAA"} {
			_, err := c.Decrypt(ctx, key, bad, ctxA)
			if !errors.Is(err, crypto.ErrInvalidCiphertext) {
				t.Errorf("%q: %v; want ErrInvalidCiphertext", bad, err)
			}
		}
		tampered := []byte(ct)
		tampered[len(tampered)-3] ^= 1
		if tampered[len(tampered)-3] == '=' || tampered[len(tampered)-3] > 'z' {
			tampered[len(tampered)-3] = 'A'
		}
		if _, err := c.Decrypt(ctx, key, string(tampered), ctxA); !errors.Is(err, crypto.ErrDecrypt) && !errors.Is(err, crypto.ErrInvalidCiphertext) {
			t.Errorf("tampered: %v; want a refusal", err)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		if _, err := c.Decrypt(ctx, key+"-nope", ct, ctxA); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Errorf("decrypt: %v; want ErrKeyNotFound", err)
		}
		if _, err := c.KeyInfo(ctx, key+"-nope"); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Errorf("key info: %v; want ErrKeyNotFound", err)
		}
		if _, err := c.RotateKey(ctx, key+"-nope"); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Errorf("rotate: %v; want ErrKeyNotFound", err)
		}
		if _, err := c.SetMinDecryptionVersion(ctx, key+"-nope", 1); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Errorf("min decryption version: %v; want ErrKeyNotFound", err)
		}
	})

	t.Run("batches answer item by item", func(t *testing.T) {
		items := []crypto.Item{{Plaintext: []byte("one"), Context: ctxA}, {Plaintext: []byte("two"), Context: crypto.CredentialContext(wsB, credB)}}
		enc, err := c.EncryptBatch(ctx, key, items)
		if err != nil || len(enc) != 2 || enc[0].Err != nil || enc[1].Err != nil {
			t.Fatalf("encrypt batch: %+v %v", enc, err)
		}
		dec, err := c.DecryptBatch(ctx, key, []crypto.Item{
			{Ciphertext: enc[0].Ciphertext, Context: ctxA},
			{Ciphertext: enc[1].Ciphertext, Context: ctxA}, // wrong context
			{Ciphertext: "garbage", Context: ctxA},
		})
		if err != nil || len(dec) != 3 {
			t.Fatalf("decrypt batch: %+v %v", dec, err)
		}
		if dec[0].Err != nil || string(dec[0].Plaintext) != "one" {
			t.Errorf("item 0: %q %v", dec[0].Plaintext, dec[0].Err)
		}
		if !errors.Is(dec[1].Err, crypto.ErrDecrypt) {
			t.Errorf("item 1 (wrong context): %v; want ErrDecrypt", dec[1].Err)
		}
		if !errors.Is(dec[2].Err, crypto.ErrInvalidCiphertext) {
			t.Errorf("item 2 (garbage): %v; want ErrInvalidCiphertext", dec[2].Err)
		}
		all, err := c.DecryptBatch(ctx, key, []crypto.Item{{Ciphertext: "garbage", Context: ctxA}})
		if err != nil || len(all) != 1 || !errors.Is(all[0].Err, crypto.ErrInvalidCiphertext) {
			t.Errorf("a batch whose every item fails: %+v %v; want the item's own error", all, err)
		}
	})

	t.Run("rotate, rewrap, minimum version", func(t *testing.T) {
		info, err := c.RotateKey(ctx, key)
		if err != nil || info.LatestVersion != 2 {
			t.Fatalf("rotate: %+v %v", info, err)
		}
		if pt, err := c.Decrypt(ctx, key, ct, ctxA); err != nil || string(pt) != string(secret) {
			t.Fatalf("a v1 ciphertext after rotation: %v", err)
		}
		ct2, err := c.Rewrap(ctx, key, ct, ctxA)
		if err != nil {
			t.Fatal(err)
		}
		if _, v, _, _ := crypto.ParseVersion(ct2); v != 2 {
			t.Fatalf("rewrapped %q; want version 2", ct2)
		}
		if _, err := c.Rewrap(ctx, key, ct, crypto.CredentialContext(wsB, credA)); !errors.Is(err, crypto.ErrDecrypt) {
			t.Errorf("rewrap with another workspace's context: %v; want ErrDecrypt", err)
		}
		rw, err := c.RewrapBatch(ctx, key, []crypto.Item{{Ciphertext: ct, Context: ctxA}})
		if err != nil || rw[0].Err != nil || rw[0].KeyVersion != 2 {
			t.Fatalf("rewrap batch: %+v %v", rw, err)
		}
		info, err = c.SetMinDecryptionVersion(ctx, key, 2)
		if err != nil || info.MinDecryptionVersion != 2 {
			t.Fatalf("min decryption version: %+v %v", info, err)
		}
		if _, err := c.Decrypt(ctx, key, ct, ctxA); !errors.Is(err, crypto.ErrVersionDisallowed) {
			t.Errorf("a v1 ciphertext below the minimum: %v; want ErrVersionDisallowed", err)
		}
		if pt, err := c.Decrypt(ctx, key, ct2, ctxA); err != nil || string(pt) != string(secret) {
			t.Errorf("the rewrapped ciphertext: %v", err)
		}
	})

	t.Run("canary", func(t *testing.T) {
		caps, err := crypto.Canary(ctx, c, key)
		if err != nil || !caps.Encrypt || !caps.Decrypt {
			t.Fatalf("canary with every permission: %v %v", caps, err)
		}
	})
}
