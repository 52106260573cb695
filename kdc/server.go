package kdc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/krberror"
)

// Handler answers one Kerberos message. It returns the encoded reply (a
// KDC-REP or a KRB-ERROR), or nil to send nothing.
type Handler interface {
	ServeKerberos(ctx context.Context, req []byte, from netip.AddrPort, network string) []byte
}

// Server carries Kerberos messages between the network and a [Handler]: UDP
// datagrams and TCP connections framed as RFC 4120 §7.2.2 says.
//
// It answers only what deserves an answer: nothing to a message the handler
// does not answer (noise, a KRB-ERROR), nothing to a datagram from one of
// its own listening addresses, and KRB-ERRORs over UDP only up to ErrorRate
// per source. TCP connections are bounded in number, overall and per
// source, and in how long they may sit idle or take to send a request.
// [Server.Stats] counts what was refused; [Server.Shutdown] logs the counts.
type Server struct {
	Handler Handler
	// Realm names the KDC in the errors the server itself sends.
	Realm string
	// MaxRequest bounds a request's size (default 64 KiB); larger TCP frames
	// close the connection, larger datagrams are dropped.
	MaxRequest int
	// RequestTimeout bounds the work on one request (default 10 s).
	RequestTimeout time.Duration
	// IdleTimeout closes TCP connections that start no request (default 30 s).
	IdleTimeout time.Duration
	// HeaderTimeout bounds the time from a TCP request's first byte to its
	// last (default 5 s): a client that starts a request must finish it.
	HeaderTimeout time.Duration
	// MaxInFlight bounds the requests handled at once (default 256); more
	// wait, so a flood slows the KDC down instead of exhausting memory. It
	// also bounds the TCP connections that wait for a request with a read
	// buffer of their own (8 KiB), which lets one read take a whole
	// request; the others read its header first.
	MaxInFlight int
	// MaxConns bounds the open TCP connections (default: three quarters of
	// the process's file limit, at most 4096). At the bound, the connection
	// idle longest is closed to admit a new one; with none idle, the new one
	// is refused.
	MaxConns int
	// MaxConnsPerSource bounds the TCP connections open from one address
	// (an IPv6 /64) (default 64); more are refused.
	MaxConnsPerSource int
	// ErrorRate bounds the KRB-ERRORs sent over UDP to one address, per
	// second (default 100, in bursts of up to twice that); the rest are
	// dropped. With a spoofed source, UDP replies reflect onto a victim;
	// over TCP the peer proved its address, and only it sees the errors.
	// Loopback sources are not bounded: no datagram from the network may
	// carry one (the kernel drops them as martians), and every logon
	// starts with an error (PREAUTH_REQUIRED), so a load test on one host
	// would be. Negative: no bound.
	ErrorRate float64
	Log       *slog.Logger

	mu        sync.Mutex
	listeners []io.Closer
	table     *connTable
	own       ownAddrs
	errLimit  *sourceLimiter
	logLimit  *sourceLimiter
	counters  serverCounters
	inflight  sync.WaitGroup
	sem       chan struct{}
	// closing is set, with mu held, as Shutdown starts; it is read on
	// every request, without the lock.
	closing atomic.Bool
	once    sync.Once
	// bufs holds *[]byte of at least frameBufSize bytes: TCP frames are
	// read into them and written from them.
	bufs sync.Pool
	// readAheads counts the connections waiting for a request; the first
	// MaxInFlight of them wait with one of bufs (see readStart).
	readAheads atomic.Int64
	// jobs hands requests to the workers (see dispatch); workers counts
	// them and idle those waiting for a request and not claimed; freed
	// wakes a dispatch waiting for a worker; stopped, closed by Shutdown,
	// ends the workers.
	jobs       chan job
	workers    atomic.Int64
	idle       atomic.Int64
	freed      chan struct{}
	stopped    chan struct{}
	workerIdle time.Duration // workerIdleTimeout when the server started
}

