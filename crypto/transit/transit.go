// Package transit is the crypto.Cipher of OpenBao's Transit secrets engine, through
// github.com/openbao/openbao/api/v2: token or AppRole authentication, token renewal at half its
// TTL, a timeout per call (5 s), retries with backoff on 5xx and connection errors and never on
// 4xx, batches that keep per-item results (partial_failure_response_code 200), and OpenBao's
// error texts mapped to crypto's errors. Keys are never created at run time: CreateKey is for
// bootstrap, and runtime policies should not allow it (encrypting to a missing key would create
// it otherwise).
package transit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/openbao/openbao/api/v2"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/crypto"
)

// Config says how to reach Transit.
type Config struct {
	// Addr of OpenBao, e.g. https://bao.internal:8200. Required.
	Addr string
	// Token authenticates directly; else RoleID and SecretID log in through AppRole.
	Token            string
	RoleID, SecretID string
	// AppRoleMount is the AppRole auth mount. Default "approle".
	AppRoleMount string
	// Mount is the Transit mount. Default "transit".
	Mount string
	// Timeout bounds one call, retries included. Default 5s.
	Timeout time.Duration
	// MaxRetries on 5xx and connection errors. Default 3.
	MaxRetries int
	// CACert verifies OpenBao's TLS certificate.
	CACert string
	Logger *zerolog.Logger
	// Observe, when set, is called once per call of the Client's crypto.Cipher methods, after
	// its retries, with the operation (create_key, encrypt, decrypt, rewrap, encrypt_batch,
	// decrypt_batch, rewrap_batch, rotate, set_min_decryption_version, key_info), how long the
	// call took and its error (nil on success; ErrorKind classifies it). A batch's per-item
	// errors are the batch's results, not its error. It must be safe for concurrent use.
	Observe func(op string, d time.Duration, err error)
}

// Client implements crypto.Cipher with Transit.
type Client struct {
	cfg  Config
	api  *api.Client
	log  zerolog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New connects and authenticates, and starts renewing the token at half its TTL.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("transit: OpenBao address is empty")
	}
	if cfg.Token == "" && (cfg.RoleID == "" || cfg.SecretID == "") {
		return nil, errors.New("transit: give a token, or an AppRole role ID and secret ID")
	}
	if cfg.AppRoleMount == "" {
		cfg.AppRoleMount = "approle"
	}
	if cfg.Mount == "" {
		cfg.Mount = "transit"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	conf := api.DefaultConfig()
	conf.Address = cfg.Addr
	conf.Timeout = cfg.Timeout
	conf.MaxRetries = cfg.MaxRetries
	conf.MinRetryWait = 100 * time.Millisecond
	conf.MaxRetryWait = time.Second
	conf.Backoff = retryablehttp.DefaultBackoff
	conf.CheckRetry = retryPolicy
	if cfg.CACert != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("transit: TLS: %w", err)
		}
	}
	if conf.Error != nil {
		return nil, fmt.Errorf("transit: %w", conf.Error)
	}
	c := &Client{cfg: cfg, log: zerolog.Nop(), stop: make(chan struct{})}
	if cfg.Logger != nil {
		c.log = cfg.Logger.With().Str("component", "transit").Logger()
	}
	var err error
	if c.api, err = api.NewClient(conf); err != nil {
		return nil, fmt.Errorf("transit: %w", err)
	}
	ttl, err := c.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.renew(ttl)
	return c, nil
}

// retryPolicy retries on connection errors and 5xx (but 501), never on 4xx.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return true, nil
	}
	return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented, nil
}

