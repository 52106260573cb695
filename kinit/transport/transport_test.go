package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/krberror"
)

// fakeKDC answers on one loopback port over UDP and TCP; udpReply and tcpReply
// compute the answers. It counts what arrives over each.
type fakeKDC struct {
	addr           string
	udpHits        atomic.Int32
	tcpHits        atomic.Int32
	udpReply       func(req []byte) []byte
	tcpReply       func(req []byte) []byte
	udpListener    net.PacketConn
	tcpListener    net.Listener
	silentOnUDP    bool
	closeTCPEarly  bool
	truncatedReply bool
}

func startFakeKDC(t *testing.T, configure func(*fakeKDC)) *fakeKDC {
	t.Helper()
	k := &fakeKDC{
		udpReply: func(req []byte) []byte { return append([]byte("udp:"), req...) },
		tcpReply: func(req []byte) []byte { return append([]byte("tcp:"), req...) },
	}
	if configure != nil {
		configure(k)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ul, err := net.ListenPacket("udp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	k.addr, k.tcpListener, k.udpListener = tl.Addr().String(), tl, ul
	t.Cleanup(func() { tl.Close(); ul.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			k.udpHits.Add(1)
			if !k.silentOnUDP {
				_, _ = ul.WriteTo(k.udpReply(buf[:n]), from)
			}
		}
	}()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := ReadFrame(c, 1<<20)
				if err != nil {
					return
				}
				k.tcpHits.Add(1)
				if k.closeTCPEarly {
					return
				}
				reply := k.tcpReply(req)
				if k.truncatedReply {
					var b bytes.Buffer
					_ = WriteFrame(&b, reply)
					_, _ = c.Write(b.Bytes()[:b.Len()-1])
					return
				}
				_ = WriteFrame(c, reply)
			}()
		}
	}()
	return k
}

func tooBig(t *testing.T) []byte {
	t.Helper()
	e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/EXAMPLE.COM"), "EXAMPLE.COM", int32(krberror.ResponseTooBig), "too big")
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSmallRequestsUseUDPLargeUseTCP(t *testing.T) {
	k := startFakeKDC(t, nil)
	c := &Client{Timeout: 2 * time.Second}
	reply, used, err := c.Exchange(context.Background(), []KDC{{Addr: k.addr}}, []byte("small"))
	if err != nil || string(reply) != "udp:small" || used.Network != "udp" {
		t.Fatalf("small: %q %v %v", reply, used, err)
	}
	big := bytes.Repeat([]byte("x"), 2000)
	reply, used, err = c.Exchange(context.Background(), []KDC{{Addr: k.addr}}, big)
	if err != nil || !bytes.Equal(reply, append([]byte("tcp:"), big...)) || used.Network != "tcp" {
		t.Fatalf("large: %d bytes %v %v", len(reply), used, err)
	}
	if k.udpHits.Load() != 1 || k.tcpHits.Load() != 1 {
		t.Fatalf("udp %d tcp %d", k.udpHits.Load(), k.tcpHits.Load())
	}
}

func TestResponseTooBigFallsBackToTCP(t *testing.T) {
	krbErr := tooBig(t)
	k := startFakeKDC(t, func(k *fakeKDC) {
		k.udpReply = func([]byte) []byte { return krbErr }
	})
	reply, used, err := (&Client{}).Exchange(context.Background(), []KDC{{Addr: k.addr}}, []byte("req"))
	if err != nil || string(reply) != "tcp:req" || used.Network != "tcp" {
		t.Fatalf("%q %v %v", reply, used, err)
	}
}

func TestFailoverToSecondKDC(t *testing.T) {
	// The first KDC takes UDP datagrams and never answers, and accepts TCP but
	// closes without replying: both attempts fail, after the timeout for UDP.
	dead := startFakeKDC(t, func(k *fakeKDC) { k.silentOnUDP, k.closeTCPEarly = true, true })
	live := startFakeKDC(t, nil)
	c := &Client{Timeout: 300 * time.Millisecond}
	reply, used, err := c.Exchange(context.Background(), []KDC{{Addr: dead.addr}, {Addr: live.addr}}, []byte("req"))
	if err != nil {
		t.Fatal(err)
	}
	if used.Addr != live.addr || string(reply) != "udp:req" {
		t.Fatalf("answered by %v: %q", used, reply)
	}
	if dead.udpHits.Load() != 1 || dead.tcpHits.Load() != 1 {
		t.Fatalf("dead KDC saw udp %d tcp %d, want one each", dead.udpHits.Load(), dead.tcpHits.Load())
	}
}

// dialLog is a Dialer that records what it dials, as network/addr.
type dialLog struct {
	mu    sync.Mutex
	dials []string
}

func (d *dialLog) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, network+"/"+addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// take returns the dials since the last take.
func (d *dialLog) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.dials
	d.dials = nil
	return out
}