const (
	defaultMaxRequest        = 64 << 10
	defaultRequestTimeout    = 10 * time.Second
	defaultIdleTimeout       = 30 * time.Second
	defaultHeaderTimeout     = 5 * time.Second
	defaultMaxInFlight       = 256
	defaultMaxConnsPerSource = 64
	defaultErrorRate         = 100
	// Sources tracked by the rate limits; more share one bucket.
	limitedSources = 1 << 16
)

func (s *Server) init() {
	s.once.Do(func() {
		s.MaxRequest = orDefaultInt(s.MaxRequest, defaultMaxRequest)
		s.RequestTimeout = orDefault(max(s.RequestTimeout, 0), defaultRequestTimeout)
		s.IdleTimeout = orDefault(max(s.IdleTimeout, 0), defaultIdleTimeout)
		s.HeaderTimeout = orDefault(max(s.HeaderTimeout, 0), defaultHeaderTimeout)
		s.MaxInFlight = orDefaultInt(s.MaxInFlight, defaultMaxInFlight)
		s.MaxConns = orDefaultInt(s.MaxConns, defaultMaxConns())
		s.MaxConnsPerSource = orDefaultInt(s.MaxConnsPerSource, defaultMaxConnsPerSource)
		if s.ErrorRate == 0 {
			s.ErrorRate = defaultErrorRate
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		s.sem = make(chan struct{}, s.MaxInFlight)
		s.jobs = make(chan job)
		s.freed = make(chan struct{}, 1)
		s.stopped = make(chan struct{})
		s.workerIdle = workerIdleTimeout
		s.bufs.New = func() any {
			b := make([]byte, frameBufSize)
			return &b
		}
		s.table = newConnTable(s.MaxConns, s.MaxConnsPerSource)
		s.errLimit = newSourceLimiter(s.ErrorRate, int(2*s.ErrorRate), limitedSources)
		// A few lines, then one a second, per source.
		s.logLimit = newSourceLimiter(1, 5, limitedSources)
	})
}

func orDefaultInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// defaultMaxConns sizes the TCP connection bound for the machine: three
// quarters of the file limit (the rest is for UDP, listeners, the
// directory, OCSP and logs), at least 64, at most 4096 (some 25 MB of idle
// connections).
func defaultMaxConns() int {
	n := fileLimit()
	if n == 0 {
		return 4096
	}
	return int(min(max(n/4*3, 64), 4096))
}

var errTooManyFiles = syscall.EMFILE

// errorReply is a KRB-ERROR from the server itself, not the handler.
func (s *Server) errorReply(code krberror.Code, text string) []byte {
	return krbError(s.Realm, reqNames{}, code, text, nil, time.Now())
}

// isKRBError reports whether a reply is a KRB-ERROR ([APPLICATION 30]).
func isKRBError(reply []byte) bool { return len(reply) > 0 && reply[0] == 0x7e }

// logError writes an ERROR line unless from has had its share: a hostile
// client must not be able to fill the log.
func (s *Server) logError(from netip.AddrPort, msg string, args ...any) {
	if !s.logLimit.allow(from.Addr(), time.Now()) {
		s.counters.logsLimited.Add(1)
		return
	}
	s.Log.Error(msg, args...)
}

// ErrServerClosed is returned by the Serve methods after [Server.Shutdown].
var ErrServerClosed = errors.New("kdc: server closed")

func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners = append(s.listeners, c)
	return true
}

// datagramConn reads and answers datagrams naming the peer by a
// netip.AddrPort, which a *net.UDPConn does without allocating a net.Addr
// for each.
type datagramConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
}

// packetConn is a datagramConn over any other net.PacketConn.
type packetConn struct{ net.PacketConn }

func (p packetConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, a, err := p.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	return n, addrPort(a), nil
}

func (p packetConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	return p.WriteTo(b, net.UDPAddrFromAddrPort(to))
}

// ServeUDP answers datagrams on pc until Shutdown.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	s.init()
	if !s.track(pc) {
		return ErrServerClosed
	}
	s.own.add(addrPort(pc.LocalAddr()))
	dc, ok := pc.(datagramConn)
	if !ok {
		dc = packetConn{pc}
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := dc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("kdc: udp: %w", err)
		}
		if !s.admitDatagram(n, from) {
			continue
		}
		req := append([]byte(nil), buf[:n]...)
		if !s.acquire() {
			return ErrServerClosed
		}
		s.dispatch(job{req: req, from: from, network: "udp", dc: dc})
	}
}

