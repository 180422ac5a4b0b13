package crypto

import "errors"

var (
	// ErrKeyNotFound: no key of that name.
	ErrKeyNotFound = errors.New("encryption key not found")
	// ErrDecrypt: the ciphertext does not open with this key and context (wrong context, wrong
	// key, tampered ciphertext).
	ErrDecrypt = errors.New("cannot decrypt: message authentication failed")
	// ErrInvalidCiphertext: not a ciphertext of this cipher (prefix, version, encoding, length).
	ErrInvalidCiphertext = errors.New("invalid ciphertext")
	// ErrVersionDisallowed: the ciphertext's key version is below the key's minimum decryption
	// version (rotated away).
	ErrVersionDisallowed = errors.New("ciphertext version is disallowed by policy (too old)")
	// ErrMissingContext: a derived key needs a context.
	ErrMissingContext = errors.New("missing context for key derivation")
	// ErrPermissionDenied: the cipher refused the caller (token, policy).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: the cipher could not be reached or failed (network, 5xx, sealed); retrying
	// may help.
	ErrUnavailable = errors.New("cipher unavailable")
	// ErrProductionRefused: the local keyring was asked to run in production.
	ErrProductionRefused = errors.New("the local keyring is not for production")
)

// IsRetryable reports whether err is worth retrying later (the cipher was unavailable).
func IsRetryable(err error) bool { return errors.Is(err, ErrUnavailable) }
