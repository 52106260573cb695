package kdc_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
)

// noPreauthASReq is alice's AS-REQ without padata: the KDC answers it with
// KDC_ERR_PREAUTH_REQUIRED, a KRB-ERROR it means to send.
func noPreauthASReq(t testing.TB) []byte {
	t.Helper()
	return kdc.SetKDCReqField(t, asRequest{user: getFixture(t).users["alice"]}.build(t).msg, false, 3, nil)
}

// readDatagrams reads what arrives on c until quiet passes without any.
func readDatagrams(c net.Conn, quiet time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 65536)
	for {
		_ = c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
}

// readDatagram reads one datagram from c, waiting up to d; nil if none came.
func readDatagram(c net.Conn, d time.Duration) []byte {
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func errorCode(t testing.TB, raw []byte) krberror.Code {
	t.Helper()
	var e messages.KRBError
	if err := e.Unmarshal(raw); err != nil {
		t.Fatalf("not a KRB-ERROR (%v): %x", err, raw[:min(len(raw), 16)])
	}
	return krberror.Code(e.ErrorCode)
}

// TestUDPAnswersOnlyRequests: a one-byte datagram, a KRB-ERROR, other
// Kerberos messages and requests that are cut short or carry trailing data
// get no reply at all; an AS-REQ gets its KRB-ERROR.
func TestUDPAnswersOnlyRequests(t *testing.T) {
	k := startKDC(t, getFixture(t).config(t), kdc.Options{})
	c, err := net.Dial("udp", k.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	probe := noPreauthASReq(t)
	c.Write(probe)
	first := readDatagrams(c, time.Second)
	if len(first) != 1 || errorCode(t, first[0]) != krberror.PreauthRequired {
		t.Fatalf("AS-REQ without padata: %d replies, want one PREAUTH_REQUIRED", len(first))
	}
	junk := map[string][]byte{
		"one byte":       {0x6a},
		"krb-error":      first[0],
		"ap-req":         {0x6e, 0x02, 0x30, 0x00},
		"as-rep":         {0x6b, 0x02, 0x30, 0x00},
		"truncated":      probe[:len(probe)-1],
		"trailing bytes": append(append([]byte(nil), probe...), 0, 0),
	}
	for _, m := range junk {
		c.Write(m)
	}
	c.Write(probe)
	replies := readDatagrams(c, time.Second)
	if len(replies) != 1 || errorCode(t, replies[0]) != krberror.PreauthRequired {
		t.Fatalf("%d replies to %d junk datagrams and one AS-REQ, want the AS-REQ's alone", len(replies), len(junk))
	}
	if st := k.running.Stats(); st.Unanswered != uint64(len(junk)) {
		t.Fatalf("stats %+v: want %d unanswered", st, len(junk))
	}
	if log := k.audit.String(); strings.Count(log, "\n") != 2 {
		t.Fatalf("audit log has records of noise:\n%s", log)
	}
}

// packetPipe is a net.PacketConn the test feeds: ReadFrom returns the
// datagrams given to deliver, with whatever source the test says, and
// WriteTo hands replies back. It lets a test send what only a spoofer can.
type packetPipe struct {
	local net.Addr
	in    chan datagram
	out   chan datagram
	done  chan struct{}
	once  sync.Once
}

type datagram struct {
	b    []byte
	addr net.Addr
}

func newPacketPipe(local string) *packetPipe {
	return &packetPipe{local: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)),
		in: make(chan datagram, 16), out: make(chan datagram, 16), done: make(chan struct{})}
}

func (p *packetPipe) deliver(b []byte, from string) {
	p.in <- datagram{b, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from))}
}

func (p *packetPipe) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-p.in:
		return copy(b, d.b), d.addr, nil
	case <-p.done:
		return 0, nil, net.ErrClosed
	}
}

func (p *packetPipe) WriteTo(b []byte, a net.Addr) (int, error) {
	select {
	case p.out <- datagram{append([]byte(nil), b...), a}:
		return len(b), nil
	case <-p.done:
		return 0, net.ErrClosed
	}
}

