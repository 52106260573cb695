package kdc

import (
	"net/netip"
	"sync"
	"time"
)

// sourceLimiter is a token bucket per source address with bounded memory.
// It tracks at most max sources; a bucket that has refilled is the same as
// a new one and is swept away; sources beyond max share one overflow
// bucket, so a flood from spoofed addresses neither grows the table nor
// escapes the limit. Safe for concurrent use.
type sourceLimiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu        sync.Mutex
	buckets   map[netip.Addr]bucket
	overflow  bucket
	nextSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newSourceLimiter allows each source rate events a second, burst at once,
// tracking up to max sources. A rate ≤ 0 allows everything.
func newSourceLimiter(rate float64, burst, max int) *sourceLimiter {
	return &sourceLimiter{rate: rate, burst: float64(max1(burst)), max: max1(max), buckets: map[netip.Addr]bucket{}}
}

func max1(n int) int { return max(n, 1) }

// sourceKey is the address a limit applies to: an IPv4 address, or an
// IPv6 /64, since one host commonly holds a whole /64.
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// allow takes a token from a's bucket, reporting whether there was one.
func (l *sourceLimiter) allow(a netip.Addr, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	a = sourceKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	b, ok := l.buckets[a]
	switch {
	case ok:
	case len(l.buckets) < l.max:
		b = bucket{tokens: l.burst, at: now}
	default:
		return l.overflow.take(now, l.rate, l.burst)
	}
	allowed := b.take(now, l.rate, l.burst)
	l.buckets[a] = b
	return allowed
}

// take refills b for the time since it was last used, then takes a token.
func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.at.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the buckets that have refilled, at most once per refill
// time: an O(max) pass bounded in frequency.
func (l *sourceLimiter) sweep(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.at) >= refill {
			delete(l.buckets, a)
		}
	}
	l.nextSweep = now.Add(max(refill, time.Second))
}

// tracked is the number of sources with a bucket.
func (l *sourceLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
