// Package expiring is a map of at most a fixed number of entries, each
// with its own expiry: the shape of the KDC's caches (verified certificate
// paths, certificate mappings), which must keep taking new keys under a
// flood without growing.
package expiring

import "time"

// Map holds at most its size entries. When it is full the expired entries
// go first, and when none had expired an arbitrary quarter (Go's map
// order): under a flood of new keys it keeps taking them in, and every
// entry's stay is short. A Map is not safe for concurrent use: its user
// locks it.
type Map[K comparable, V any] struct {
	size    int
	entries map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns an empty Map of at most size entries (at least one).
func New[K comparable, V any](size int) Map[K, V] {
	return Map[K, V]{size: max(size, 1), entries: map[K]entry[V]{}}
}

// Get returns the value of k unless it has expired by now; an expired
// entry is dropped.
func (m *Map[K, V]) Get(k K, now time.Time) (V, bool) {
	e, ok := m.entries[k]
	if ok && !now.Before(e.expires) {
		delete(m.entries, k)
		var zero V
		return zero, false
	}
	return e.v, ok
}

// Put sets k to v until expires, making room first when the Map is full.
func (m *Map[K, V]) Put(k K, v V, expires, now time.Time) {
	if _, ok := m.entries[k]; !ok && len(m.entries) >= m.size {
		m.evict(now)
	}
	m.entries[k] = entry[V]{v: v, expires: expires}
}

// Len is the number of entries, expired ones not yet dropped included.
func (m *Map[K, V]) Len() int { return len(m.entries) }

func (m *Map[K, V]) evict(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	for k := range m.entries {
		if len(m.entries) < m.size*3/4 {
			break
		}
		delete(m.entries, k)
	}
}