// admitDatagram says whether a datagram of n bytes from from is handled.
func (s *Server) admitDatagram(n int, from netip.AddrPort) bool {
	switch {
	case s.own.spoofed(from):
		s.counters.spoofed.Add(1)
	case n == 0:
		s.counters.unanswered.Add(1)
	case n > s.MaxRequest:
		s.counters.oversize.Add(1)
	default:
		return true
	}
	return false
}

// mayReply applies ErrorRate to a UDP reply to to.
func (s *Server) mayReply(reply []byte, to netip.AddrPort) bool {
	if !isKRBError(reply) || to.Addr().Unmap().IsLoopback() || s.errLimit.allow(to.Addr(), time.Now()) {
		return true
	}
	s.counters.errorsLimited.Add(1)
	return false
}

// ServeTCP accepts connections on l until Shutdown. A connection may carry
// several requests, one after another.
func (s *Server) ServeTCP(l net.Listener) error {
	s.init()
	if !s.track(l) {
		return ErrServerClosed
	}
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Back off on resource exhaustion instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("kdc: tcp: %w", err)
		}
		delay = 0
		if !s.admitConn(c) {
			return ErrServerClosed
		}
	}
}

// admitConn serves c if the connection bounds allow, closing an idle
// connection to make room when needed; false once the server is closing.
func (s *Server) admitConn(c net.Conn) bool {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		c.Close()
		return false
	}
	tc, evicted, a := s.table.admit(c, addrPort(c.RemoteAddr()).Addr())
	if a == admitted {
		s.inflight.Add(1)
	}
	s.mu.Unlock()
	if evicted != nil {
		s.counters.tcpEvicted.Add(1)
		abort(evicted)
	}
	switch a {
	case refusedFull:
		s.counters.tcpRefused.Add(1)
		abort(c)
	case refusedSource:
		s.counters.tcpRefusedSource.Add(1)
		abort(c)
	default:
		go s.serveConn(tc)
	}
	return true
}

// abort closes c with a reset: a refused or evicted connection leaves no
// TIME_WAIT behind on the KDC.
func abort(c net.Conn) {
	if tc, ok := c.(*tcpConn); ok {
		c = tc.Conn
	}
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	c.Close()
}

func (s *Server) serveConn(tc *tcpConn) {
	defer func() {
		s.table.remove(tc)
		tc.Close()
		s.inflight.Done()
	}()
	from := addrPort(tc.RemoteAddr())
	done := make(chan []byte, 1)
	for !s.isClosing() {
		req, ok := s.readFrame(tc)
		if !ok || !s.acquire() {
			return
		}
		s.dispatch(job{req: req, from: from, network: "tcp", done: done})
		reply := <-done
		if reply == nil {
			return
		}
		_ = tc.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
		if err := s.writeFrame(tc.Conn, reply); err != nil {
			return
		}
	}
}

// readAhead is how much of an announced TCP request readFrame makes room
// for before any of it has come, and reads in one go: a PKINIT AS-REQ with
// its certificate is 2–4 KiB.
const readAhead = 8192

// frameBufSize is a frame of readAhead bytes with its header.
const frameBufSize = 4 + readAhead

// maxPooledBuf bounds the buffers kept in Server.bufs: a rare large reply
// does not leave its buffer in the pool.
const maxPooledBuf = 4 + 64<<10

// frameReader is what readFrame keeps of a connection between requests.
type frameReader struct {
	hdr [4]byte
	// pending are bytes read past the end of the last frame: the start of
	// the next, from a client that did not wait for the reply.
	pending []byte
}