func (p *packetPipe) Close() error                     { p.once.Do(func() { close(p.done) }); return nil }
func (p *packetPipe) LocalAddr() net.Addr              { return p.local }
func (p *packetPipe) SetDeadline(time.Time) error      { return nil }
func (p *packetPipe) SetReadDeadline(time.Time) error  { return nil }
func (p *packetPipe) SetWriteDeadline(time.Time) error { return nil }

// newKDC is a KDC for a Server the test runs itself.
func newKDC(t testing.TB) *kdc.KDC {
	t.Helper()
	k, err := kdc.New(getFixture(t).config(t), kdc.Options{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestUDPFromOwnAddress: a datagram whose source is one of the KDC's own
// listening addresses, or an address no datagram comes from, is dropped:
// answering it would make the KDC talk to itself.
func TestUDPFromOwnAddress(t *testing.T) {
	k := newKDC(t)
	probe := noPreauthASReq(t)
	var iface string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() {
				iface = netip.AddrPortFrom(p.Addr(), 88).String()
			}
		}
	}
	for _, tc := range []struct {
		local, from string
		answered    bool
	}{
		{"127.0.0.1:88", "127.0.0.1:88", false},
		{"127.0.0.1:88", "127.0.0.1:40000", true},
		{"127.0.0.1:88", "127.0.0.2:88", true}, // another address: no loop
		{"0.0.0.0:88", "127.0.0.1:88", false},
		{"0.0.0.0:88", "127.0.0.9:88", false}, // a wildcard socket hears all of 127/8
		{"0.0.0.0:88", iface, false},
		{"0.0.0.0:88", "192.0.2.7:88", true},
		{"[::]:88", "[::1]:88", false},
		{"[::]:88", "[::ffff:127.0.0.1]:88", false},
		{"127.0.0.1:88", "0.0.0.0:40000", false},
		{"127.0.0.1:88", "127.0.0.1:0", false},
		{"127.0.0.1:88", "224.0.0.1:40000", false},
	} {
		if tc.from == "" {
			continue // no interface address but loopback
		}
		t.Run(tc.local+"<-"+tc.from, func(t *testing.T) {
			pipe := newPacketPipe(tc.local)
			srv := &kdc.Server{Handler: k, Realm: realm}
			done := make(chan error, 1)
			go func() { done <- srv.ServeUDP(pipe) }()
			defer func() { srv.Shutdown(context.Background()); <-done }()
			// The read loop decides on each datagram in turn: once the
			// control datagram is answered, the first one was decided.
			const control = "127.0.0.3:40000"
			pipe.deliver(probe, tc.from)
			pipe.deliver(probe, control)
			from := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.from)).String()
			got := map[string]bool{}
			for !got[control] || tc.answered && !got[from] {
				select {
				case d := <-pipe.out:
					got[d.addr.String()] = true
				case <-time.After(10 * time.Second):
					t.Fatalf("replies to %v only", got)
				}
			}
			select {
			case d := <-pipe.out:
				t.Fatalf("a reply too many, to %v", d.addr)
			case <-time.After(50 * time.Millisecond):
			}
			want := 1
			if tc.answered {
				want = 2
			}
			if got, wantSpoofed := srv.Stats().SpoofedSource, uint64(2-want); got != wantSpoofed {
				t.Fatalf("SpoofedSource %d, want %d", got, wantSpoofed)
			}
		})
	}
}

// serve runs srv on a fresh loopback address until the test ends.
func serve(t testing.TB, srv *kdc.Server) string {
	t.Helper()
	ls, err := kdc.Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ls[0].TCP.Addr().String()
}

