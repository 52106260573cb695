package kdc

import (
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
	"syscall"
	"time"
)

// Handler answers one Kerberos message. It returns the encoded reply (a
// KDC-REP or a KRB-ERROR), or nil to send nothing.
type Handler interface {
	ServeKerberos(ctx context.Context, req []byte, from netip.AddrPort, network string) []byte
}

// Server carries Kerberos messages between the network and a [Handler]: UDP
// datagrams and TCP connections framed as RFC 4120 §7.2.2 says.
type Server struct {
	Handler Handler
	// Realm names the KDC in the errors the server itself sends.
	Realm string
	// MaxRequest bounds a request's size (default 64 KiB); larger TCP frames
	// close the connection, larger datagrams are dropped.
	MaxRequest int
	// RequestTimeout bounds the work on one request (default 10 s), and the
	// time a TCP client may take to send it.
	RequestTimeout time.Duration
	// IdleTimeout closes TCP connections that send nothing (default 30 s).
	IdleTimeout time.Duration
	// MaxInFlight bounds the requests handled at once (default 256); more
	// wait, so a flood slows the KDC down instead of exhausting memory.
	MaxInFlight int
	Log         *slog.Logger

	mu        sync.Mutex
	listeners []io.Closer
	conns     map[net.Conn]struct{}
	inflight  sync.WaitGroup
	sem       chan struct{}
	closing   bool
	once      sync.Once
}

const (
	defaultMaxRequest     = 64 << 10
	defaultRequestTimeout = 10 * time.Second
	defaultIdleTimeout    = 30 * time.Second
	defaultMaxInFlight    = 256
)

func (s *Server) init() {
	s.once.Do(func() {
		if s.MaxRequest <= 0 {
			s.MaxRequest = defaultMaxRequest
		}
		if s.RequestTimeout <= 0 {
			s.RequestTimeout = defaultRequestTimeout
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = defaultIdleTimeout
		}
		if s.MaxInFlight <= 0 {
			s.MaxInFlight = defaultMaxInFlight
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		s.sem = make(chan struct{}, s.MaxInFlight)
		s.conns = map[net.Conn]struct{}{}
	})
}

var errTooManyFiles = syscall.EMFILE

// errorReply is a KRB-ERROR from the server itself, not the handler.
func (s *Server) errorReply(code int32, text string) []byte {
	return krbError(s.Realm, code, text, nil, time.Now())
}

// ErrServerClosed is returned by the Serve methods after [Server.Shutdown].
var ErrServerClosed = errors.New("kdc: server closed")

func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners = append(s.listeners, c)
	return true
}

// ServeUDP answers datagrams on pc until Shutdown.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	s.init()
	if !s.track(pc) {
		return ErrServerClosed
	}
	buf := make([]byte, 65536)
	for {
		n, addr, err := pc.ReadFrom(buf)
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
		if n == 0 || n > s.MaxRequest {
			continue
		}
		req := append([]byte(nil), buf[:n]...)
		from := addrPort(addr)
		if !s.acquire() {
			return ErrServerClosed
		}
		go func() {
			defer s.release()
			if reply := s.handle(req, from, "udp"); reply != nil {
				_, _ = pc.WriteTo(reply, addr)
			}
		}()
	}
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
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.inflight.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
		s.inflight.Done()
	}()
	from := addrPort(c.RemoteAddr())
	var hdr [4]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			return
		}
		if n&(1<<31) != 0 || int64(n) > int64(s.MaxRequest) {
			// The reserved bit or a length we will not read: RFC 4120 §7.2.2
			// asks for KRB_ERR_FIELD_TOOLONG, then the connection closes.
			_ = c.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
			_ = writeFrame(c, s.errorReply(errFieldTooLong, fmt.Sprintf("request of %d bytes exceeds the limit of %d", n&^(1<<31), s.MaxRequest)))
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(s.RequestTimeout))
		req := make([]byte, n)
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if !s.acquire() {
			return
		}
		reply := s.handle(req, from, "tcp")
		s.release()
		if reply == nil {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
		if err := writeFrame(c, reply); err != nil {
			return
		}
		if s.isClosing() {
			return
		}
	}
}

func writeFrame(w io.Writer, msg []byte) error {
	frame := make([]byte, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg)))
	copy(frame[4:], msg)
	_, err := w.Write(frame)
	return err
}

// handle runs the handler with a deadline and turns a panic into a logged
// KRB_ERR_GENERIC: no input may take the KDC down.
func (s *Server) handle(req []byte, from netip.AddrPort, network string) (reply []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), s.RequestTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			s.Log.Error("kdc: handler panicked", "from", from.String(), "network", network, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			reply = s.errorReply(errGeneric, "internal error")
		}
	}()
	return s.Handler.ServeKerberos(ctx, req, from, network)
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

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting requests, lets those in progress finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	// Idle keep-alive connections wake from their read at once.
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
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
			if l.TCP, err = net.Listen("tcp", a); err != nil {
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
