package kdc

import (
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
	// idle lists the connections waiting for a request, longest first,
	// linked through the connections themselves: a connection goes on it
	// after every reply, and a list of its own would allocate each time.
	idleFirst, idleLast *tcpConn
}

// tcpConn is an admitted connection.
type tcpConn struct {
	net.Conn
	source             netip.Addr // sourceKey of the peer
	idle               bool       // on connTable's idle list, waiting for a request
	idlePrev, idleNext *tcpConn
	gone               bool // removed from the table: evicted, or done
	frameReader             // what Server.readFrame keeps between requests
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
		if t.idleFirst == nil {
			return nil, nil, refusedFull
		}
		evicted = t.idleFirst
		t.removeLocked(evicted)
	}
	tc = &tcpConn{Conn: c, source: src}
	t.conns[tc] = struct{}{}
	t.bySource[src]++
	t.pushIdle(tc)
	return tc, evicted, admitted
}

// pushIdle puts tc last on the idle list.
func (t *connTable) pushIdle(tc *tcpConn) {
	tc.idle, tc.idlePrev, tc.idleNext = true, t.idleLast, nil
	if t.idleLast != nil {
		t.idleLast.idleNext = tc
	} else {
		t.idleFirst = tc
	}
	t.idleLast = tc
}

// dropIdle takes tc off the idle list, if it is on it.
func (t *connTable) dropIdle(tc *tcpConn) {
	if !tc.idle {
		return
	}
	if tc.idlePrev != nil {
		tc.idlePrev.idleNext = tc.idleNext
	} else {
		t.idleFirst = tc.idleNext
	}
	if tc.idleNext != nil {
		tc.idleNext.idlePrev = tc.idlePrev
	} else {
		t.idleLast = tc.idlePrev
	}
	tc.idle, tc.idlePrev, tc.idleNext = false, nil, nil
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
	t.dropIdle(tc)
}

// markIdle makes tc evictable while it waits for its next request.
func (t *connTable) markIdle(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !tc.gone && !tc.idle {
		t.pushIdle(tc)
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
	t.dropIdle(tc)
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
