package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/store"
)

var (
	// ErrCredentialNotDeclared: the task did not list this credential when it was published.
	ErrCredentialNotDeclared = errors.New("credential not declared by the task")
	// ErrNoCredentials: this process has no cipher to open credentials with.
	ErrNoCredentials = errors.New("no credential store configured")
	// ErrInvalidCredential: a credential's fields break a rule.
	ErrInvalidCredential = errors.New("invalid credential")
)

// Credentials stores and opens credentials: values are encrypted (Transit or the keyring) with the
// credentials key, bound to "<workspace>:<credential id>", before they reach PostgreSQL, and only
// a masked form is ever shown.
type Credentials struct {
	DB     *store.DB
	Cipher crypto.Cipher
	// Key is the Transit key. Default crypto.KeyCredentials.
	Key string
}

func (c *Credentials) key() string {
	if c.Key == "" {
		return crypto.KeyCredentials
	}
	return c.Key
}

// MaxCredentialValue bounds a credential's value: 64 KiB.
const MaxCredentialValue = 64 << 10

// PutCredential is a credential to store.
type PutCredential struct {
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
func (p *PutCredential) Validate() error {
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
		return fmt.Errorf("%w: %w", ErrInvalidCredential, err)
	}
	return nil
}

// ValidateDetails checks a provider and metadata given to an update, as Validate does a new
// credential's (ErrInvalidCredential).
func ValidateDetails(provider string, metadata map[string]string) error {
	if err := errors.Join(detailErrors(provider, metadata)...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCredential, err)
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

func (c *Credentials) seal(ctx context.Context, ws, id uuid.UUID, value crypto.Secret) (ciphertext, masked string, err error) {
	err = value.Use(func(b []byte) error {
		if len(b) == 0 || len(b) > MaxCredentialValue {
			return fmt.Errorf("%w: the value must be 1 byte to %d KiB", ErrInvalidCredential, MaxCredentialValue>>10)
		}
		var err error
		ciphertext, err = c.Cipher.Encrypt(ctx, c.key(), b, crypto.CredentialContext(ws, id))
		masked = Mask(b)
		return err
	})
	return ciphertext, masked, err
}

// Put encrypts and stores a credential for user (USER scope: owned by user). The value is wiped.
func (c *Credentials) Put(ctx context.Context, ws, user uuid.UUID, p PutCredential) (store.Credential, error) {
	defer p.Value.Wipe()
	if err := p.Validate(); err != nil {
		return store.Credential{}, err
	}
	if p.Scope == store.ScopeUser && user == uuid.Nil {
		return store.Credential{}, fmt.Errorf("%w: a USER credential needs a user (use an API key, not the admin token)", ErrInvalidCredential)
	}
	id := store.NewID()
	ct, masked, err := c.seal(ctx, ws, id, p.Value)
	if err != nil {
		return store.Credential{}, err
	}
	return c.DB.CreateCredential(ctx, ws, user, store.NewCredential{ID: id, Name: p.Name, Provider: p.Provider, Type: p.Type,
		Scope: p.Scope, OwnerID: user, Ciphertext: ct, MaskedValue: masked, ExpiresAt: p.ExpiresAt,
		RotationPolicy: p.RotationPolicy, Metadata: p.Metadata, CreatedBy: user})
}

// Rotate sets a new value at once (the old one stays as previous). The value is wiped.
func (c *Credentials) Rotate(ctx context.Context, ws, user, id uuid.UUID, value crypto.Secret, expiresAt *time.Time, by store.Access) (store.Credential, error) {
	defer value.Wipe()
	if _, err := c.DB.GetCredential(ctx, ws, user, id); err != nil {
		return store.Credential{}, err
	}
	ct, masked, err := c.seal(ctx, ws, id, value)
	if err != nil {
		return store.Credential{}, err
	}
	return c.DB.RotateCredential(ctx, ws, user, id, ct, masked, expiresAt, by)
}

// Update changes a credential's description (store.CredentialUpdate: nil fields stay). Its
// provider and metadata say where a rotation sends the value, so they change only with a new
// value (store.ErrValueBound otherwise): whoever redirects a credential must know it. value (the
// zero Secret: none) replaces the value, the old one becoming previous; it is wiped.
func (c *Credentials) Update(ctx context.Context, ws, user, id uuid.UUID, u store.CredentialUpdate, value crypto.Secret) (store.Credential, error) {
	defer value.Wipe()
	var provider string
	if u.Provider != nil {
		provider = *u.Provider
	}
	if err := ValidateDetails(provider, u.Metadata); err != nil {
		return store.Credential{}, err
	}
	if !value.Wiped() {
		ct, masked, err := c.seal(ctx, ws, id, value)
		if err != nil {
			return store.Credential{}, err
		}
		u.Ciphertext, u.MaskedValue = &ct, &masked
	}
	return c.DB.UpdateCredential(ctx, ws, user, id, u)
}

// Open decrypts a ciphertext of credential id in workspace ws.
func (c *Credentials) Open(ctx context.Context, ws, id uuid.UUID, ciphertext string) (crypto.Secret, error) {
	pt, err := c.Cipher.Decrypt(ctx, c.key(), ciphertext, crypto.CredentialContext(ws, id))
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("open credential %s: %w", id, err)
	}
	return crypto.NewSecret(pt), nil
}

// Seal encrypts a value for credential id of workspace ws, and masks it.
func (c *Credentials) Seal(ctx context.Context, ws, id uuid.UUID, value crypto.Secret) (ciphertext, masked string, err error) {
	return c.seal(ctx, ws, id, value)
}

// declared is ErrCredentialNotDeclared, naming the declared ones, unless name is among them.
func declared(names []string, name string) error {
	if slices.Contains(names, name) {
		return nil
	}
	return fmt.Errorf("%w: %q (declared: %v)", ErrCredentialNotDeclared, name, names)
}

// credential opens a credential for the running delivery: declared by the task, while the
// delivery holds the task, audited; the plaintext is wiped when the delivery ends.
func (d *delivery) credential(ctx context.Context, name string) (crypto.Secret, error) {
	d.mu.Lock()
	ended := d.ended
	d.mu.Unlock()
	if ended {
		return crypto.Secret{}, ErrNotRunning
	}
	if err := declared(d.credentials, name); err != nil {
		return crypto.Secret{}, err
	}
	creds := d.pool.cfg.Credentials
	if creds == nil {
		return crypto.Secret{}, ErrNoCredentials
	}
	res, _, err := d.ensureClaimed(nil, 0, "")
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("credential %q: %w", name, err)
	}
	if res.Outcome != store.Claimed {
		return crypto.Secret{}, ErrFenced
	}
	c, err := creds.DB.OpenForTask(ctx, store.TaskAccess{WorkspaceID: d.ws, TaskID: d.id, Fence: d.fence, Attempt: d.attempt,
		Agent: d.pool.cfg.WorkerName, Purpose: "task " + d.kind}, name)
	if errors.Is(err, store.ErrFenced) {
		d.fence0()
		return crypto.Secret{}, ErrFenced
	}
	if err != nil {
		return crypto.Secret{}, fmt.Errorf("credential %q: %w", name, err)
	}
	s, err := creds.Open(ctx, d.ws, c.ID, c.EncryptedValue)
	if err != nil {
		return crypto.Secret{}, err
	}
	d.mu.Lock()
	d.secrets = append(d.secrets, s)
	d.mu.Unlock()
	d.touch()
	return s, nil
}