// TestUDPErrorRate: KRB-ERRORs to one source over UDP stop at the burst,
// and each one withheld is counted; loopback sources, which no datagram
// from the network may carry, are not limited.
func TestUDPErrorRate(t *testing.T) {
	pipe := newPacketPipe("127.0.0.1:88")
	srv := &kdc.Server{Handler: newKDC(t), Realm: realm, ErrorRate: 5} // bursts of 10
	done := make(chan error, 1)
	go func() { done <- srv.ServeUDP(pipe) }()
	defer func() { srv.Shutdown(context.Background()); <-done }()
	const sent, remote, local = 40, "192.0.2.10:5000", "127.0.0.2:5000"
	replies := map[string]int{}
	go func() {
		for range sent {
			pipe.deliver([]byte{0x6a, 0x00}, remote) // framed as an AS-REQ, malformed: a KRB-ERROR is due
			pipe.deliver([]byte{0x6a, 0x00}, local)
		}
	}()
	for deadline := time.After(20 * time.Second); replies[remote]+replies[local]+int(srv.Stats().ErrorsLimited) < 2*sent; {
		select {
		case d := <-pipe.out:
			replies[d.addr.String()]++
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("replies %v, stats %+v", replies, srv.Stats())
		}
	}
	st := srv.Stats()
	t.Logf("%d sent to each; replies %v; %d withheld", sent, replies, st.ErrorsLimited)
	if replies[remote] < 10 || replies[remote] > 12 || replies[local] != sent {
		t.Fatalf("replies %v, want 10 to 12 to %s and %d to %s", replies, remote, sent, local)
	}
}

// panicking is a handler with a bug: it panics on every message.
type panicking struct{}

func (panicking) ServeKerberos(context.Context, []byte, netip.AddrPort, string) []byte {
	panic("a bug")
}

// TestPanicLogLimited: a client that makes the handler panic again and
// again writes a few log lines, not one (with a stack trace) per request.
func TestPanicLogLimited(t *testing.T) {
	var log harness.Buffer
	srv := &kdc.Server{Handler: panicking{}, Realm: realm, Log: slog.New(slog.NewTextHandler(&log, nil))}
	addr := serve(t, srv)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 30 {
		c.Write(noPreauthASReq(t))
	}
	if n := len(readDatagrams(c, time.Second)); n != 30 {
		t.Fatalf("%d replies to 30 requests, want a KRB_ERR_GENERIC each", n)
	}
	lines := strings.Count(log.String(), "handler panicked")
	if st := srv.Stats(); lines > 6 || st.LogsLimited+uint64(lines) != 30 {
		t.Fatalf("%d log lines, %d withheld, want at most 6 written and the rest withheld", lines, st.LogsLimited)
	}
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server has closed c within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, 20*time.Second, what, cond)
}

func waitUntilFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestTCPConnectionLimits: connections beyond the per-source bound are
// refused; at the overall bound the connection idle longest makes room;
// a request left unfinished and a connection left idle are closed.
func TestTCPConnectionLimits(t *testing.T) {
	srv := &kdc.Server{Handler: newKDC(t), Realm: realm, MaxConns: 6, MaxConnsPerSource: 3,
		IdleTimeout: 3 * time.Second, HeaderTimeout: 300 * time.Millisecond}
	addr := serve(t, srv)
	open := func(src string) net.Conn {
		n := srv.Stats().TCPOpen
		c := dialFrom(t, src, addr)
		waitUntil(t, "the connection to be admitted", func() bool { return srv.Stats().TCPOpen == n+1 })
		return c
	}
	oldest := open("127.0.0.1")
	open("127.0.0.1")
	open("127.0.0.1")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	if c, err := d.Dial("tcp", addr); err == nil { // a reset may beat connect's return
		defer c.Close()
		if !closedByServer(c, 5*time.Second) {
			t.Fatal("a fourth connection from one source was admitted")
		}
	}
	open("127.0.0.2")
	open("127.0.0.2")
	open("127.0.0.3")
	// The seventh connection: the oldest idle one goes.
	c := dialFrom(t, "127.0.0.4", addr)
	if !closedByServer(oldest, 5*time.Second) {
		t.Fatal("at the bound, the oldest idle connection was not closed")
	}
	if reply := exchangeOn(t, c, noPreauthASReq(t)); errorCode(t, reply) != krberror.PreauthRequired {
		t.Fatal("the new connection was not served")
	}
	st := srv.Stats()
	if st.TCPRefusedSource != 1 || st.TCPEvicted != 1 || st.TCPOpen != 6 {
		t.Fatalf("stats %+v: want 1 refused for its source, 1 evicted, 6 open", st)
	}

	// A request started and not finished.
	slow := dialFrom(t, "127.0.0.5", addr)
	slow.Write([]byte{0, 0})
	if !closedByServer(slow, 5*time.Second) || srv.Stats().TCPHeaderTimeouts != 1 {
		t.Fatalf("an unfinished request was not cut off: %+v", srv.Stats())
	}
	// A connection that sends nothing: the KDC has room for it, by
	// closing another idle one, then lets it idle out.
	idle := dialFrom(t, "127.0.0.6", addr)
	if !closedByServer(idle, 10*time.Second) || srv.Stats().TCPIdleTimeouts == 0 {
		t.Fatalf("an idle connection was not closed: %+v", srv.Stats())
	}
}