// readFrame reads one request: its first byte within IdleTimeout, while
// the connection counts as idle (and may be evicted), then the rest of the
// frame within HeaderTimeout. The request, its header with it, usually
// comes in one read (see readStart).
//
// An idle connection waits in readStart with readFrame and serveConn
// above it: they keep to small stack frames, so that each of thousands of
// idle connections' goroutines fits in its first stack.
func (s *Server) readFrame(tc *tcpConn) ([]byte, bool) {
	s.table.markIdle(tc)
	_ = tc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
	got, buf, err := s.readStart(tc)
	if err != nil {
		s.countTimeout(err, &s.counters.tcpIdle)
		return nil, false
	}
	if !s.table.markBusy(tc) {
		s.putBuf(buf)
		return nil, false
	}
	req, ok := s.readFrameRest(tc, got)
	s.putBuf(buf)
	return req, ok
}

// readStart waits, within the deadline set, for the first bytes of a
// request: those left over from the last frame, or what one read brings.
// While no more than MaxInFlight connections wait, each waits with a
// buffer of frameBufSize, so that one read takes a whole request that has
// arrived; past that, on the four-byte header alone, so that thousands of
// idle connections hold no buffers. buf, when not nil, holds got; it goes back
// to s.bufs once got has been copied out.
func (s *Server) readStart(tc *tcpConn) (got []byte, buf *[]byte, err error) {
	if len(tc.pending) > 0 {
		got, tc.pending = tc.pending, nil
		return got, nil, nil
	}
	into := tc.hdr[:]
	if s.readAheads.Add(1) <= int64(s.MaxInFlight) {
		buf = s.bufs.Get().(*[]byte)
		into = (*buf)[:frameBufSize]
	}
	n, err := io.ReadAtLeast(tc.Conn, into, 1)
	s.readAheads.Add(-1)
	if err != nil {
		s.putBuf(buf)
		return nil, nil, err
	}
	return into[:n], buf, nil
}

func (s *Server) putBuf(buf *[]byte) {
	if buf != nil {
		s.bufs.Put(buf)
	}
}

// readFrameRest reads what readStart did not of a request that starts
// with got, within HeaderTimeout of its first byte.
func (s *Server) readFrameRest(tc *tcpConn, got []byte) ([]byte, bool) {
	deadline := false
	headerTimeout := func() {
		if !deadline {
			_ = tc.SetReadDeadline(time.Now().Add(s.HeaderTimeout))
			deadline = true
		}
	}
	h := copy(tc.hdr[:], got)
	got = got[h:]
	if h < len(tc.hdr) {
		headerTimeout()
		if _, err := io.ReadFull(tc.Conn, tc.hdr[h:]); err != nil {
			s.countTimeout(err, &s.counters.tcpHeader)
			return nil, false
		}
	}
	n := binary.BigEndian.Uint32(tc.hdr[:])
	if n == 0 {
		return nil, false
	}
	if n&(1<<31) != 0 || int64(n) > int64(s.MaxRequest) {
		// The reserved bit or a length we will not read: RFC 4120 §7.2.2
		// asks for KRB_ERR_FIELD_TOOLONG, then the connection closes.
		s.counters.oversize.Add(1)
		_ = tc.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
		_ = s.writeFrame(tc.Conn, s.errorReply(krberror.FieldTooLong, fmt.Sprintf("request of %d bytes exceeds the limit of %d", n&^(1<<31), s.MaxRequest)))
		return nil, false
	}
	if len(got) > int(n) {
		tc.pending = bytes.Clone(got[n:])
		got = got[:n]
	}
	if len(got) == int(n) {
		// The handler may keep the request: it gets a copy of its own.
		return bytes.Clone(got), true
	}
	headerTimeout()
	req, err := readRest(tc.Conn, got, int(n))
	if err != nil {
		s.countTimeout(err, &s.counters.tcpHeader)
		return nil, false
	}
	return req, true
}

// readRest reads the rest of an n-byte request of which have has come. Up
// to readAhead bytes it reads into the request's own n bytes; past that
// the buffer grows with the bytes received, not with the length
// announced, so that a false length costs no memory.
func readRest(c net.Conn, have []byte, n int) ([]byte, error) {
	if n <= readAhead {
		req := make([]byte, n)
		_, err := io.ReadFull(c, req[copy(req, have):])
		return req, err
	}
	var req bytes.Buffer
	req.Grow(readAhead + bytes.MinRead)
	req.Write(have)
	if _, err := req.ReadFrom(io.LimitReader(c, int64(n-len(have)))); err != nil {
		return nil, err
	}
	if req.Len() != n {
		return nil, io.ErrUnexpectedEOF
	}
	return req.Bytes(), nil
}

