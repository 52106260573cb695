package kdc

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
)

// connTable admits and tracks a server's TCP connections: at most max
// open, at most perSource from one address (see [sourceKey]). At max, the
// connection that has waited longest for a request is closed to admit the
// new one, as MIT's KDC drops its oldest: a flood of idle connections then
// cannot lock clients out. With none idle, the new connection is refused.
type connTable struct {
	max, perSource int

	mu       sync.Mutex
	conns    map[*tcpConn]struct{}
	bySource map[netip.Addr]int
	idle     list.List // of *tcpConn waiting for a request, longest first
}

// tcpConn is an admitted connection.
type tcpConn struct {
	net.Conn
	source   netip.Addr    // sourceKey of the peer
	idleElem *list.Element // in connTable.idle while waiting for a request
	gone     bool          // removed from the table: evicted, or done
}

// admission is what connTable.admit decided.
type admission int

const (
	admitted      admission = iota
	refusedFull             // max open, none idle
	refusedSource           // perSource open from this source
)

func newConnTable(max, perSource int) *connTable {
	return &connTable{max: max, perSource: perSource, conns: map[*tcpConn]struct{}{}, bySource: map[netip.Addr]int{}}
}

// admit registers c from peer as waiting for its first request, or says
// why not. evicted, when not nil, is the idle connection that made room;
// the caller closes it.
func (t *connTable) admit(c net.Conn, peer netip.Addr) (tc, evicted *tcpConn, a admission) {
	src := sourceKey(peer)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bySource[src] >= t.perSource {
		return nil, nil, refusedSource
	}
	if len(t.conns) >= t.max {
		front := t.idle.Front()
		if front == nil {
			return nil, nil, refusedFull
		}
		evicted = front.Value.(*tcpConn)
		t.removeLocked(evicted)
	}
	tc = &tcpConn{Conn: c, source: src}
	t.conns[tc] = struct{}{}
	t.bySource[src]++
	tc.idleElem = t.idle.PushBack(tc)
	return tc, evicted, admitted
}

// remove forgets tc; it may be called more than once.
func (t *connTable) remove(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(tc)
}

func (t *connTable) removeLocked(tc *tcpConn) {
	if tc.gone {
		return
	}
	tc.gone = true
	delete(t.conns, tc)
	if t.bySource[tc.source]--; t.bySource[tc.source] <= 0 {
		delete(t.bySource, tc.source)
	}
	if tc.idleElem != nil {
		t.idle.Remove(tc.idleElem)
		tc.idleElem = nil
	}
}

// markIdle makes tc evictable while it waits for its next request.
func (t *connTable) markIdle(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !tc.gone && tc.idleElem == nil {
		tc.idleElem = t.idle.PushBack(tc)
	}
}

// markBusy takes tc off the idle list as a request starts; false if it was
// evicted meanwhile.
func (t *connTable) markBusy(tc *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.gone {
		return false
	}
	if tc.idleElem != nil {
		t.idle.Remove(tc.idleElem)
		tc.idleElem = nil
	}
	return true
}

// each calls fn on every connection, with the table locked: fn must not
// call back into the table.
func (t *connTable) each(fn func(*tcpConn)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for tc := range t.conns {
		fn(tc)
	}
}

// open is the number of connections in the table.
func (t *connTable) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}
