package kdc

import (
	"crypto/sha256"
	"sync"
	"time"
)

// replayCache remembers authenticators (PKINIT PKAuthenticators and TGS
// authenticators) for as long as their timestamps are acceptable, so that the
// same one is accepted once (RFC 4120 §3.2.3, RFC 4556 §3.2.1). It is
// bounded: when full it refuses new entries rather than forgetting old ones,
// since forgetting would let a replay through.
type replayCache struct {
	mu      sync.Mutex
	seen    map[[32]byte]time.Time // key → when it may be forgotten
	max     int
	lastGC  time.Time
	gcEvery time.Duration
}

func newReplayCache(max int) *replayCache {
	return &replayCache{seen: map[[32]byte]time.Time{}, max: max, gcEvery: time.Second}
}

// replayResult says what check found.
type replayResult int

const (
	replayFresh replayResult = iota
	replaySeen
	replayFull
)

// check records key until expires, reporting whether it was already there.
func (c *replayCache) check(key []byte, now, expires time.Time) replayResult {
	h := sha256.Sum256(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastGC) >= c.gcEvery || len(c.seen) >= c.max {
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
		c.lastGC = now
	}
	if t, ok := c.seen[h]; ok && now.Before(t) {
		return replaySeen
	}
	if len(c.seen) >= c.max {
		return replayFull
	}
	c.seen[h] = expires
	return replayFresh
}