// countTimeout counts err in c if it is a timeout of ours, not a shutdown.
func (s *Server) countTimeout(err error, c interface{ Add(uint64) uint64 }) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !s.isClosing() {
		c.Add(1)
	}
}

// writeFrame sends msg as one frame, its length and itself in one write
// from a pooled buffer: a write per part would cost a system call each, a
// frame of its own an allocation.
func (s *Server) writeFrame(c net.Conn, msg []byte) error {
	bp := s.bufs.Get().(*[]byte)
	frame := binary.BigEndian.AppendUint32((*bp)[:0], uint32(len(msg)))
	frame = append(frame, msg...)
	_, err := c.Write(frame)
	if cap(frame) <= maxPooledBuf {
		*bp = frame[:cap(frame)]
	}
	s.bufs.Put(bp)
	return err
}

// handle runs the handler with a deadline and turns a panic into a logged
// KRB_ERR_GENERIC: no input may take the KDC down.
func (s *Server) handle(req []byte, from netip.AddrPort, network string) (reply []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), s.RequestTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			s.logError(from, "kdc: handler panicked", "from", from.String(), "network", network, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			reply = s.errorReply(krberror.Generic, "internal error")
		}
	}()
	reply = s.Handler.ServeKerberos(ctx, req, from, network)
	if reply == nil {
		s.counters.unanswered.Add(1)
	}
	return reply
}

func (s *Server) acquire() bool {
	s.sem <- struct{}{}
	if s.isClosing() {
		<-s.sem
		return false
	}
	s.inflight.Add(1)
	return true
}

func (s *Server) release() {
	s.inflight.Done()
	<-s.sem
}

func (s *Server) isClosing() bool { return s.closing.Load() }

// Shutdown stops accepting requests, lets those in progress finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(s.stopped)
	}
	for _, l := range s.listeners {
		l.Close()
	}
	// Idle keep-alive connections wake from their read at once.
	s.table.each(func(tc *tcpConn) { _ = tc.SetReadDeadline(time.Now()) })
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	defer func() { s.Log.Info("kdc: server stopped", s.Stats().logValue()...) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.table.each(func(tc *tcpConn) { tc.Close() })
		return ctx.Err()
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// Listener is the pair of sockets serving one address.
type Listener struct {
	UDP net.PacketConn
	TCP net.Listener
}

// Listen opens UDP and TCP on each host:port (port 0 picks a free port, the
// same for both where the system allows).
func Listen(addrs []string) ([]Listener, error) {
	// No TCP keep-alive on accepted connections: a connection to a KDC
	// carries a request or a few, and IdleTimeout and HeaderTimeout close
	// one whose peer went silent long before a keep-alive probe would. It
	// would cost four setsockopt calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	var out []Listener
	closeAll := func() {
		for _, l := range out {
			l.UDP.Close()
			l.TCP.Close()
		}
	}
	for _, a := range addrs {
		var l Listener
		var err error
		for try := 0; try < 20; try++ {
			if l.TCP, err = lc.Listen(context.Background(), "tcp", a); err != nil {
				break
			}
			// The UDP socket takes the port TCP got.
			if l.UDP, err = net.ListenPacket("udp", l.TCP.Addr().String()); err == nil {
				break
			}
			l.TCP.Close()
			if _, port, _ := net.SplitHostPort(a); port != "0" {
				break
			}
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("kdc: listen on %s: %w", a, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// Serve answers on every listener until ctx ends, then shuts down, letting
// requests in progress finish for up to grace.
func (s *Server) Serve(ctx context.Context, ls []Listener, grace time.Duration) error {
	s.init()
	errs := make(chan error, 2*len(ls))
	for _, l := range ls {
		go func() { errs <- s.ServeUDP(l.UDP) }()
		go func() { errs <- s.ServeTCP(l.TCP) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if serr := s.Shutdown(sctx); err == nil && serr != nil {
		err = serr
	}
	if errors.Is(err, ErrServerClosed) {
		err = nil
	}
	return err
}
