package expiring

import (
	"testing"
	"time"
)

// TestMap: an entry lives until its expiry and not a moment longer; a full
// Map drops the expired entries first, else a quarter, and never holds
// more than its size.
func TestMap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := New[int, string](8)
	m.Put(1, "one", t0.Add(time.Minute), t0)
	if v, ok := m.Get(1, t0.Add(time.Minute-time.Nanosecond)); !ok || v != "one" {
		t.Fatalf("before expiry: %q %t", v, ok)
	}
	if _, ok := m.Get(1, t0.Add(time.Minute)); ok || m.Len() != 0 {
		t.Fatalf("at expiry: found, or kept (%d entries)", m.Len())
	}
	for i := range 8 {
		expires := t0.Add(time.Hour)
		if i < 3 {
			expires = t0.Add(time.Second)
		}
		m.Put(i, "v", expires, t0)
	}
	m.Put(100, "new", t0.Add(time.Hour), t0.Add(2*time.Second))
	if m.Len() != 6 {
		t.Fatalf("after evicting the 3 expired: %d entries, want 6", m.Len())
	}
	for i := range 1000 {
		m.Put(1000+i, "flood", t0.Add(time.Hour), t0)
		if m.Len() > 8 {
			t.Fatalf("%d entries in a Map of 8", m.Len())
		}
	}
	if v, ok := m.Get(1999, t0); !ok || v != "flood" {
		t.Fatal("the newest entry of a flood is not kept")
	}
	if New[int, int](0).size != 1 {
		t.Fatal("a Map of size 0 holds nothing")
	}
}