// authenticate logs in (AppRole) or takes the token, and returns the token's TTL (0: none).
func (c *Client) authenticate(ctx context.Context) (time.Duration, error) {
	if c.cfg.Token == "" {
		s, err := c.api.Logical().WriteWithContext(ctx, "auth/"+c.cfg.AppRoleMount+"/login",
			map[string]any{"role_id": c.cfg.RoleID, "secret_id": c.cfg.SecretID})
		if err != nil {
			return 0, fmt.Errorf("transit: AppRole login: %w", mapErr(err))
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return 0, errors.New("transit: AppRole login returned no token")
		}
		c.api.SetToken(s.Auth.ClientToken)
		return time.Duration(s.Auth.LeaseDuration) * time.Second, nil
	}
	c.api.SetToken(c.cfg.Token)
	s, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, crypto.ErrPermissionDenied) {
			return 0, fmt.Errorf("transit: token: it may not look itself up (auth/token/lookup-self): give it OpenBao's default policy, or use AppRole: %w", err)
		}
		return 0, fmt.Errorf("transit: token: %w", err)
	}
	renewable, _ := s.TokenIsRenewable()
	ttl, _ := s.TokenTTL()
	if !renewable {
		return 0, nil
	}
	return ttl, nil
}

// renew keeps the token alive: at half its TTL it renews it (or logs in again with AppRole).
func (c *Client) renew(ttl time.Duration) {
	defer c.wg.Done()
	for {
		if ttl <= 0 {
			<-c.stop
			return
		}
		select {
		case <-c.stop:
			return
		case <-time.After(ttl / 2):
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		s, err := c.api.Auth().Token().RenewSelfWithContext(ctx, 0)
		if err == nil && s != nil && s.Auth != nil {
			ttl = time.Duration(s.Auth.LeaseDuration) * time.Second
			cancel()
			continue
		}
		if c.cfg.Token == "" {
			ttl, err = c.authenticate(ctx)
		}
		cancel()
		if err != nil {
			c.log.Error().Err(err).Msg("cannot renew the OpenBao token; retrying")
			ttl = min(ttl, 20*time.Second)
		}
	}
}

// Close stops renewing the token.
func (c *Client) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// Name implements crypto.Cipher.
func (c *Client) Name() string { return "transit" }

func (c *Client) write(ctx context.Context, p string, data map[string]any) (map[string]any, error) {
	s, err := c.api.Logical().WriteWithContext(ctx, c.cfg.Mount+"/"+p, data)
	if err != nil {
		return nil, mapErr(err)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("transit: %s: empty answer", p)
	}
	return s.Data, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func ctxField(m map[string]any, kctx []byte) map[string]any {
	if len(kctx) > 0 {
		m["context"] = b64(kctx)
	}
	return m
}

// observe reports one call to Config.Observe.
func (c *Client) observe(op string, start time.Time, err *error) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(op, time.Since(start), *err)
	}
}

// CreateKey implements crypto.Cipher (bootstrap: aes256-gcm96, derived).
func (c *Client) CreateKey(ctx context.Context, key string) (_ crypto.KeyInfo, err error) {
	defer c.observe("create_key", time.Now(), &err)
	if _, err := c.write(ctx, "keys/"+key, map[string]any{"type": "aes256-gcm96", "derived": true}); err != nil {
		return crypto.KeyInfo{}, err
	}
	return c.readKey(ctx, key)
}

// Encrypt implements crypto.Cipher.
func (c *Client) Encrypt(ctx context.Context, key string, plaintext, kctx []byte) (_ string, err error) {
	defer c.observe("encrypt", time.Now(), &err)
	return c.encrypt(ctx, key, plaintext, kctx)
}

func (c *Client) encrypt(ctx context.Context, key string, plaintext, kctx []byte) (string, error) {
	d, err := c.write(ctx, "encrypt/"+key, ctxField(map[string]any{"plaintext": b64(plaintext)}, kctx))
	if err != nil {
		return "", err
	}
	ct, _ := d["ciphertext"].(string)
	return ct, nil
}

// Decrypt implements crypto.Cipher.
func (c *Client) Decrypt(ctx context.Context, key, ciphertext string, kctx []byte) (_ []byte, err error) {
	defer c.observe("decrypt", time.Now(), &err)
	return c.decrypt(ctx, key, ciphertext, kctx)
}

func (c *Client) decrypt(ctx context.Context, key, ciphertext string, kctx []byte) ([]byte, error) {
	if ciphertext == "" {
		return nil, fmt.Errorf("%w: missing ciphertext", crypto.ErrInvalidCiphertext)
	}
	d, err := c.write(ctx, "decrypt/"+key, ctxField(map[string]any{"ciphertext": ciphertext}, kctx))
	if err != nil {
		return nil, err
	}
	return decodePlaintext(d)
}

