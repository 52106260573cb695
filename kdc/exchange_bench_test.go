package kdc_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/pkinit"
)

// BenchmarkASExchange is the KDC's whole share of one PKINIT logon, in the
// process and without the network: the AS-REQ without pre-authentication
// answered with PREAUTH_REQUIRED and a freshness token, then the signed
// AS-REQ answered with an AS-REP. It is configured as `make bench` runs the
// KDC (P-256 users and KDC key, freshness on, the DH key reused, an audit
// line per request); the requests are built before the timer starts, each
// with its own nonce and time, so that the replay cache refuses none. Its
// ns/op is the KDC's CPU per exchange less the network, on one core
// (bench/cmd/benchreport reports it beside the per-core figures; the
// sub-benchmarks' names end in no digits after a dash, which go test's
// output would read as GOMAXPROCS):
//
//	go test -run '^$' -bench '^BenchmarkASExchange$' -benchmem -cpu 1 ./kdc
func BenchmarkASExchange(b *testing.B) {
	for _, kx := range []struct {
		name  string
		group pkinit.Group
		curve pkinit.Curve
	}{
		{"DH2048", pkinit.MODPGroup14, 0},
		{"ECDHP256", 0, pkinit.CurveP256},
	} {
		b.Run(kx.name, func(b *testing.B) {
			k, erin := benchKDC(b)
			first := asRequest{user: erin, client: "erin"}.build(b)
			var req messages.ASReq
			if err := req.Unmarshal(first.msg); err != nil {
				b.Fatal(err)
			}
			req.PAData = nil
			unauth, err := req.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			token := freshnessFrom(b, k.ServeKerberos(context.Background(), unauth, benchPeer, "tcp"))
			clientKey, err := pkinit.NewAgreementKey(kx.curve, kx.group, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			signed := make([][]byte, b.N)
			for i := range signed {
				signed[i] = asRequest{user: erin, client: "erin", key: clientKey, freshness: token,
					kdfs: []pkinit.KDF{pkinit.KDFSHA256}}.build(b).msg
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r := k.ServeKerberos(context.Background(), unauth, benchPeer, "tcp"); len(r) == 0 || r[0] != 0x7e {
					b.Fatalf("first request: %x", r)
				}
				if r := k.ServeKerberos(context.Background(), signed[i], benchPeer, "tcp"); len(r) == 0 || r[0] != 0x6b {
					b.Fatalf("signed request %d: not an AS-REP: %x", i, r)
				}
			}
		})
	}
}

var benchPeer = netip.MustParseAddrPort("127.0.0.1:40000")

// benchKDC is the fixture's realm with a P-256 KDC key, as `make bench`
// runs it, and its P-256 user.
func benchKDC(b *testing.B) (*kdc.KDC, user) {
	f := getFixture(b)
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	prof, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	cert, err := f.ca.Issue(key.Public(), prof)
	if err != nil {
		b.Fatal(err)
	}
	cfg := f.config(b)
	cfg.Certificate[0], cfg.Key = cert, key
	cfg.DHKeyReuse = 10 * time.Minute
	k, err := kdc.New(cfg, kdc.Options{Rand: rand.Reader, Audit: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return k, f.users["erin"]
}

// freshnessFrom is the freshness token in a PREAUTH_REQUIRED reply.
func freshnessFrom(b *testing.B, reply []byte) []byte {
	var e messages.KRBError
	if err := e.Unmarshal(reply); err != nil {
		b.Fatalf("the first reply is no KRB-ERROR: %v", err)
	}
	token := methodData(b, e.EData)[int32(pkinit.PAASFreshness)]
	if len(token) == 0 {
		b.Fatal("PREAUTH_REQUIRED without a freshness token")
	}
	return token
}