// exchangeOn sends msg as one frame on c and reads the reply frame.
func exchangeOn(t testing.TB, c net.Conn, msg []byte) []byte {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(frame(msg)); err != nil {
		t.Fatal(err)
	}
	return readReply(t, c)
}

// procStatus reads a "Key: value kB" field of /proc/self/status, in bytes.
func procStatus(t testing.TB, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(ents)
}

// settledRSS is the resident size once garbage is collected and returned to
// the system, as the runtime's scavenger does on its own over minutes.
func settledRSS(t testing.TB) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return procStatus(t, "VmRSS")
}

// goMemory is the memory the Go runtime holds from the system (heap,
// stacks, its own structures), less what it has returned: the resident size
// without the race detector's shadow memory.
func goMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// memory is what a ceiling is checked on: the resident size, or under the
// race detector the Go runtime's own accounting.
func memory(t testing.TB) int64 {
	if raceEnabled {
		return goMemory()
	}
	return procStatus(t, "VmRSS")
}

const idleHelperEnv = "SCLOGON_TEST_IDLE_CONNS"

// TestIdleConnectionsHelper is not a test: TestIdleConnections runs the
// test binary with it, to hold idle connections in a process of their own
// (one process cannot hold both ends of 20,000 connections under the usual
// file limit).
func TestIdleConnectionsHelper(t *testing.T) {
	spec := os.Getenv(idleHelperEnv)
	if spec == "" {
		t.Skip("run by TestIdleConnections")
	}
	var addr string
	var n, helper int
	if _, err := fmt.Sscanf(spec, "%s %d %d", &addr, &n, &helper); err != nil {
		t.Fatal(err)
	}
	raiseFileLimit(t)
	conns := make([]net.Conn, 0, n)
	for i := range n {
		// 50 connections per source address, under the per-source bound.
		src := i / 50
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, byte(10+helper), byte(src/250), byte(src%250+1))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%500 == 499 {
			// Let the KDC drain its accept queue (4096 at most): a
			// handshake that overflows it completes only seconds later.
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Printf("ready %d\n", len(conns))
	os.Stdout.Sync()
	// Held until the parent stops this process (SIGTERM), so that TestMain
	// still cleans up.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	select {
	case <-stop:
	case <-time.After(5 * time.Minute):
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one.
func raiseFileLimit(t testing.TB) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// idleCeiling is what 20,000 idle connections may add to the KDC's
// resident memory (measured: 20 MB): the default connection bound (at most
// 4096) keeps it to 4096 goroutines' and sockets' worth, whatever the
// number attempted.
const idleCeiling = 48 << 20

// TestIdleConnections: 20,000 idle TCP connections, from 400 loopback
// addresses, leave the KDC (with its default bounds) under idleCeiling of
// extra memory while a logon succeeds; once they are gone, its file
// descriptors are back to where they were.
func TestIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 20,000 connections")
	}
	raiseFileLimit(t)
	fx := getFixture(t)
	k := startKDC(t, fx.config(t), kdc.Options{})
	asRequest{user: fx.users["alice"]}.build(t).asOK(t, k.addr)
	baseFDs, baseRSS := openFDs(t), settledRSS(t)
	baseMem := memory(t)
	start := time.Now()
	var helpers []*harness.Process
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnectionsHelper$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s 10000 %d", idleHelperEnv, k.addr, i))
		helpers = append(helpers, harness.Start(t, "idle connections", cmd))
	}
	for _, h := range helpers {
		waitHelper(t, h)
	}
	// The kernel completes a handshake before the KDC accepts it. On a
	// loaded machine the accept queue overflows and the kernel drops the
	// handshake's last ACK; such a connection reaches the KDC only with a
	// retransmitted SYN-ACK (1, 2, 4, 8, 16 s later), or never, when every
	// retransmission meets a full queue too (the client, which sends
	// nothing, is not told). So this waits until all 20,000 have arrived or
	// none has for 5 s, and checks the bound on what did arrive.
	seen := func() uint64 {
		st := k.running.Stats()
		return st.TCPEvicted + st.TCPRefused + st.TCPRefusedSource + uint64(st.TCPOpen)
	}
	last, lastChange := seen(), time.Now()
	waitUntilFor(t, 2*time.Minute, "the connections to reach the KDC", func() bool {
		if n := seen(); n != last {
			last, lastChange = n, time.Now()
		}
		return last >= 20000 || time.Since(lastChange) > 5*time.Second
	})
	held := time.Since(start)
	peakRSS, peakMem := procStatus(t, "VmRSS"), memory(t)
	st := k.running.Stats()
	if last < 20000 {
		t.Logf("%d of 20,000 handshakes reached the KDC; the kernel dropped the rest from a full accept queue", last)
	}

	asRequest{user: fx.users["alice"]}.build(t).asOK(t, k.addr)
	t.Logf("%d connections in %v; KDC: %d open, %d evicted, %d refused; RSS %d MB → %d MB; checked: +%d MB of %d MB (race detector %t); %d goroutines",
		last, held.Round(time.Millisecond), st.TCPOpen, st.TCPEvicted, st.TCPRefused+st.TCPRefusedSource,
		baseRSS>>20, peakRSS>>20, (peakMem-baseMem)>>20, idleCeiling>>20, raceEnabled, runtime.NumGoroutine())
	if grew := peakMem - baseMem; grew > idleCeiling {
		t.Errorf("20,000 idle connections grew the KDC by %d MB, over the ceiling of %d MB", grew>>20, idleCeiling>>20)
	}
	if st.TCPOpen > 4096 || st.TCPEvicted == 0 || st.TCPEvicted+uint64(st.TCPOpen) < last {
		t.Errorf("stats %+v: want at most 4096 open and the rest of the %d evicted", st, last)
	}
	for _, h := range helpers {
		h.Stop()
	}
	waitUntil(t, "the connections to close", func() bool { return k.running.Stats().TCPOpen == 0 })
	time.Sleep(100 * time.Millisecond)
	if fds := openFDs(t); fds > baseFDs+2 {
		t.Errorf("%d file descriptors open after the connections closed, %d before", fds, baseFDs)
	}
	t.Logf("after: %d file descriptors (%d before), RSS %d MB settled", openFDs(t), baseFDs, settledRSS(t)>>20)
}