// TestUnansweredKDCAskedLast: a KDC that did not answer one exchange is
// not asked first in the Client's next one (the TGS after the AS), but is
// still asked when it is the only one; a new Client asks it first again.
func TestUnansweredKDCAskedLast(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := KDC{Addr: closed.Addr().String(), Network: "tcp"} // connection refused
	closed.Close()
	live := startFakeKDC(t, nil)
	kdcs := []KDC{dead, {Addr: live.addr}}
	log := &dialLog{}
	c := &Client{Dialer: log, Timeout: 5 * time.Second}

	want := func(step string, dials ...string) {
		t.Helper()
		if got := log.take(); !slices.Equal(got, dials) {
			t.Fatalf("%s dialled %q, want %q", step, got, dials)
		}
	}
	for _, step := range []string{"the first exchange", "the second exchange"} {
		if _, used, err := c.Exchange(context.Background(), kdcs, []byte("req")); err != nil || used.Addr != live.addr {
			t.Fatalf("%s: answered by %v, %v", step, used, err)
		}
		if step == "the first exchange" {
			want(step, "tcp/"+dead.Addr, "udp/"+live.addr)
		} else {
			want(step, "udp/"+live.addr)
		}
	}
	if _, _, err := c.Exchange(context.Background(), []KDC{dead}, []byte("req")); err == nil {
		t.Fatal("the dead KDC answered")
	}
	want("an exchange with the dead KDC alone", "tcp/"+dead.Addr)

	fresh := &Client{Dialer: log, Timeout: 5 * time.Second}
	if _, _, err := fresh.Exchange(context.Background(), kdcs, []byte("req")); err != nil {
		t.Fatal(err)
	}
	want("a new Client", "tcp/"+dead.Addr, "udp/"+live.addr)
}

func TestNoKDCAnswers(t *testing.T) {
	dead := startFakeKDC(t, func(k *fakeKDC) { k.silentOnUDP, k.truncatedReply = true, true })
	c := &Client{Timeout: 200 * time.Millisecond}
	_, _, err := c.Exchange(context.Background(), []KDC{{Addr: dead.addr}}, []byte("req"))
	var te *Error
	if !errors.As(err, &te) || len(te.Attempts) != 2 {
		t.Fatalf("error %v, want a transport error with two attempts", err)
	}
	var ne net.Error
	if !errors.As(te.Attempts[0], &ne) || !ne.Timeout() {
		t.Errorf("UDP attempt: %v, want a timeout", te.Attempts[0])
	}
	if !errors.Is(te.Attempts[1], io.ErrUnexpectedEOF) {
		t.Errorf("TCP attempt with a truncated reply: %v", te.Attempts[1])
	}
	if !strings.HasPrefix(err.Error(), "transport: no KDC answered: udp/") {
		t.Errorf("message %q", err)
	}
}

