// Package keyring is a local AES-256-GCM keyring for development: versioned keys in a file of the
// data directory, per-context derived keys (HKDF-SHA256), ciphertexts "mosaic-keyring:v<N>:<base64>".
//
// It is not for production: the keys sit on the same disk as the data they protect. Open logs an
// ERROR saying so, and refuses to open at all when MOSAIC_ENV=production unless
// Options.AllowInProduction is set. Production uses OpenBao Transit (crypto/transit).
package keyring

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/internal/aead"
)

// Prefix starts every keyring ciphertext.
const Prefix = "mosaic-keyring"

// Options configure Open.
type Options struct {
	// Env is the deployment environment (MOSAIC_ENV); "production" refuses the keyring.
	Env string
	// AllowInProduction overrides that refusal (--allow-local-keyring).
	AllowInProduction bool
	Logger            *zerolog.Logger
}

// Keyring implements crypto.Cipher with keys in a local file.
type Keyring struct {
	path string
	mu   sync.Mutex
	file keyFile
}

type keyFile struct {
	Version int                 `json:"version"`
	Keys    map[string]*keyData `json:"keys"`
}

type keyData struct {
	Derived       bool              `json:"derived"`
	Latest        int               `json:"latest"`
	MinDecryption int               `json:"min_decryption"`
	Versions      map[string][]byte `json:"versions"`
}

