package kdc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/pkinit"
)

// fuzzKDC is a KDC called directly, without sockets.
func fuzzKDC(f *testing.F) *kdc.KDC {
	fx := getFixture(f)
	k, err := kdc.New(fx.config(f), kdc.Options{Rand: rand.Reader})
	if err != nil {
		f.Fatal(err)
	}
	return k
}

var fuzzFrom = netip.MustParseAddrPort("127.0.0.1:4242")

// framedKDCReq reports whether msg is one [APPLICATION 10] or [APPLICATION
// 12] element, whatever is inside: a message that claims to be a request.
func framedKDCReq(msg []byte) bool {
	in := cryptobyte.String(msg)
	var v cryptobyte.String
	var tag cbasn1.Tag
	return in.ReadAnyASN1(&v, &tag) && in.Empty() && (tag == 0x6a || tag == 0x6c)
}

// serveOnce answers msg, without panicking: a message framed as an AS-REQ
// or TGS-REQ gets a KRB-ERROR or a KDC-REP, anything else nothing at all.
func serveOnce(t *testing.T, k *kdc.KDC, msg []byte) {
	reply := k.ServeKerberos(context.Background(), msg, fuzzFrom, "udp")
	if !framedKDCReq(msg) {
		if reply != nil {
			t.Fatalf("reply %x to a message that is no KDC-REQ: %x", reply[:min(len(reply), 8)], msg)
		}
		return
	}
	if len(reply) == 0 {
		t.Fatalf("no reply to %x", msg)
	}
	switch reply[0] {
	case 0x7e, 0x6b, 0x6d: // KRB-ERROR, AS-REP, TGS-REP
	default:
		t.Fatalf("reply %x is no Kerberos message", reply[:min(len(reply), 8)])
	}
}

// fieldSeed is a request with one field replaced.
type fieldSeed struct {
	field     string // its path, as a malformed-request error names it
	msg       []byte
	malformed bool
}

// fieldSeeds are msg with the fields gokrb5 parses by hand or not at all
// replaced: additional-tickets [11], enc-authorization-data [10] and padata
// [3], each by a well-formed value and by one byte.
func fieldSeeds(tb testing.TB, msg []byte) []fieldSeed {
	explicit := func(b *cryptobyte.Builder, n int, f cryptobyte.BuilderContinuation) {
		b.AddASN1(cbasn1.Tag(n).Constructed().ContextSpecific(), f)
	}
	encData := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(18) })
			explicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1OctetString([]byte{0xca, 0xfe}) })
		})
	}
	var tickets cryptobyte.Builder // SEQUENCE OF Ticket, RFC 4120 §5.3
	tickets.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(1).Constructed()|0x40, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
				explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1(27, func(b *cryptobyte.Builder) { b.AddBytes([]byte(realm)) }) })
				explicit(b, 2, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
						explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {}) })
					})
				})
				explicit(b, 3, encData)
			})
		})
	})
	var enc cryptobyte.Builder
	encData(&enc)
	var pa cryptobyte.Builder // PA-PAC-REQUEST { include-pac TRUE }, MS-KILE §2.2.3
	pa.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1Int64(128) })
			explicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1OctetString([]byte{0x30, 0x05, 0xa0, 0x03, 0x01, 0x01, 0xff}) })
		})
	})
	const addTickets, encAuthData, padata = "KDC-REQ.req-body.additional-tickets", "KDC-REQ.req-body.enc-authorization-data", "KDC-REQ.padata"
	return []fieldSeed{
		{addTickets, kdc.SetKDCReqField(tb, msg, true, 11, []byte{0x30}), true},
		{addTickets, kdc.SetKDCReqField(tb, msg, true, 11, tickets.BytesOrPanic()), false},
		{encAuthData, kdc.SetKDCReqField(tb, msg, true, 10, []byte{0x30}), true},
		{encAuthData, kdc.SetKDCReqField(tb, msg, true, 10, enc.BytesOrPanic()), false},
		{padata, kdc.SetKDCReqField(tb, msg, false, 3, []byte{0x30}), true},
		{padata, kdc.SetKDCReqField(tb, msg, false, 3, pa.BytesOrPanic()), false},
	}
}

