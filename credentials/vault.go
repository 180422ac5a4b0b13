package credentials

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/store"
)

// Vault stores and opens credentials: values are encrypted (Transit or the keyring) with the
// credentials key, bound to "<workspace>:<credential id>", before they reach PostgreSQL, and only
// a masked form is ever shown.
type Vault struct {
	DB     *store.DB
	Cipher crypto.Cipher
	// Key is the Transit key. Default crypto.KeyCredentials.
	Key string
}

func (v *Vault) key() string {
	if v.Key == "" {
		return crypto.KeyCredentials
	}
	return v.Key
}

// MaxValue bounds a credential's value: 64 KiB.
const MaxValue = 64 << 10

// Spec is a credential to store.
type Spec struct {
	Name           string
	Provider       string
	Type           string // default SECRET
	Scope          string // default USER
	Value          crypto.Secret
	ExpiresAt      *time.Time
	RotationPolicy string
	Metadata       map[string]string
}

// Validate checks the fields (not the value).
func (p *Spec) Validate() error {
	var errs []error
	if p.Type == "" {
		p.Type = store.CredentialSecret
	}
	if p.Scope == "" {
		p.Scope = store.ScopeUser
	}
	if p.Name == "" || len(p.Name) > 128 || !utf8.ValidString(p.Name) || strings.ContainsAny(p.Name, "\x00\n\r\t") {
		errs = append(errs, errors.New("name must be 1 to 128 bytes of UTF-8 without control characters"))
	}
	errs = append(errs, detailErrors(p.Provider, p.Metadata)...)
	if !store.ValidCredentialType(p.Type) {
		errs = append(errs, fmt.Errorf("type %q is not API_KEY, OAUTH_TOKEN, ACCESS_TOKEN, SECRET, PASSWORD or CUSTOM", p.Type))
	}
	if !store.ValidScope(p.Scope) {
		errs = append(errs, fmt.Errorf("scope %q is not USER, WORKSPACE or SYSTEM", p.Scope))
	}
	if p.RotationPolicy != "" {
		if _, err := ParseRotationPolicy(p.RotationPolicy); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// ValidateDetails checks a provider and metadata given to an update, as Validate does a new
// credential's (ErrInvalid).
func ValidateDetails(provider string, metadata map[string]string) error {
	if err := errors.Join(detailErrors(provider, metadata)...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func detailErrors(provider string, metadata map[string]string) []error {
	var errs []error
	if len(provider) > 64 || strings.ContainsRune(provider, 0) {
		errs = append(errs, errors.New("provider must be at most 64 bytes, without NUL"))
	}
	if len(metadata) > 32 {
		errs = append(errs, errors.New("more than 32 metadata entries"))
	}
	for k, v := range metadata {
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			errs = append(errs, fmt.Errorf("metadata %q: keys and values must not contain NUL", k))
			break
		}
	}
	return errs
}

// ParseRotationPolicy reads "every <n><unit>" (unit h, d or w; at least one hour).
func ParseRotationPolicy(s string) (time.Duration, error) {
	v, ok := strings.CutPrefix(s, "every ")
	if !ok || len(v) < 2 {
		return 0, fmt.Errorf("rotation policy %q: want \"every <n><h|d|w>\", e.g. \"every 30d\"", s)
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	unit := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
	if err != nil || n < 1 || unit == 0 || n > 10000 {
		return 0, fmt.Errorf("rotation policy %q: want \"every <n><h|d|w>\", e.g. \"every 30d\"", s)
	}
	return time.Duration(n) * unit, nil
}

// Mask shows the last four characters of a long enough value and nothing else.
func Mask(value []byte) string {
	if utf8.RuneCount(value) < 12 {
		return "••••"
	}
	r := []rune(string(value))
	return "••••" + string(r[len(r)-4:])
}

func (v *Vault) seal(ctx context.Context, ws, id uuid.UUID, value crypto.Secret) (ciphertext, masked string, err error) {
	err = value.Use(func(b []byte) error {
		if len(b) == 0 || len(b) > MaxValue {
			return fmt.Errorf("%w: the value must be 1 byte to %d KiB", ErrInvalid, MaxValue>>10)
		}
		var err error
		ciphertext, err = v.Cipher.Encrypt(ctx, v.key(), b, crypto.CredentialContext(ws, id))
		masked = Mask(b)
		return err
	})
	return ciphertext, masked, err
}

// Put encrypts and stores a credential for user (USER scope: owned by user). The value is wiped.
func (v *Vault) Put(ctx context.Context, ws, user uuid.UUID, p Spec) (store.Credential, error) {
	defer p.Value.Wipe()
	if err := p.Validate(); err != nil {
		return store.Credential{}, err
	}
	if p.Scope == store.ScopeUser && user == uuid.Nil {
		return store.Credential{}, fmt.Errorf("%w: a USER credential needs a user (use an API key, not the admin token)", ErrInvalid)
	}
	id := store.NewID()
	ct, masked, err := v.seal(ctx, ws, id, p.Value)
	if err != nil {
		return store.Credential{}, err
	}
	return v.DB.CreateCredential(ctx, ws, user, store.NewCredential{ID: id, Name: p.Name, Provider: p.Provider, Type: p.Type,
		Scope: p.Scope, OwnerID: user, Ciphertext: ct, MaskedValue: masked, ExpiresAt: p.ExpiresAt,
		RotationPolicy: p.RotationPolicy, Metadata: p.Metadata, CreatedBy: user})
}

// Rotate sets a new value at once (the old one stays as previous). The value is wiped.
func (v *Vault) Rotate(ctx context.Context, ws, user, id uuid.UUID, value crypto.Secret, expiresAt *time.Time, by store.Access) (store.Credential, error) {
	defer value.Wipe()
	if _, err := v.DB.GetCredential(ctx, ws, user, id); err != nil {
		return store.Credential{}, err
	}
	ct, masked, err := v.seal(ctx, ws, id, value)
	if err != nil {
		return store.Credential{}, err
	}
	return v.DB.RotateCredential(ctx, ws, user, id, ct, masked, expiresAt, by)
}

// Update changes a credential's description (store.CredentialUpdate: nil fields stay). Its
// provider and metadata say where a rotation sends the value, so they change only with a new
// value (store.ErrValueBound otherwise): whoever redirects a credential must know it. value (the
// zero Secret: none) replaces the value, the old one becoming previous; it is wiped.
func (v *Vault) Update(ctx context.Context, ws, user, id uuid.UUID, u store.CredentialUpdate, value crypto.Secret) (store.Credential, error) {
	defer value.Wipe()
	var provider string
	if u.Provider != nil {
		provider = *u.Provider
	}
	if err := ValidateDetails(provider, u.Metadata); err != nil {
		return store.Credential{}, err
	}
	if !value.Wiped() {
		ct, masked, err := v.seal(ctx, ws, id, value)
		if err != nil {
			return store.Credential{}, err
		}
		u.Ciphertext, u.MaskedValue = &ct, &masked
	}
	return v.DB.UpdateCredential(ctx, ws, user, id, u)
}

// Open decrypts a ciphertext of credential id in workspace ws.
func (v *Vault) Open(ctx context.Context, ws, id uuid.UUID, ciphertext string) (crypto.Secret, error) {
	pt, err := v.Cipher.Decrypt(ctx, v.key(), ciphertext, crypto.CredentialContext(ws, id))
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("open credential %s: %w", id, err)
	}
	return crypto.NewSecret(pt), nil
}

// Seal encrypts a value for credential id of workspace ws, and masks it.
func (v *Vault) Seal(ctx context.Context, ws, id uuid.UUID, value crypto.Secret) (ciphertext, masked string, err error) {
	return v.seal(ctx, ws, id, value)
}
