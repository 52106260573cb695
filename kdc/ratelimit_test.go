package kdc

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestSourceLimiter: a burst, then the rate; IPv6 addresses counted by /64;
// the table bounded, sources beyond it sharing one bucket; refilled buckets
// swept away.
func TestSourceLimiter(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newSourceLimiter(10, 20, 3)
	a := netip.MustParseAddr("192.0.2.1")
	take := func(addr netip.Addr, n int, at time.Time) (allowed int) {
		for range n {
			if l.allow(addr, at) {
				allowed++
			}
		}
		return allowed
	}
	if got := take(a, 30, t0); got != 20 {
		t.Fatalf("burst: %d of 30 allowed, want 20", got)
	}
	if got := take(a, 30, t0.Add(time.Second)); got != 10 {
		t.Fatalf("a second later: %d allowed, want 10", got)
	}
	if got := take(netip.MustParseAddr("::ffff:192.0.2.1"), 1, t0.Add(time.Second)); got != 0 {
		t.Fatal("an IPv4-mapped address escaped its IPv4 bucket")
	}
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:2")
	if take(v6a, 20, t0) != 20 || take(v6b, 1, t0) != 0 {
		t.Fatal("two addresses of one /64 have separate buckets")
	}
	// The table holds 3 sources; the fourth and fifth share the overflow.
	take(netip.MustParseAddr("192.0.2.3"), 1, t0)
	if n := l.tracked(); n != 3 {
		t.Fatalf("%d sources tracked, want 3", n)
	}
	if take(netip.MustParseAddr("192.0.2.4"), 15, t0) != 15 || take(netip.MustParseAddr("192.0.2.5"), 15, t0) != 5 {
		t.Fatal("sources beyond the table do not share one bucket")
	}
	// Three seconds on, every bucket is full again, and forgotten.
	l.allow(a, t0.Add(5*time.Second))
	if n := l.tracked(); n != 1 {
		t.Fatalf("%d sources tracked after a sweep, want 1", n)
	}
	off := newSourceLimiter(-1, 0, 0)
	for range 1000 {
		if !off.allow(a, t0) {
			t.Fatal("a negative rate limits")
		}
	}
}

// TestConnTable: the per-source bound, then at the overall bound the
// connection idle longest goes; a busy one is never evicted.
func TestConnTable(t *testing.T) {
	tab := newConnTable(3, 2)
	var c net.Conn // the table never touches the connection itself
	src := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	a1, _, _ := tab.admit(c, src("127.0.0.1"))
	a2, _, _ := tab.admit(c, src("127.0.0.1"))
	if _, _, adm := tab.admit(c, src("127.0.0.1")); adm != refusedSource {
		t.Fatalf("third from one source: %v, want refusedSource", adm)
	}
	b1, _, _ := tab.admit(c, src("127.0.0.2"))
	if !tab.markBusy(a1) {
		t.Fatal("markBusy on an admitted connection")
	}
	c3, evicted, adm := tab.admit(c, src("127.0.0.3"))
	if adm != admitted || evicted != a2 {
		t.Fatalf("at the bound: %v, evicted %p, want a2 (%p), the idle one admitted first", adm, evicted, a2)
	}
	if tab.markBusy(a2) {
		t.Fatal("an evicted connection became busy")
	}
	tab.markBusy(b1)
	tab.markBusy(c3)
	if _, _, adm := tab.admit(c, src("127.0.0.4")); adm != refusedFull {
		t.Fatalf("at the bound with none idle: %v, want refusedFull", adm)
	}
	tab.remove(a1)
	tab.remove(a1)
	if n := tab.open(); n != 2 {
		t.Fatalf("%d open, want 2", n)
	}
	if _, _, adm := tab.admit(c, src("127.0.0.1")); adm != admitted {
		t.Fatal("a source whose connections closed stays refused")
	}
}
