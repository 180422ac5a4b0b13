package store

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// ScramVerifier turns a password into the SCRAM-SHA-256 verifier PostgreSQL
// stores (RFC 5802 / RFC 7677, the layout of pg_authid.rolpassword), so that
// `ALTER ROLE … PASSWORD '<verifier>'` sets the password without the plaintext
// ever reaching the server, where statement logs and pg_stat_activity would
// show it. The password is used as given (no SASLprep): the callers pass
// printable ASCII, which SASLprep leaves unchanged.
func ScramVerifier(password []byte) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, string(password), salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("store: scram: %w", err)
	}
	defer clear(salted)
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	defer clear(clientKey)
	stored := sha256.Sum256(clientKey)
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(server)), nil
}

// QuoteLiteral quotes s as an SQL string literal, for the statements that take
// no parameters (ALTER ROLE … PASSWORD).
func QuoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