// waitHelper waits until a helper holds its connections.
func waitHelper(t testing.TB, h *harness.Process) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(h.Log(), "ready") {
		select {
		case <-h.Exited():
			t.Fatalf("helper exited:\n%s", h.Log())
		case <-deadline:
			t.Fatalf("helper not ready:\n%s", h.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// keeper answers each request with its bytes and keeps every request it
// was given, as a handler may (parsed certificates point into them).
type keeper struct {
	mu   sync.Mutex
	reqs [][]byte
}

func (k *keeper) ServeKerberos(_ context.Context, req []byte, _ netip.AddrPort, _ string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reqs = append(k.reqs, req)
	return append([]byte(nil), req...)
}

// frame is msg with its RFC 4120 §7.2.2 length.
func frame(msg []byte) []byte {
	return append([]byte{byte(len(msg) >> 24), byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// readReply reads one reply frame from c.
func readReply(t testing.TB, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, int(hdr[0])<<24|int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	return reply
}

// TestTCPFraming: requests are read whole however they arrive — the
// header in pieces, several frames in one segment, frames around and past
// the size read in one go — and each handler keeps its request intact
// while the next ones are read.
func TestTCPFraming(t *testing.T) {
	h := &keeper{}
	addr := serve(t, &kdc.Server{Handler: h, Realm: realm})
	msg := func(n int, fill byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = fill + byte(i%7)
		}
		return b
	}
	var want [][]byte
	c := dialFrom(t, "127.0.0.1", addr)
	send := func(parts ...[]byte) {
		for i, p := range parts {
			if i > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(what string, n int) {
		t.Helper()
		for _, m := range want[len(want)-n:] {
			if got := readReply(t, c); string(got) != string(m) {
				t.Fatalf("%s: a reply of %d bytes, want the %d-byte request back", what, len(got), len(m))
			}
		}
	}
	// The header a byte, then three, then the body in two parts.
	m := msg(3000, 1)
	want = append(want, m)
	f := frame(m)
	send(f[:1], f[1:4], f[4:100], f[100:])
	check("split header", 1)
	// Three frames in one write, the last cut short, then its end.
	for i, n := range []int{100, 5000, 8191} {
		want = append(want, msg(n, byte(10*i)))
	}
	var batch []byte
	for _, m := range want[len(want)-3:] {
		batch = append(batch, frame(m)...)
	}
	send(batch[:len(batch)-10], batch[len(batch)-10:])
	check("pipelined", 3)
	// Around and past what one read takes.
	for _, n := range []int{8192, 8193, 20000, 60000} {
		want = append(want, msg(n, byte(n)))
		send(frame(want[len(want)-1]))
		check(fmt.Sprintf("%d bytes", n), 1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reqs) != len(want) {
		t.Fatalf("the handler saw %d requests, want %d", len(h.reqs), len(want))
	}
	for i, r := range h.reqs {
		if string(r) != string(want[i]) {
			t.Fatalf("request %d (%d bytes) changed after the handler returned", i, len(want[i]))
		}
	}
}

// TestTCPRequestAllocations: a request on an open connection costs the
// server no more than the request's own copy, the handler's context and
// its timer; the frame it is read into and the one its reply is written
// from are reused.
func TestTCPRequestAllocations(t *testing.T) {
	addr := serve(t, &kdc.Server{Handler: make(fixedReply, 2500), Realm: realm})
	c := dialFrom(t, "127.0.0.1", addr)
	req := frame(make([]byte, 3000))
	buf := make([]byte, 4+2500)
	roundTrip := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	// The race detector allocates on its own account.
	if n := testing.AllocsPerRun(200, roundTrip); n > 6 && !raceEnabled {
		t.Errorf("%v allocations per request, want at most 6", n)
	}
}

// TestTCPNoKeepAlive: the connections a KDC's listener accepts have no
// TCP keep-alive; it would cost system calls on every connection for
// nothing that the idle and header timeouts do not do sooner.
func TestTCPNoKeepAlive(t *testing.T) {
	ls, err := kdc.Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ls[0].TCP.Close(); ls[0].UDP.Close() }()
	dialFrom(t, "127.0.0.1", ls[0].TCP.Addr().String())
	c, err := ls[0].TCP.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	if err := raw.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if on != 0 {
		t.Error("an accepted connection has TCP keep-alive on")
	}
}
