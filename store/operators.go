package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// OperatorKey (mosaictype.OperatorKey) is a named key that acts as the operator's admin token, so
// that what an operator does is recorded under a name ("operator:<name>"), and one person's access
// is revoked alone. It is created and revoked with the admin token; only the SHA-256 of the key is
// stored.
type OperatorKey = mosaictype.OperatorKey

// Operator keys read "moso_<key id, 32 hex>_<secret, 43 base64url>".
const operatorKeyPrefix = "moso_"

// IsOperatorKey reports whether token has the form of an operator key (it is not checked).
func IsOperatorKey(token string) bool { return strings.HasPrefix(token, operatorKeyPrefix) }

var operatorName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateOperatorName checks an operator key's name: 1–64 of a-z, 0-9, '.', '_', '-', starting
// with a letter or digit (it appears in audit records as operator:<name>).
func ValidateOperatorName(name string) error {
	if !operatorName.MatchString(name) {
		return fmt.Errorf("operator name %q must be 1–64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// CreateOperatorKey issues a key named name (unique among keys not revoked); by is who asked.
// The key is returned this once.
func (db *DB) CreateOperatorKey(ctx context.Context, name, by string) (OperatorKey, string, error) {
	if err := ValidateOperatorName(name); err != nil {
		return OperatorKey{}, "", err
	}
	id := newID()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return OperatorKey{}, "", err
	}
	key := operatorKeyPrefix + hex.EncodeToString(id[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(key))
	k := OperatorKey{ID: id, Name: name, CreatedBy: by}
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, insertOperatorKeySQL, id, name, sum[:], by).Scan(&k.CreatedAt)
	})
	if IsUniqueViolation(err) {
		return OperatorKey{}, "", fmt.Errorf("operator %q has a key already (revoke it first): %w", name, ErrConflict)
	}
	if err != nil {
		return OperatorKey{}, "", fmt.Errorf("create operator key: %w", err)
	}
	return k, key, nil
}

// ListOperatorKeys lists every operator key, revoked ones included, oldest first.
func (db *DB) ListOperatorKeys(ctx context.Context) ([]OperatorKey, error) {
	var out []OperatorKey
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, listOperatorKeysSQL)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanOperatorKey)
		return err
	})
	return out, err
}

func scanOperatorKey(r pgx.CollectableRow) (OperatorKey, error) {
	var k OperatorKey
	err := r.Scan(&k.ID, &k.Name, &k.CreatedAt, &k.CreatedBy, &k.RevokedAt, &k.RevokedBy)
	return k, err
}

// RevokeOperatorKey revokes the key named, or of the id, ref (not revoked yet) at once.
func (db *DB) RevokeOperatorKey(ctx context.Context, ref, by string) (OperatorKey, error) {
	id, _ := uuid.Parse(ref)
	var k OperatorKey
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, revokeOperatorKeySQL, id, ref, by)
		if err != nil {
			return err
		}
		k, err = pgx.CollectExactlyOneRow(rows, scanOperatorKey)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return OperatorKey{}, fmt.Errorf("operator key %q (not revoked): %w", ref, ErrNotFound)
	}
	return k, err
}

// AuthenticateOperator resolves an operator key to its key record; ErrUnauthenticated when it is
// malformed, unknown or revoked.
func (db *DB) AuthenticateOperator(ctx context.Context, token string) (OperatorKey, error) {
	rest, ok := strings.CutPrefix(token, operatorKeyPrefix)
	if !ok || len(rest) != 32+1+43 || rest[32] != '_' {
		return OperatorKey{}, ErrUnauthenticated
	}
	raw, err := hex.DecodeString(rest[:32])
	if err != nil {
		return OperatorKey{}, ErrUnauthenticated
	}
	id, _ := uuid.FromBytes(raw)
	sum := sha256.Sum256([]byte(token))
	var k OperatorKey
	var hash []byte
	err = db.AsSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, authenticateOperatorSQL, id).Scan(&k.ID, &k.Name, &k.CreatedAt, &k.CreatedBy, &hash)
	})
	if errors.Is(err, pgx.ErrNoRows) || err == nil && subtle.ConstantTimeCompare(hash, sum[:]) != 1 {
		return OperatorKey{}, ErrUnauthenticated
	}
	if err != nil {
		return OperatorKey{}, fmt.Errorf("authenticate operator: %w", err)
	}
	return k, nil
}

const (
	insertOperatorKeySQL = `INSERT INTO operator_keys (id, name, key_hash, created_by) VALUES ($1, $2, $3, $4) RETURNING created_at`

	listOperatorKeysSQL = `SELECT id, name, created_at, created_by, revoked_at, COALESCE(revoked_by, '') FROM operator_keys ORDER BY created_at, id`

	revokeOperatorKeySQL = `
		UPDATE operator_keys SET revoked_at = now(), revoked_by = $3
		WHERE revoked_at IS NULL AND (id = $1 OR name = $2)
		RETURNING id, name, created_at, created_by, revoked_at, COALESCE(revoked_by, '')`

	authenticateOperatorSQL = `SELECT id, name, created_at, created_by, key_hash FROM operator_keys WHERE id = $1 AND revoked_at IS NULL`
)
