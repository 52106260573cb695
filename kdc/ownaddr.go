package kdc

import (
	"net"
	"net/netip"
	"sync"
)

// ownAddrs are the addresses a server's UDP sockets listen on. A datagram
// "from" one of them is spoofed: answering it would send the KDC its own
// reply, and one such datagram used to start an endless loop.
type ownAddrs struct {
	mu       sync.Mutex
	exact    map[netip.AddrPort]bool
	wildcard map[uint16]bool // ports of listeners on 0.0.0.0 or ::
	ifaces   map[netip.Addr]bool
}

// add records the local address of a UDP socket. For a wildcard socket,
// every address of the machine's interfaces on its port is ours; they are
// read once, at the first such socket.
func (o *ownAddrs) add(local netip.AddrPort) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.exact == nil {
		o.exact, o.wildcard = map[netip.AddrPort]bool{}, map[uint16]bool{}
	}
	a := local.Addr().Unmap()
	if !a.IsUnspecified() {
		o.exact[netip.AddrPortFrom(a, local.Port())] = true
		return
	}
	o.wildcard[local.Port()] = true
	if o.ifaces == nil {
		o.ifaces = interfaceAddrs()
	}
}

// interfaceAddrs are the addresses of the machine's interfaces.
func interfaceAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// spoofed reports whether a datagram from from must be dropped unanswered:
// it is from one of our own listening addresses, or from an address no
// datagram can come from (port 0, unspecified, multicast, broadcast).
func (o *ownAddrs) spoofed(from netip.AddrPort) bool {
	a := from.Addr().Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || from.Port() == 0 ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.exact[netip.AddrPortFrom(a, from.Port())] {
		return true
	}
	// A wildcard socket receives on every local address, loopback included
	// (all of 127/8 reaches it, not only the interface's 127.0.0.1).
	return o.wildcard[from.Port()] && (a.IsLoopback() || o.ifaces[a])
}