// validTGSReq is a TGS-REQ with alice's real TGT from k.
func validTGSReq(tb testing.TB, k *kdc.KDC) []byte {
	fx := getFixture(tb)
	b := asRequest{user: fx.users["alice"]}.build(tb)
	rep := k.ServeKerberos(context.Background(), b.msg, fuzzFrom, "tcp")
	res := b.readASRep(tb, rep)
	conf := config.New()
	conf.LibDefaults.NoAddresses = true
	req, err := messages.NewTGSReq(res.rep.CName, realm, conf, res.rep.Ticket, res.enc.Key,
		types.PrincipalName{NameType: 3, NameString: []string{"host", "ws1.example.com"}}, false)
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// FuzzASReq feeds the KDC arbitrary AS-REQs, seeded with valid DH, ECDH and
// RSA requests.
func FuzzASReq(f *testing.F) {
	k := fuzzKDC(f)
	fx := getFixture(f)
	for _, r := range []asRequest{{}, {curve: pkinit.CurveP256}, {rsa: true}, {freshness: []byte{1, 2, 3}}} {
		r.user = fx.users["alice"]
		msg := r.build(f).msg
		f.Add(msg)
		f.Add(msg[:len(msg)/2])
	}
	for _, seed := range fieldSeeds(f, asRequest{user: fx.users["alice"]}.build(f).msg) {
		f.Add(seed.msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) { serveOnce(t, k, msg) })
}

// FuzzTGSReq feeds the KDC arbitrary TGS-REQs, seeded with a valid one.
func FuzzTGSReq(f *testing.F) {
	k := fuzzKDC(f)
	msg := validTGSReq(f, k)
	f.Add(msg)
	f.Add(msg[:len(msg)-1])
	for _, seed := range fieldSeeds(f, msg) {
		f.Add(seed.msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) { serveOnce(t, k, msg) })
}

// FuzzCMS puts arbitrary bytes where the signed AuthPack goes: the
// PA-PK-AS-REQ padata-value of an otherwise valid AS-REQ.
func FuzzCMS(f *testing.F) {
	k := fuzzKDC(f)
	fx := getFixture(f)
	b := asRequest{user: fx.users["alice"]}.build(f)
	var req messages.ASReq
	if err := req.Unmarshal(b.msg); err != nil {
		f.Fatal(err)
	}
	pk, err := pkinit.ParsePKASReq(req.PAData[0].PADataValue)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(req.PAData[0].PADataValue)
	f.Add(pk.SignedAuthPack)
	f.Fuzz(func(t *testing.T, pa []byte) {
		r := req
		r.PAData = types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: pa}}
		msg, err := r.Marshal()
		if err != nil {
			return
		}
		serveOnce(t, k, msg)
	})
}

// mutate returns a malformed or truncated copy of msg.
func mutate(rnd *mrand.Rand, msg []byte) []byte {
	m := append([]byte(nil), msg...)
	switch rnd.IntN(5) {
	case 0: // truncated
		return m[:rnd.IntN(len(m))]
	case 1: // bits flipped
		for range 1 + rnd.IntN(8) {
			m[rnd.IntN(len(m))] ^= byte(1 << rnd.IntN(8))
		}
		return m
	case 2: // a length byte made large
		i := rnd.IntN(len(m))
		m[i] = 0x84
		return m
	case 3: // random bytes behind a KDC-REQ tag
		b := make([]byte, 1+rnd.IntN(512))
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		b[0] = []byte{0x6a, 0x6c, 0x30}[rnd.IntN(3)]
		return b
	default: // trailing data
		return append(m, byte(rnd.Uint32()))
	}
}

// lineCounter counts audit lines without keeping them, so that a flood's
// audit log does not weigh on the memory the test measures.
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

// floodTotal is the number of malformed requests TestMalformedFlood sends,
// half over UDP, half over TCP: 50,000, or 10,000 under the race detector,
// which makes each one some five times slower.
func floodTotal() int {
	if raceEnabled {
		return 10000
	}
	return 50000
}

