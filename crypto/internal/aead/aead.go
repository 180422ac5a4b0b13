// Package aead seals and opens with AES-256-GCM under a key derived per context (HKDF-SHA256), as
// the local keyring and the Transit test server both do.
package aead

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// NonceSize is the GCM nonce length that leads every sealed value.
const NonceSize = 12

// ErrOpen: the value does not open (wrong key or context, or tampered).
var ErrOpen = errors.New("cipher: message authentication failed")

// ErrShort: the value is shorter than a nonce.
var ErrShort = errors.New("invalid ciphertext length")

func gcm(key, kctx []byte) (cipher.AEAD, error) {
	k := key
	if kctx != nil {
		var err error
		if k, err = hkdf.Key(sha256.New, key, nil, string(kctx), 32); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext with key, derived for kctx when kctx is not nil: nonce || ciphertext.
func Seal(key, kctx, plaintext []byte) ([]byte, error) {
	g, err := gcm(key, kctx)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, plaintext, nil), nil
}

// Open decrypts what Seal made.
func Open(key, kctx, sealed []byte) ([]byte, error) {
	if len(sealed) < NonceSize {
		return nil, ErrShort
	}
	g, err := gcm(key, kctx)
	if err != nil {
		return nil, err
	}
	out, err := g.Open(nil, sealed[:NonceSize], sealed[NonceSize:], nil)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// NewKey returns 32 random bytes.
func NewKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}
