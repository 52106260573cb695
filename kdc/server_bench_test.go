package kdc_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/sclogon/sclogon/kdc"
)

// benchRequestSize and benchReplySize are a PKINIT AS-REQ with its
// certificate and an AS-REP with the KDC's, as kinit sends and gets them.
const (
	benchRequestSize = 3000
	benchReplySize   = 2500
)

// fixedReply answers every request with the same bytes: the benchmarks
// below measure the server, not the KDC behind it.
type fixedReply []byte

func (r fixedReply) ServeKerberos(context.Context, []byte, netip.AddrPort, string) []byte {
	return r
}

// BenchmarkServerTCP is the server's own share of a request over TCP, with
// a handler that costs nothing: a connection per request as kinit opens
// one (accept, read, reply, the peer's close), and requests one after
// another on one connection. The client runs in the same process, so the
// per-connection allocs/op include its dial; "bare" is the same exchange
// with a minimal server (accept, read the frame, write the reply, close),
// the floor that kdc.Server's limits and timeouts add to:
//
//	go test -run '^$' -bench ServerTCP -benchmem -cpu 1 ./kdc
func BenchmarkServerTCP(b *testing.B) {
	req := make([]byte, 4+benchRequestSize)
	binary.BigEndian.PutUint32(req, benchRequestSize)
	reply := make(fixedReply, benchReplySize)
	servers := []struct {
		name string
		addr func(b *testing.B) string
	}{
		{"kdc.Server", func(b *testing.B) string {
			return serve(b, &kdc.Server{Handler: reply, Realm: realm})
		}},
		{"bare", func(b *testing.B) string { return serveBare(b, reply) }},
	}
	for _, srv := range servers {
		b.Run("conn-per-request/"+srv.name, func(b *testing.B) {
			addr := srv.addr(b)
			buf := make([]byte, 4+benchReplySize)
			b.ReportAllocs()
			for b.Loop() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				benchRoundTrip(b, c, req, buf)
				c.Close()
			}
		})
		b.Run("one-conn/"+srv.name, func(b *testing.B) {
			c, err := net.Dial("tcp", srv.addr(b))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 4+benchReplySize)
			b.ReportAllocs()
			for b.Loop() {
				benchRoundTrip(b, c, req, buf)
			}
		})
	}
}

// BenchmarkServerUDP is the server's own share of a request over UDP, as
// kinit sends its first AS-REQ, with a handler that costs nothing.
func BenchmarkServerUDP(b *testing.B) {
	reply := make(fixedReply, 300)
	c, err := net.Dial("udp", serve(b, &kdc.Server{Handler: reply, Realm: realm}))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := make([]byte, 200)
	buf := make([]byte, 2*len(reply))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if n, err := c.Read(buf); err != nil || n != len(reply) {
			b.Fatalf("a reply of %d bytes (%v), want %d", n, err, len(reply))
		}
	}
}

// benchRoundTrip sends the framed request on c and reads the framed reply
// into buf, which is its size.
func benchRoundTrip(b *testing.B, c net.Conn, req, buf []byte) {
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		b.Fatal(err)
	}
	if n := binary.BigEndian.Uint32(buf); int(n) != len(buf)-4 {
		b.Fatalf("a reply of %d bytes, want %d", n, len(buf)-4)
	}
}

// serveBare answers framed requests on a fresh loopback address with
// reply, doing no more than that, until the benchmark ends.
func serveBare(b *testing.B, reply []byte) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(reply)))
	frame = append(frame, reply...)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4+benchRequestSize)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