func decodePlaintext(d map[string]any) ([]byte, error) {
	pt, _ := d["plaintext"].(string)
	out, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, errors.New("transit: the plaintext in the answer is not base64")
	}
	return out, nil
}

// Rewrap implements crypto.Cipher.
func (c *Client) Rewrap(ctx context.Context, key, ciphertext string, kctx []byte) (_ string, err error) {
	defer c.observe("rewrap", time.Now(), &err)
	return c.rewrap(ctx, key, ciphertext, kctx)
}

func (c *Client) rewrap(ctx context.Context, key, ciphertext string, kctx []byte) (string, error) {
	if ciphertext == "" {
		return "", fmt.Errorf("%w: missing ciphertext", crypto.ErrInvalidCiphertext)
	}
	d, err := c.write(ctx, "rewrap/"+key, ctxField(map[string]any{"ciphertext": ciphertext}, kctx))
	if err != nil {
		return "", err
	}
	ct, _ := d["ciphertext"].(string)
	return ct, nil
}

func (c *Client) batch(ctx context.Context, op, key string, items []crypto.Item, field func(crypto.Item) map[string]any) ([]map[string]any, error) {
	if len(items) == 0 {
		return nil, nil
	}
	input := make([]any, len(items))
	for i, it := range items {
		m := field(it)
		m["reference"] = strconv.Itoa(i)
		input[i] = ctxField(m, it.Context)
	}
	d, err := c.write(ctx, op+"/"+key, map[string]any{"batch_input": input, "partial_failure_response_code": http.StatusOK})
	if err != nil {
		return nil, err
	}
	raw, _ := d["batch_results"].([]any)
	if len(raw) != len(items) {
		return nil, fmt.Errorf("transit: %s: %d results for %d items", op, len(raw), len(items))
	}
	out := make([]map[string]any, len(items))
	for _, r := range raw {
		m, _ := r.(map[string]any)
		i, err := strconv.Atoi(fmt.Sprint(m["reference"]))
		if err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("transit: %s: result with an unknown reference", op)
		}
		out[i] = m
	}
	return out, nil
}

var errAllFailed = errors.New("transit: every item of the batch failed (OpenBao's answer drops their errors)")

// batchOrEach runs a batch; when every item failed (OpenBao then hides the per-item errors), it
// asks item by item so that each gets its own error.
func (c *Client) batchOrEach(ctx context.Context, op, key string, items []crypto.Item, field func(crypto.Item) map[string]any,
	each func(crypto.Item) crypto.Result, fill func(map[string]any, *crypto.Result)) ([]crypto.Result, error) {
	res, err := c.batch(ctx, op, key, items, field)
	if errors.Is(err, errAllFailed) {
		out := make([]crypto.Result, len(items))
		for i, it := range items {
			out[i] = each(it)
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]crypto.Result, len(items))
	for i, m := range res {
		if msg, _ := m["error"].(string); msg != "" {
			out[i].Err = mapMessage(http.StatusBadRequest, msg)
			continue
		}
		fill(m, &out[i])
	}
	return out, nil
}

func keyVersion(m map[string]any) int {
	switch v := m["key_version"].(type) {
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case float64:
		return int(v)
	}
	return 0
}

// EncryptBatch implements crypto.Cipher.
func (c *Client) EncryptBatch(ctx context.Context, key string, items []crypto.Item) (_ []crypto.Result, err error) {
	defer c.observe("encrypt_batch", time.Now(), &err)
	return c.batchOrEach(ctx, "encrypt", key, items,
		func(it crypto.Item) map[string]any { return map[string]any{"plaintext": b64(it.Plaintext)} },
		func(it crypto.Item) crypto.Result {
			ct, err := c.encrypt(ctx, key, it.Plaintext, it.Context)
			return crypto.Result{Ciphertext: ct, Err: err}
		},
		func(m map[string]any, r *crypto.Result) {
			r.Ciphertext, _ = m["ciphertext"].(string)
			r.KeyVersion = keyVersion(m)
		})
}

