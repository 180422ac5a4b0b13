package keyring_test

// Fuzzing the local keyring's Decrypt with ciphertexts it did not make. Plain `go test` replays the
// seeds below and the corpus in testdata/fuzz/FuzzKeyringDecrypt; to search for new inputs:
//
//	go test -run '^$' -fuzz '^FuzzKeyringDecrypt$' -fuzztime 40s ./crypto/keyring/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
)

// fuzzKeyFile is a keyring with fixed keys, so that every fuzzing process (the fuzzer runs several)
// decrypts the same ciphertexts: mosaic-credentials (derived) at versions 1 (32 × 0x01) and 2
// (32 × 0x02), and "legacy", a key without derivation (32 × 0x03).
const fuzzKeyFile = `{"version":1,"keys":{
 "mosaic-credentials":{"derived":true,"latest":2,"min_decryption":1,"versions":{
  "1":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","2":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="}},
 "legacy":{"derived":false,"latest":1,"min_decryption":1,"versions":{"1":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="}}}}`

// madeCiphertexts are what a keyring holding fuzzKeyFile made (Encrypt, once): the only strings
// Decrypt may open, each only with its key and (for a derived key) its context.
var madeCiphertexts = []struct{ key, ciphertext, plaintext, kctx string }{
	{crypto.KeyCredentials, "mosaic-keyring:v1:MLaso1+0qHeRlHuItQgNpielboaXjp6OFXhCgfdUqYMnPyAc+z0x+9Oc8lI=", "ghp_s3cr3t-token", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:01a2226a-5803-7dea-bfc2-8091b5204e4d"},
	{crypto.KeyCredentials, "mosaic-keyring:v1:wA1MEtyjcC+TgUpXu9jTsjgmY2hygX2K3WVtTA==", "", "c"},
	{crypto.KeyCredentials, "mosaic-keyring:v1:BezZ4jMlP/pgQXLaFlr9Cdyg0cRmO3vy2fEZf50=", "x", "c"},
	{crypto.KeyCredentials, "mosaic-keyring:v2:IoD9KHFoNfYRtGe0EjoO8J8FRmBI4UAs52hYBwF91cO9kDc52J65tTgdy8E=", "ghp_s3cr3t-token", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:01a2226a-5803-7dea-bfc2-8091b5204e4d"},
	{crypto.KeyCredentials, "mosaic-keyring:v2:zdVOvyeyFbPqBe6b482WrspOfhc5xzWGMglkWQ==", "", "c"},
	{crypto.KeyCredentials, "mosaic-keyring:v2:4G61hMbsrbbPT20O7/LL/mzpSnLqPC8FjBV62/U=", "x", "c"},
	{crypto.KeyCredentials, "mosaic-keyring:v2:wAjIFMu9E07yC1FGwh/CKSDk/z4XDCgj4CSak2ldbqa37aV6rsVic9H2wMQpxRd4ag+tmg9W0Zo48be71DmFiWV2yte1L7PQ53txYisrKh/xV3w6HmqqdhiRYg==", "a longer secret value that spans several AES blocks, 0123456789", "ctx"},
	{"legacy", "mosaic-keyring:v1:p40SMj6T9fDIVs5tJjY2QuAubgINuI7zM9jMXzPOdMT+3QiJNybK", "not derived", ""},
}

// FuzzKeyringDecrypt: Decrypt (and Rewrap, DecryptBatch) of any string under any context never
// panics, opens only a ciphertext the keyring made, with that ciphertext's context, and otherwise
// fails with one of crypto's errors.
func FuzzKeyringDecrypt(f *testing.F) {
	path := filepath.Join(f.TempDir(), "keyring.json")
	if err := os.WriteFile(path, []byte(fuzzKeyFile), 0o600); err != nil {
		f.Fatal(err)
	}
	k, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range madeCiphertexts {
		legacy := m.key == "legacy"
		if pt, err := k.Decrypt(ctx, m.key, m.ciphertext, []byte(m.kctx)); err != nil || string(pt) != m.plaintext {
			f.Fatalf("the keyring does not open its own %s: %q %v", m.ciphertext, pt, err)
		}
		f.Add(m.ciphertext, []byte(m.kctx), legacy)
		f.Add(m.ciphertext, []byte(m.kctx+"x"), legacy)
		f.Add(m.ciphertext+"\n", []byte(m.kctx), legacy)
		f.Add(strings.Replace(m.ciphertext, ":v", ":v0", 1), []byte(m.kctx), legacy)
	}
	for _, s := range []string{
		"", ":", "mosaic-keyring", "mosaic-keyring:v1:", "mosaic-keyring:v3:AAAAAAAAAAAAAAAAAAAAAAAA",
		"mosaic-keyring:v1:AAAAAAAAAAAAAAAA", "mosaic-keyring:v1:!!!!", "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"mosaic-keyring:v9223372036854775807:AAAA",
	} {
		f.Add(s, []byte("c"), false)
		f.Add(s, []byte(nil), true)
	}
	f.Fuzz(func(t *testing.T, ciphertext string, kctx []byte, legacy bool) {
		key := crypto.KeyCredentials
		if legacy {
			key = "legacy"
		}
		pt, err := k.Decrypt(ctx, key, ciphertext, kctx)
		if err != nil {
			if !isCipherError(err) {
				t.Fatalf("Decrypt(%q): %v is none of crypto's errors", ciphertext, err)
			}
			if pt != nil {
				t.Fatalf("Decrypt(%q) failed (%v) and still gave %q", ciphertext, err, pt)
			}
		} else {
			made := false
			for _, m := range madeCiphertexts {
				if m.key == key && m.ciphertext == ciphertext && (legacy || m.kctx == string(kctx)) {
					made = true
					if string(pt) != m.plaintext {
						t.Fatalf("Decrypt(%q) = %q; it was made from %q", ciphertext, pt, m.plaintext)
					}
				}
			}
			if !made {
				t.Fatalf("Decrypt(%q) under context %q opened a ciphertext the keyring did not make: %q", ciphertext, kctx, pt)
			}
		}

		// The other ways in agree with Decrypt.
		res, batchErr := k.DecryptBatch(ctx, key, []crypto.Item{{Ciphertext: ciphertext, Context: kctx}})
		if batchErr != nil || len(res) != 1 || (res[0].Err == nil) != (err == nil) || !bytes.Equal(res[0].Plaintext, pt) {
			t.Fatalf("DecryptBatch(%q) = %+v, %v; Decrypt gave %q, %v", ciphertext, res, batchErr, pt, err)
		}
		rewrapped, rewrapErr := k.Rewrap(ctx, key, ciphertext, kctx)
		if (rewrapErr == nil) != (err == nil) {
			t.Fatalf("Rewrap(%q): %v; Decrypt: %v", ciphertext, rewrapErr, err)
		}
		if rewrapErr == nil {
			latest := "mosaic-keyring:v2:"
			if legacy {
				latest = "mosaic-keyring:v1:"
			}
			again, err := k.Decrypt(ctx, key, rewrapped, kctx)
			if !strings.HasPrefix(rewrapped, latest) || err != nil || !bytes.Equal(again, pt) {
				t.Fatalf("Rewrap(%q) = %q, which opens to %q, %v", ciphertext, rewrapped, again, err)
			}
		}
	})
}

func isCipherError(err error) bool {
	for _, target := range []error{crypto.ErrInvalidCiphertext, crypto.ErrDecrypt, crypto.ErrVersionDisallowed, crypto.ErrMissingContext} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