func TestContextCancellationStopsAtOnce(t *testing.T) {
	dead := startFakeKDC(t, func(k *fakeKDC) { k.silentOnUDP = true })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for dead.udpHits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	c := &Client{Timeout: time.Hour}
	_, _, err := c.Exchange(ctx, []KDC{{Addr: dead.addr}, {Addr: dead.addr}}, []byte("req"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if dead.tcpHits.Load() != 0 {
		t.Fatal("kept trying after cancellation")
	}
}

func TestReadFrameBounds(t *testing.T) {
	for name, in := range map[string][]byte{
		"reserved bit": {0x80, 0, 0, 1, 0},
		"zero length":  {0, 0, 0, 0},
		"too long":     {0, 0x10, 0, 0},
		"truncated":    {0, 0, 0, 5, 1, 2},
		"no header":    {0, 0},
	} {
		if _, err := ReadFrame(bytes.NewReader(in), 1024); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	msg, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 2, 7, 8, 9}), 1024)
	if err != nil || !bytes.Equal(msg, []byte{7, 8}) {
		t.Fatalf("%v %v", msg, err)
	}
}

type fakeResolver map[string][]*net.SRV

func (f fakeResolver) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	srvs, ok := f[proto]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return "", srvs, nil
}

func conf(t *testing.T, s string) *krb5conf.Config {
	t.Helper()
	c, err := krb5conf.Parse(strings.NewReader(s), "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLocate(t *testing.T) {
	ctx := context.Background()
	c := conf(t, "[realms]\n EXAMPLE.COM = {\n  kdc = kdc1.example.com\n  kdc = tcp/kdc2.example.com:750\n  kdc = [2001:db8::1]:88\n  kdc = [2001:db8::2]\n }\n")
	kdcs, err := Locate(ctx, c, "EXAMPLE.COM", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []KDC{{Addr: "kdc1.example.com:88"}, {Addr: "kdc2.example.com:750", Network: "tcp"}, {Addr: "[2001:db8::1]:88"}, {Addr: "[2001:db8::2]:88"}}
	if len(kdcs) != len(want) {
		t.Fatalf("%v", kdcs)
	}
	for i := range want {
		if kdcs[i] != want[i] {
			t.Errorf("kdc %d = %v, want %v", i, kdcs[i], want[i])
		}
	}

	dns := fakeResolver{"tcp": {{Target: "dc1.example.com.", Port: 88}, {Target: ".", Port: 0}}, "udp": {{Target: "dc2.example.com.", Port: 88}}}
	kdcs, err = Locate(ctx, conf(t, "[libdefaults]\n default_realm = EXAMPLE.COM\n"), "EXAMPLE.COM", dns)
	if err != nil {
		t.Fatal(err)
	}
	if len(kdcs) != 2 || kdcs[0] != (KDC{Addr: "dc1.example.com:88", Network: "tcp"}) || kdcs[1] != (KDC{Addr: "dc2.example.com:88", Network: "udp"}) {
		t.Fatalf("from SRV: %v", kdcs)
	}

	_, err = Locate(ctx, conf(t, "[libdefaults]\n dns_lookup_kdc = false\n"), "EXAMPLE.COM", dns)
	if !errors.Is(err, ErrNoKDC) {
		t.Fatalf("dns_lookup_kdc=false: %v", err)
	}
	_, err = Locate(ctx, conf(t, "[libdefaults]\n x = y\n"), "NOWHERE.ORG", fakeResolver{})
	if !errors.Is(err, ErrNoKDC) {
		t.Fatalf("no SRV records: %v", err)
	}
	for _, bad := range []string{"https://kdc.example.com/KdcProxy", "kdc:0", "kdc:99999", ":88"} {
		if _, err := Locate(ctx, conf(t, "[realms]\n R = {\n  kdc = "+bad+"\n }\n"), "R", nil); err == nil {
			t.Errorf("kdc = %s accepted", bad)
		}
	}
}
