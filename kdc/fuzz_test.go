package kdc_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

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

// serveOnce answers msg and checks that the answer is a KRB-ERROR or a
// KDC-REP: the KDC never stays silent on a request it parsed, nor panics.
func serveOnce(t *testing.T, k *kdc.KDC, msg []byte) {
	reply := k.ServeKerberos(context.Background(), msg, fuzzFrom, "udp")
	if len(reply) == 0 {
		t.Fatalf("no reply to %x", msg)
	}
	switch reply[0] {
	case 0x7e, 0x6b, 0x6d: // KRB-ERROR, AS-REP, TGS-REP
	default:
		t.Fatalf("reply %x is no Kerberos message", reply[:min(len(reply), 8)])
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
	f.Fuzz(func(t *testing.T, msg []byte) { serveOnce(t, k, msg) })
}

// FuzzTGSReq feeds the KDC arbitrary TGS-REQs, seeded with a valid one.
func FuzzTGSReq(f *testing.F) {
	k := fuzzKDC(f)
	msg := validTGSReq(f, k)
	f.Add(msg)
	f.Add(msg[:len(msg)-1])
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

// TestMalformedFlood sends 10,000 malformed or truncated requests over UDP
// and TCP (also frames that lie about their length), and the KDC still
// answers a valid request afterwards, without a recovered panic.
func TestMalformedFlood(t *testing.T) {
	fx := getFixture(t)
	k := startKDC(t, fx.config(t), kdc.Options{})
	seeds := [][]byte{
		asRequest{user: fx.users["alice"]}.build(t).msg,
		asRequest{user: fx.users["erin"], client: "erin", curve: pkinit.CurveP256}.build(t).msg,
		asRequest{user: fx.users["alice"], rsa: true}.build(t).msg,
		validTGSReq(t, k.KDC),
	}
	const total, udpShare = 10000, 6000
	start := time.Now()
	rnd := mrand.New(mrand.NewPCG(1, 2))
	msgs := make([][]byte, total)
	for i := range msgs {
		msgs[i] = mutate(rnd, seeds[i%len(seeds)])
	}

	// UDP: fire the datagrams, reading whatever comes back meanwhile.
	uc, err := net.Dial("udp", k.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	var udpReplies int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			_ = uc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := uc.Read(buf); err != nil {
				return
			}
			udpReplies++
		}
	}()
	for i, m := range msgs[:udpShare] {
		if len(m) == 0 {
			continue
		}
		if _, err := uc.Write(m); err != nil {
			t.Fatal(err)
		}
		if i%64 == 0 {
			time.Sleep(time.Millisecond) // let the socket buffer drain
		}
	}

	// TCP: four connections carrying the rest; a frame that lies about its
	// length, or a reply the server ends with, starts a new connection.
	tcpReplies := make([]int, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			for i := udpShare + w; i < total; i += 4 {
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", k.addr); err != nil {
						t.Error(err)
						return
					}
				}
				m := msgs[i]
				n := uint32(len(m))
				lie := i%50 == 0
				if lie {
					n += 100 // promises more than it sends
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, n), m...)); err != nil {
					t.Error(err)
					return
				}
				if lie || n == 0 {
					c.Close()
					c = nil
					continue
				}
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					c.Close()
					c = nil
					continue
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
					t.Error(err)
					return
				}
				tcpReplies[w]++
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	tcp := 0
	for _, n := range tcpReplies {
		tcp += n
	}
	t.Logf("%d malformed requests in %v: %d UDP replies, %d TCP replies", total, elapsed.Round(time.Millisecond), udpReplies, tcp)
	if tcp == 0 || udpReplies == 0 {
		t.Fatalf("the KDC answered %d UDP and %d TCP requests", udpReplies, tcp)
	}

	asRequest{user: fx.users["alice"]}.build(t).asOK(t, k.addr)
	if log := k.serverLog.String(); strings.Contains(log, "panicked") {
		t.Fatalf("the handler panicked:\n%s", log)
	}
}
