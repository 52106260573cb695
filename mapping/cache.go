package mapping

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/sclogon/sclogon/internal/expiring"
)

// DefaultCacheSize bounds the mappings a cache keeps when
// [Policy.CacheSize] is zero.
const DefaultCacheSize = 4096

// cache remembers successful mappings for Policy.CacheTTL, so that a user
// who logs on again within it costs the directory no search. Its key is the
// certificate, its issuer and the hint, everything a mapping reads from the
// request; failures are not cached (an account added, or a directory back
// up, counts at once). What a cached mapping does not see is a change in
// the directory within the TTL: an account disabled, expired, or its
// altSecurityIdentities removed still logs on until its entry expires.
// That is why the cache is off unless configured, and why the TTL should
// stay short (seconds to a minute: a logon storm's retries and a client's
// TGT plus its renewals, not a session).
type cache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries expiring.Map[cacheKey, Result]
}

type cacheKey struct {
	cert, issuer [sha256.Size]byte
	hint         Hint
}

func newCache(ttl time.Duration, size int, now func() time.Time) *cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &cache{ttl: ttl, now: now, entries: expiring.New[cacheKey, Result](size)}
}

func keyOf(req Request) cacheKey {
	k := cacheKey{cert: sha256.Sum256(req.Cert.Raw), hint: req.Hint}
	if req.Issuer != nil {
		k.issuer = sha256.Sum256(req.Issuer.Raw)
	}
	return k
}

// mapVia returns the cached mapping of req, or maps it with mapUncached
// and caches a success.
func (c *cache) mapVia(ctx context.Context, req Request, mapUncached func(context.Context, Request) (*Result, error)) (*Result, error) {
	key := keyOf(req)
	now := c.now()
	c.mu.Lock()
	cached, ok := c.entries.Get(key, now)
	c.mu.Unlock()
	if ok {
		return &cached, nil // a copy: the caller may change it
	}
	res, err := mapUncached(ctx, req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Put(key, *res, now.Add(c.ttl), now)
	return res, nil
}
