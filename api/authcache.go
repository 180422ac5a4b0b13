package api

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/store"
)

// DefaultAuthCacheTTL is how long an API key this server has checked is taken as valid without
// asking PostgreSQL again (Config.AuthCacheTTL).
const DefaultAuthCacheTTL = 2 * time.Second

// maxAuthCache bounds the keys remembered; past it the cache starts again empty.
const maxAuthCache = 10_000

// authCache remembers API keys PostgreSQL accepted, by the SHA-256 of the key (the only form in
// which the server holds one), for a short time: every request of a busy client paid a
// transaction to check its key — under load, a fifth of the server's CPU and a round trip of
// latency. A key revoked through this server is forgotten at once; one revoked elsewhere (another
// API server, or SQL) is refused here within the TTL. Refusals are not remembered.
type authCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[32]byte]authEntry
	// forgets counts revokes: a check that began before one does not remember its answer, which
	// PostgreSQL may have given before the revoke committed.
	forgets uint64
}

type authEntry struct {
	p     store.Principal
	until time.Time
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl <= 0 {
		return nil
	}
	return &authCache{ttl: ttl, m: map[[32]byte]authEntry{}}
}

// get returns the principal of a key checked less than the TTL ago, and the mark a put of a
// fresh check must give back.
func (c *authCache) get(sum [32]byte, now time.Time) (p store.Principal, ok bool, mark uint64) {
	if c == nil {
		return store.Principal{}, false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sum]
	if !ok || now.After(e.until) {
		return store.Principal{}, false, c.forgets
	}
	return e.p, true, c.forgets
}

// put remembers a check that began at mark (get's), unless a key was revoked since.
func (c *authCache) put(sum [32]byte, p store.Principal, now time.Time, mark uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != mark {
		return
	}
	if len(c.m) >= maxAuthCache {
		clear(c.m)
	}
	c.m[sum] = authEntry{p: p, until: now.Add(c.ttl)}
}

// forget drops a key by its id (a revoke through this server).
func (c *authCache) forget(keyID uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets++
	for sum, e := range c.m {
		if e.p.KeyID == keyID {
			delete(c.m, sum)
		}
	}
}
