// Package crypto is how Mosaic encrypts: one Cipher interface over named, versioned keys (encrypt,
// decrypt, rewrap, their batch forms, key rotation and key info), with two implementations —
// OpenBao Transit (crypto/transit) for production and a local AES-256-GCM keyring (crypto/keyring)
// for development — and the Secret type that carries a plaintext through the program without ever
// printing, logging or marshalling it.
//
// Keys are named by purpose (KeyCredentials, KeyAccountTokens, KeyLLMConfig, KeyFederation) and
// derived per context: a credential's ciphertext is bound to "<workspace id>:<credential id>", so
// the same ciphertext copied to another row or another workspace does not decrypt.
package crypto