// DecryptBatch implements crypto.Cipher.
func (c *Client) DecryptBatch(ctx context.Context, key string, items []crypto.Item) (_ []crypto.Result, err error) {
	defer c.observe("decrypt_batch", time.Now(), &err)
	return c.batchOrEach(ctx, "decrypt", key, items,
		func(it crypto.Item) map[string]any { return map[string]any{"ciphertext": it.Ciphertext} },
		func(it crypto.Item) crypto.Result {
			pt, err := c.decrypt(ctx, key, it.Ciphertext, it.Context)
			return crypto.Result{Plaintext: pt, Err: err}
		},
		func(m map[string]any, r *crypto.Result) { r.Plaintext, r.Err = decodePlaintext(m) })
}

// RewrapBatch implements crypto.Cipher.
func (c *Client) RewrapBatch(ctx context.Context, key string, items []crypto.Item) (_ []crypto.Result, err error) {
	defer c.observe("rewrap_batch", time.Now(), &err)
	return c.batchOrEach(ctx, "rewrap", key, items,
		func(it crypto.Item) map[string]any { return map[string]any{"ciphertext": it.Ciphertext} },
		func(it crypto.Item) crypto.Result {
			ct, err := c.rewrap(ctx, key, it.Ciphertext, it.Context)
			return crypto.Result{Ciphertext: ct, Err: err}
		},
		func(m map[string]any, r *crypto.Result) {
			r.Ciphertext, _ = m["ciphertext"].(string)
			r.KeyVersion = keyVersion(m)
		})
}

// RotateKey implements crypto.Cipher.
func (c *Client) RotateKey(ctx context.Context, key string) (_ crypto.KeyInfo, err error) {
	defer c.observe("rotate", time.Now(), &err)
	d, err := c.write(ctx, "keys/"+key+"/rotate", map[string]any{})
	if err != nil {
		return crypto.KeyInfo{}, err
	}
	return keyInfo(key, d), nil
}

// SetMinDecryptionVersion implements crypto.Cipher, for good. Raising min_decryption_version
// alone is reversible in OpenBao (lowering it again makes the older ciphertexts decrypt), so the
// key's minimum encryption version is raised with it and the versions below are then trimmed:
// deleted, after which OpenBao refuses a minimum below them, to any token.
func (c *Client) SetMinDecryptionVersion(ctx context.Context, key string, version int) (_ crypto.KeyInfo, err error) {
	defer c.observe("set_min_decryption_version", time.Now(), &err)
	if _, err := c.write(ctx, "keys/"+key+"/config", map[string]any{"min_decryption_version": version, "min_encryption_version": version}); err != nil {
		return crypto.KeyInfo{}, err
	}
	d, err := c.write(ctx, "keys/"+key+"/trim", map[string]any{"min_available_version": version})
	if err != nil {
		return crypto.KeyInfo{}, fmt.Errorf("transit: trim %s below version %d: %w", key, version, err)
	}
	return keyInfo(key, d), nil
}

// KeyInfo implements crypto.Cipher.
func (c *Client) KeyInfo(ctx context.Context, key string) (_ crypto.KeyInfo, err error) {
	defer c.observe("key_info", time.Now(), &err)
	return c.readKey(ctx, key)
}

func (c *Client) readKey(ctx context.Context, key string) (crypto.KeyInfo, error) {
	s, err := c.api.Logical().ReadWithContext(ctx, c.cfg.Mount+"/keys/"+key)
	if err != nil {
		return crypto.KeyInfo{}, mapErr(err)
	}
	if s == nil || s.Data == nil {
		return crypto.KeyInfo{}, fmt.Errorf("%w: %s", crypto.ErrKeyNotFound, key)
	}
	return keyInfo(key, s.Data), nil
}