// TestMalformedFlood sends 50,000 malformed or truncated requests (frames
// that lie about their length among them) over UDP and TCP. The KDC keeps
// serving, with neither a recovered panic nor an ERROR line, and once the
// flood is over its file descriptors and memory are back to where they were.
func TestMalformedFlood(t *testing.T) {
	fx := getFixture(t)
	var audit lineCounter
	var logs, serverLog harness.Buffer
	k, err := kdc.New(fx.config(t), kdc.Options{Rand: rand.Reader, Audit: &audit, Log: newTextLog(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := kdc.Start(k, []string{"127.0.0.1:0"}, newTextLog(&serverLog))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	seeds := [][]byte{
		asRequest{user: fx.users["alice"]}.build(t).msg,
		asRequest{user: fx.users["erin"], client: "erin", curve: pkinit.CurveP256}.build(t).msg,
		asRequest{user: fx.users["alice"], rsa: true}.build(t).msg,
		validTGSReq(t, k),
	}
	asRequest{user: fx.users["alice"]}.build(t).asOK(t, r.Addr())
	baseFDs, baseRSS, baseMem, baseG := openFDs(t), settledRSS(t), goMemory(), runtime.NumGoroutine()

	total := floodTotal()
	start := time.Now()
	udp := floodUDP(t, r.Addr(), seeds, total/2)
	udpTime := time.Since(start)
	tcp := floodTCP(t, r.Addr(), seeds, total/2)
	elapsed := time.Since(start)
	asRequest{user: fx.users["alice"]}.build(t).asOK(t, r.Addr())
	st := r.Stats()
	t.Logf("%d malformed requests in %v (UDP %v, TCP %v; %.0f/s, race detector %t): %d UDP replies, %d TCP replies; %d audit lines; %+v",
		total, elapsed.Round(time.Millisecond), udpTime.Round(time.Millisecond), (elapsed - udpTime).Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), raceEnabled, udp, tcp, audit.n.Load(), st)
	if tcp == 0 || udp == 0 {
		t.Errorf("the KDC answered %d UDP and %d TCP requests", udp, tcp)
	}
	for name, log := range map[string]string{"server": serverLog.String(), "KDC": logs.String()} {
		if strings.Contains(log, "panicked") || strings.Contains(log, "level=ERROR") {
			t.Errorf("the %s log has errors:\n%.2000s", name, log)
		}
	}

	waitUntil(t, "the connections to close", func() bool { return r.Stats().TCPOpen == 0 })
	// What is left beside the goroutines before: the workers, which end
	// once idle (see Server.Stats), and at most two of the runtime's.
	waitUntil(t, "the handlers to return", func() bool { return runtime.NumGoroutine() <= baseG+2+r.Stats().Workers })
	fds, rss, mem := openFDs(t), settledRSS(t), goMemory()
	t.Logf("before → after: %d → %d file descriptors, RSS %d → %d MB, Go memory %d → %d MB, %d → %d goroutines",
		baseFDs, fds, baseRSS>>20, rss>>20, baseMem>>20, mem>>20, baseG, runtime.NumGoroutine())
	if fds > baseFDs+2 {
		t.Errorf("%d file descriptors open after the flood, %d before", fds, baseFDs)
	}
	if mem > baseMem+16<<20 || !raceEnabled && rss > baseRSS+16<<20 {
		t.Errorf("memory %d MB (RSS %d MB) after the flood, %d MB (%d MB) before", mem>>20, rss>>20, baseMem>>20, baseRSS>>20)
	}
}

// floodUDP sends n mutations of seeds as datagrams, reading whatever comes
// back meanwhile, and returns the number of replies.
func floodUDP(t *testing.T, addr string, seeds [][]byte, n int) int {
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	replies := make(chan int)
	go func() { replies <- len(readDatagrams(uc, time.Second)) }()
	rnd := mrand.New(mrand.NewPCG(1, 2))
	for i := range n {
		if m := mutate(rnd, seeds[i%len(seeds)]); len(m) > 0 {
			if _, err := uc.Write(m); err != nil {
				t.Fatal(err)
			}
		}
		if i%64 == 0 {
			time.Sleep(time.Millisecond) // let the socket buffer drain
		}
	}
	return <-replies
}

// floodTCP sends n mutations of seeds as frames over eight connections at
// once; a frame that lies about its length, or one the KDC does not answer
// (and so closes the connection on), starts a new connection. It returns the
// number of replies.
func floodTCP(t *testing.T, addr string, seeds [][]byte, n int) int {
	const workers = 8
	var replies atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(3, uint64(w)))
			var c net.Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for i := w; i < n; i += workers {
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", addr); err != nil {
						t.Error(err)
						return
					}
				}
				if sendFrame(t, c, mutate(rnd, seeds[i%len(seeds)]), i%50 == 0) {
					replies.Add(1)
					continue
				}
				c.Close()
				c = nil
			}
		}()
	}
	wg.Wait()
	return int(replies.Load())
}

// sendFrame writes m as a frame (announcing 100 bytes more than it sends if
// lie) and reads the reply; false when there is none and c is done for.
func sendFrame(t *testing.T, c net.Conn, m []byte, lie bool) bool {
	n := uint32(len(m))
	if lie {
		n += 100
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, n), m...)); err != nil {
		return false
	}
	if lie || n == 0 {
		return false
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return false
	}
	if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
		t.Error(err)
		return false
	}
	return true
}