// Open opens (or creates, mode 0600) the keyring at path.
func Open(path string, opts Options) (*Keyring, error) {
	if opts.Env == "production" && !opts.AllowInProduction {
		return nil, fmt.Errorf("%w: configure OpenBao Transit (MOSAIC_OPENBAO_ADDR), or pass --allow-local-keyring to accept the risk", crypto.ErrProductionRefused)
	}
	if opts.Logger != nil {
		opts.Logger.Error().Str("keyring", path).
			Msg("credentials are encrypted with the LOCAL KEYRING: keys on the same disk as the data. Not for production: configure OpenBao Transit")
	}
	k := &Keyring{path: path, file: keyFile{Version: 1, Keys: map[string]*keyData{}}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := k.save(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("keyring: %w", err)
	default:
		if err := json.Unmarshal(b, &k.file); err != nil {
			return nil, fmt.Errorf("keyring %s: %w", path, err)
		}
		if k.file.Keys == nil {
			k.file.Keys = map[string]*keyData{}
		}
	}
	return k, nil
}

func (k *Keyring) save() error {
	b, err := json.MarshalIndent(k.file, "", "  ")
	if err != nil {
		return err
	}
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return os.Rename(tmp, k.path)
}

// Name implements crypto.Cipher.
func (k *Keyring) Name() string { return "keyring" }

// CreateKey implements crypto.Cipher: a derived key, version 1, if missing.
func (k *Keyring) CreateKey(_ context.Context, key string) (crypto.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.file.Keys[key]; !ok {
		raw, err := aead.NewKey()
		if err != nil {
			return crypto.KeyInfo{}, err
		}
		k.file.Keys[key] = &keyData{Derived: true, Latest: 1, MinDecryption: 1, Versions: map[string][]byte{"1": raw}}
		if err := k.save(); err != nil {
			delete(k.file.Keys, key)
			return crypto.KeyInfo{}, err
		}
	}
	return k.info(key)
}

func (k *Keyring) info(key string) (crypto.KeyInfo, error) {
	d, ok := k.file.Keys[key]
	if !ok {
		return crypto.KeyInfo{}, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	info := crypto.KeyInfo{Name: key, Derived: d.Derived, LatestVersion: d.Latest, MinDecryptionVersion: d.MinDecryption}
	for v := range d.Versions {
		n, _ := strconv.Atoi(v)
		info.Versions = append(info.Versions, n)
	}
	slices.Sort(info.Versions)
	return info, nil
}

// KeyInfo implements crypto.Cipher.
func (k *Keyring) KeyInfo(_ context.Context, key string) (crypto.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.info(key)
}

// RotateKey implements crypto.Cipher.
func (k *Keyring) RotateKey(_ context.Context, key string) (crypto.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := k.file.Keys[key]
	if !ok {
		return crypto.KeyInfo{}, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	raw, err := aead.NewKey()
	if err != nil {
		return crypto.KeyInfo{}, err
	}
	d.Latest++
	d.Versions[strconv.Itoa(d.Latest)] = raw
	if err := k.save(); err != nil {
		delete(d.Versions, strconv.Itoa(d.Latest))
		d.Latest--
		return crypto.KeyInfo{}, err
	}
	return k.info(key)
}

// SetMinDecryptionVersion implements crypto.Cipher: versions below it are dropped.
func (k *Keyring) SetMinDecryptionVersion(_ context.Context, key string, version int) (crypto.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := k.file.Keys[key]
	if !ok {
		return crypto.KeyInfo{}, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	if version < 1 || version > d.Latest {
		return crypto.KeyInfo{}, fmt.Errorf("keyring: minimum decryption version %d is outside 1…%d", version, d.Latest)
	}
	d.MinDecryption = version
	for v := range d.Versions {
		if n, _ := strconv.Atoi(v); n < version {
			delete(d.Versions, v)
		}
	}
	if err := k.save(); err != nil {
		return crypto.KeyInfo{}, err
	}
	return k.info(key)
}

func (k *Keyring) key(key string, kctx []byte) (*keyData, error) {
	d, ok := k.file.Keys[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	if d.Derived && len(kctx) == 0 {
		return nil, crypto.ErrMissingContext
	}
	return d, nil
}

func (k *Keyring) encrypt(key string, plaintext, kctx []byte) (string, int, error) {
	d, err := k.key(key, kctx)
	if err != nil {
		return "", 0, err
	}
	if !d.Derived {
		kctx = nil
	}
	sealed, err := aead.Seal(d.Versions[strconv.Itoa(d.Latest)], kctx, plaintext)
	if err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("%s:v%d:%s", Prefix, d.Latest, base64.StdEncoding.EncodeToString(sealed)), d.Latest, nil
}

func (k *Keyring) decrypt(key, ciphertext string, kctx []byte) ([]byte, int, error) {
	d, err := k.key(key, kctx)
	if err != nil {
		return nil, 0, err
	}
	if ciphertext == "" {
		return nil, 0, fmt.Errorf("%w: missing ciphertext", crypto.ErrInvalidCiphertext)
	}
	prefix, v, body, err := crypto.ParseVersion(ciphertext)
	if err != nil {
		return nil, 0, err
	}
	if prefix != Prefix {
		return nil, 0, fmt.Errorf("%w: not a keyring ciphertext (prefix %q)", crypto.ErrInvalidCiphertext, prefix)
	}
	// Only the encoding Encrypt writes: the decoder alone would also take line breaks and
	// non-zero padding bits, opening strings the keyring never made.
	sealed, err := base64.StdEncoding.DecodeString(body)
	if err != nil || base64.StdEncoding.EncodeToString(sealed) != body {
		return nil, 0, fmt.Errorf("%w: could not decode base64", crypto.ErrInvalidCiphertext)
	}
	if v > d.Latest {
		return nil, 0, fmt.Errorf("%w: version is too new", crypto.ErrInvalidCiphertext)
	}
	if v < d.MinDecryption {
		return nil, 0, crypto.ErrVersionDisallowed
	}
	if !d.Derived {
		kctx = nil
	}
	out, err := aead.Open(d.Versions[strconv.Itoa(v)], kctx, sealed)
	switch {
	case errors.Is(err, aead.ErrShort):
		return nil, 0, fmt.Errorf("%w: length", crypto.ErrInvalidCiphertext)
	case err != nil:
		return nil, 0, crypto.ErrDecrypt
	}
	return out, v, nil
}

// Encrypt implements crypto.Cipher.
func (k *Keyring) Encrypt(_ context.Context, key string, plaintext, kctx []byte) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ct, _, err := k.encrypt(key, plaintext, kctx)
	return ct, err
}

// Decrypt implements crypto.Cipher.
func (k *Keyring) Decrypt(_ context.Context, key, ciphertext string, kctx []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out, _, err := k.decrypt(key, ciphertext, kctx)
	return out, err
}

// Rewrap implements crypto.Cipher.
func (k *Keyring) Rewrap(_ context.Context, key, ciphertext string, kctx []byte) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pt, _, err := k.decrypt(key, ciphertext, kctx)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	ct, _, err := k.encrypt(key, pt, kctx)
	return ct, err
}

// EncryptBatch implements crypto.Cipher.
func (k *Keyring) EncryptBatch(_ context.Context, key string, items []crypto.Item) ([]crypto.Result, error) {
	return k.batch(key, items, func(it crypto.Item) (r crypto.Result) {
		r.Ciphertext, r.KeyVersion, r.Err = k.encrypt(key, it.Plaintext, it.Context)
		return r
	})
}

// DecryptBatch implements crypto.Cipher.
func (k *Keyring) DecryptBatch(_ context.Context, key string, items []crypto.Item) ([]crypto.Result, error) {
	return k.batch(key, items, func(it crypto.Item) (r crypto.Result) {
		r.Plaintext, r.KeyVersion, r.Err = k.decrypt(key, it.Ciphertext, it.Context)
		return r
	})
}

// RewrapBatch implements crypto.Cipher.
func (k *Keyring) RewrapBatch(_ context.Context, key string, items []crypto.Item) ([]crypto.Result, error) {
	return k.batch(key, items, func(it crypto.Item) (r crypto.Result) {
		pt, _, err := k.decrypt(key, it.Ciphertext, it.Context)
		if err != nil {
			r.Err = err
			return r
		}
		defer clear(pt)
		r.Ciphertext, r.KeyVersion, r.Err = k.encrypt(key, pt, it.Context)
		return r
	})
}

// batch answers item by item under the lock, once the key is known to exist (the error of the
// call as a whole).
func (k *Keyring) batch(key string, items []crypto.Item, one func(crypto.Item) crypto.Result) ([]crypto.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.file.Keys[key]; !ok {
		return nil, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	out := make([]crypto.Result, len(items))
	for i, it := range items {
		out[i] = one(it)
	}
	return out, nil
}