func keyInfo(name string, d map[string]any) crypto.KeyInfo {
	num := func(k string) int {
		switch v := d[k].(type) {
		case json.Number:
			n, _ := v.Int64()
			return int(n)
		case float64:
			return int(v)
		}
		return 0
	}
	info := crypto.KeyInfo{Name: name, LatestVersion: num("latest_version"), MinDecryptionVersion: num("min_decryption_version")}
	info.Derived, _ = d["derived"].(bool)
	if keys, ok := d["keys"].(map[string]any); ok {
		for v := range keys {
			if n, err := strconv.Atoi(v); err == nil {
				info.Versions = append(info.Versions, n)
			}
		}
	}
	slices.Sort(info.Versions)
	return info
}

// mapErr turns api/v2's errors into crypto's.
func mapErr(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		if re.StatusCode == http.StatusBadRequest && len(re.Errors) == 0 {
			// Every item of a batch failed: OpenBao answers 400 with the per-item results and no
			// errors, which api/v2 drops. The caller asks item by item.
			return errAllFailed
		}
		return mapMessage(re.StatusCode, strings.Join(re.Errors, "; "))
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %v", crypto.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", crypto.ErrUnavailable, err)
}

func mapMessage(status int, msg string) error {
	switch {
	case status == http.StatusForbidden:
		return fmt.Errorf("%w (transit)", crypto.ErrPermissionDenied)
	case status >= 500:
		return fmt.Errorf("%w: %w", crypto.ErrUnavailable, &serverError{status: status, msg: msg})
	case strings.Contains(msg, "key not found"), // decrypt, rewrap, datakey: "encryption key not found"; rotate: "key not found"
		strings.Contains(msg, "no existing key named"),           // config: "no existing key named K could be found"
		strings.Contains(msg, "invalid key name"),                // trim
		strings.Contains(msg, "could not delete key; not found"): // DELETE: "error deleting policy K: could not delete key; not found"
		return crypto.ErrKeyNotFound
	case strings.Contains(msg, "message authentication failed"):
		return crypto.ErrDecrypt
	case strings.Contains(msg, "disallowed by policy"):
		return crypto.ErrVersionDisallowed
	case strings.Contains(msg, "missing 'context'"):
		return crypto.ErrMissingContext
	case strings.Contains(msg, "invalid ciphertext"), strings.Contains(msg, "missing ciphertext"):
		return fmt.Errorf("%w: %s", crypto.ErrInvalidCiphertext, msg)
	case status == http.StatusNotFound:
		return fmt.Errorf("transit: %s (is the transit engine mounted?)", msg)
	}
	return fmt.Errorf("transit: HTTP %d: %s", status, msg)
}

// EnsureMount mounts the Transit engine at the configured mount unless it is there (bootstrap:
// needs a token that may manage mounts).
func (c *Client) EnsureMount(ctx context.Context) error {
	_, err := c.api.Logical().WriteWithContext(ctx, "sys/mounts/"+c.cfg.Mount, map[string]any{"type": "transit"})
	var re *api.ResponseError
	if errors.As(err, &re) && strings.Contains(strings.Join(re.Errors, " "), "path is already in use") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("transit: mount %s: %w", c.cfg.Mount, mapErr(err))
	}
	return nil
}

// The kinds of error ErrorKind tells apart (the kind label of mosaic_transit_errors_total).
const (
	ErrorPermission  = "permission"  // OpenBao refused the token or its policy (403)
	ErrorClient      = "client"      // the request was wrong (4xx): missing key, bad ciphertext, wrong context, …
	ErrorServer      = "server"      // OpenBao answered with a 5xx, after the retries
	ErrorUnavailable = "unavailable" // no answer: connection refused, timeout, cancelled
)

// ErrorKind classifies an error of the Client's calls: ErrorPermission, ErrorServer,
// ErrorUnavailable or ErrorClient; "" for nil.
func ErrorKind(err error) string {
	var se *serverError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, crypto.ErrPermissionDenied):
		return ErrorPermission
	case errors.As(err, &se):
		return ErrorServer
	case errors.Is(err, crypto.ErrUnavailable):
		return ErrorUnavailable
	}
	return ErrorClient
}

// serverError is OpenBao's answer with a 5xx status, as against no answer at all.
type serverError struct {
	status int
	msg    string
}

func (e *serverError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.msg) }
