package crypto

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Keys by purpose. Every key is created derived: each encryption is bound to a context.
const (
	KeyCredentials   = "mosaic-credentials"
	KeyAccountTokens = "mosaic-account-tokens"
	KeyLLMConfig     = "mosaic-llm-config"
	KeyFederation    = "mosaic-federation"
)

// Keys lists the keys Mosaic uses.
var Keys = []string{KeyCredentials, KeyAccountTokens, KeyLLMConfig, KeyFederation}

// CredentialContext is the derivation context of a credential's ciphertext:
// "<workspace id>:<credential id>".
func CredentialContext(workspace, credential uuid.UUID) []byte {
	return []byte(workspace.String() + ":" + credential.String())
}

// Item is one element of a batch: Plaintext (encrypt) or Ciphertext (decrypt, rewrap), and the
// derivation context.
type Item struct {
	Plaintext  []byte
	Ciphertext string
	Context    []byte
}

// Result is the outcome of one Item: Ciphertext (encrypt, rewrap) or Plaintext (decrypt), the key
// version used, or Err (one of this package's errors).
type Result struct {
	Ciphertext string
	Plaintext  []byte
	KeyVersion int
	Err        error
}

// KeyInfo describes a key.
type KeyInfo struct {
	Name                 string
	Derived              bool
	LatestVersion        int
	MinDecryptionVersion int
	// Versions are the versions that can still decrypt.
	Versions []int
}

// Cipher encrypts with named, versioned keys. Errors are this package's (ErrKeyNotFound,
// ErrDecrypt, ErrInvalidCiphertext, ErrVersionDisallowed, ErrMissingContext, ErrPermissionDenied,
// ErrUnavailable), wrapped with detail.
type Cipher interface {
	// Name says which implementation this is ("transit", "keyring").
	Name() string
	// CreateKey creates a derived key if it does not exist (bootstrap only: runtime policies may
	// not create keys).
	CreateKey(ctx context.Context, key string) (KeyInfo, error)
	Encrypt(ctx context.Context, key string, plaintext, kctx []byte) (string, error)
	Decrypt(ctx context.Context, key, ciphertext string, kctx []byte) ([]byte, error)
	// Rewrap re-encrypts a ciphertext with the key's latest version, never exposing the plaintext.
	Rewrap(ctx context.Context, key, ciphertext string, kctx []byte) (string, error)
	// The batch forms answer item by item; the error is for the call as a whole.
	EncryptBatch(ctx context.Context, key string, items []Item) ([]Result, error)
	DecryptBatch(ctx context.Context, key string, items []Item) ([]Result, error)
	RewrapBatch(ctx context.Context, key string, items []Item) ([]Result, error)
	RotateKey(ctx context.Context, key string) (KeyInfo, error)
	KeyInfo(ctx context.Context, key string) (KeyInfo, error)
	// SetMinDecryptionVersion stops older versions from decrypting, for good: they are deleted
	// (OpenBao: trimmed), so that no later configuration brings them back.
	SetMinDecryptionVersion(ctx context.Context, key string, version int) (KeyInfo, error)
}

// ParseVersion reads the key version of a ciphertext "<prefix>:v<N>:<base64>" and returns it with
// the prefix and the base64 body. It does not check the body.
func ParseVersion(ciphertext string) (prefix string, version int, body string, err error) {
	prefix, rest, ok := strings.Cut(ciphertext, ":")
	if !ok || prefix == "" {
		return "", 0, "", fmt.Errorf("%w: no prefix", ErrInvalidCiphertext)
	}
	v, body, ok := strings.Cut(rest, ":")
	if !ok || len(v) < 2 || v[0] != 'v' {
		return "", 0, "", fmt.Errorf("%w: version number could not be decoded", ErrInvalidCiphertext)
	}
	n, err := strconv.Atoi(v[1:])
	if err != nil || n < 1 || strconv.Itoa(n) != v[1:] {
		return "", 0, "", fmt.Errorf("%w: version number could not be decoded", ErrInvalidCiphertext)
	}
	return prefix, n, body, nil
}

// Capabilities are what a canary proved this process may do with a key.
type Capabilities struct {
	Encrypt, Decrypt bool
}

func (c Capabilities) String() string {
	switch {
	case c.Encrypt && c.Decrypt:
		return "encrypt, decrypt"
	case c.Encrypt:
		return "encrypt only"
	case c.Decrypt:
		return "decrypt only"
	}
	return "none"
}

// Canary proves at start-up, before any data is written, that key exists and works for what this
// process's policy lets it do: it encrypts a random value under a throwaway context and decrypts it.
// A process whose policy allows only encryption (the API) stops after the encrypt; one that may
// only decrypt (a worker) decrypts a forged ciphertext, which must fail authentication rather than
// permission. A wrong address, key, mount or policy is an error; so is a policy that allows neither.
func Canary(ctx context.Context, c Cipher, key string) (Capabilities, error) {
	var caps Capabilities
	probe := make([]byte, 16)
	if _, err := rand.Read(probe); err != nil {
		return caps, err
	}
	kctx := []byte("canary:" + uuid.NewString())
	want := string(probe)
	ct, err := c.Encrypt(ctx, key, probe, kctx)
	switch {
	case err == nil:
		caps.Encrypt = true
	case errors.Is(err, ErrPermissionDenied):
		return canaryDecryptOnly(ctx, c, key, kctx)
	default:
		return caps, fmt.Errorf("%s canary: encrypt with %s: %w", c.Name(), key, err)
	}
	got, err := c.Decrypt(ctx, key, ct, kctx)
	switch {
	case errors.Is(err, ErrPermissionDenied):
		return caps, nil
	case err != nil:
		return caps, fmt.Errorf("%s canary: decrypt with %s: %w", c.Name(), key, err)
	case string(got) != want:
		return caps, errors.New(c.Name() + " canary: the decrypted value differs from the encrypted one")
	}
	caps.Decrypt = true
	return caps, nil
}

// canaryDecryptOnly decrypts a well-formed ciphertext that no key made. Only Transit policies deny
// encryption, so the forgery carries Transit's prefix.
func canaryDecryptOnly(ctx context.Context, c Cipher, key string, kctx []byte) (Capabilities, error) {
	forged := make([]byte, 48)
	if _, err := rand.Read(forged); err != nil {
		return Capabilities{}, err
	}
	_, err := c.Decrypt(ctx, key, "vault:v1:"+base64.StdEncoding.EncodeToString(forged), kctx)
	switch {
	case errors.Is(err, ErrDecrypt), errors.Is(err, ErrInvalidCiphertext):
		return Capabilities{Decrypt: true}, nil
	case errors.Is(err, ErrPermissionDenied):
		return Capabilities{}, fmt.Errorf("%s canary: the policy allows neither encrypt nor decrypt with %s: %w", c.Name(), key, err)
	case err != nil:
		return Capabilities{}, fmt.Errorf("%s canary: decrypt with %s: %w", c.Name(), key, err)
	}
	return Capabilities{}, errors.New(c.Name() + " canary: a forged ciphertext decrypted")
}
