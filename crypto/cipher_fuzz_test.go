package crypto_test

// Fuzzing the ciphertext framing "<prefix>:v<N>:<body>" shared by Transit and the local keyring.
// Plain `go test` replays the seeds below and the corpus in testdata/fuzz/FuzzParseVersion; to
// search for new inputs:
//
//	go test -run '^$' -fuzz '^FuzzParseVersion$' -fuzztime 40s ./crypto/
//
// (or `make fuzz`, which runs every fuzz target of the repository in turn). The keyring's Decrypt
// of arbitrary ciphertexts is fuzzed in crypto/keyring (FuzzKeyringDecrypt).

import (
	"errors"
	"regexp"
	"strconv"
	"testing"

	"github.com/mosaicstack/mosaic/crypto"
)

// versionRE is the framing ParseVersion reads: a non-empty prefix without ':', a version in
// canonical decimal from 1, and any body.
var versionRE = regexp.MustCompile(`(?s)^([^:]+):v([1-9][0-9]*):(.*)$`)

// FuzzParseVersion: ParseVersion accepts exactly the framing of versionRE (for versions that fit
// an int), gives back the parts the string is made of, and rejects everything else with
// ErrInvalidCiphertext.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{
		"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAA",
		"vault:v12:abc:def",
		"mosaic-keyring:v2:IoD9KHFoNfYRtGe0EjoO8J8FRmBI4UAs52hYBwF91cO9kDc52J65tTgdy8E=",
		"mosaic-keyring:v1:",
		"vault:v0:AAAA",
		"vault:v01:AAAA",
		"vault:v+1:AAAA",
		"vault:v-1:AAAA",
		"vault:V1:AAAA",
		"vault:v:AAAA",
		"vault:v1",
		"vault:v9223372036854775807:AAAA",
		"vault:v9223372036854775808:AAAA",
		":v1:AAAA",
		"vault",
		"",
		"a:b:c",
		"pre\nfix:v3:body\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		prefix, version, body, err := crypto.ParseVersion(s)
		m := versionRE.FindStringSubmatch(s)
		want := m != nil
		if want {
			if _, convErr := strconv.Atoi(m[2]); convErr != nil {
				want = false // does not fit an int
			}
		}
		if err != nil {
			if !errors.Is(err, crypto.ErrInvalidCiphertext) {
				t.Fatalf("ParseVersion(%q): %v; want ErrInvalidCiphertext", s, err)
			}
			if want {
				t.Fatalf("ParseVersion(%q) refused a well-framed ciphertext: %v", s, err)
			}
			return
		}
		if !want {
			t.Fatalf("ParseVersion(%q) = %q, %d, %q; want an error", s, prefix, version, body)
		}
		if prefix == "" || version < 1 {
			t.Fatalf("ParseVersion(%q): prefix %q, version %d", s, prefix, version)
		}
		if got := prefix + ":v" + strconv.Itoa(version) + ":" + body; got != s {
			t.Fatalf("ParseVersion(%q) = %q, %d, %q, which makes %q", s, prefix, version, body, got)
		}
		if prefix != m[1] || body != m[3] {
			t.Fatalf("ParseVersion(%q) = %q, %q; the framing says %q, %q", s, prefix, body, m[1], m[3])
		}
	})
}
