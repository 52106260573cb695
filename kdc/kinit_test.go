package kdc_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/pkinit"
)

// TestSclogonKinit: our own client (kinit.Client, as `sclogon kinit` runs
// it, with a FILE identity) gets a TGT and a service ticket from our KDC
// with ECDH P-256 and P-384 (which MIT 1.20 cannot do), DH and RSA key
// transport; MIT klist reads the ccache it writes.
func TestSclogonKinit(t *testing.T) {
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	for _, tc := range []struct {
		name    string
		kx      kinit.KeyExchange
		keyExch string
	}{
		{"ecdh-p256", kinit.KeyExchange{Curve: pkinit.CurveP256}, "ecdh-P-256"},
		{"ecdh-p384", kinit.KeyExchange{Curve: pkinit.CurveP384}, "ecdh-P-384"},
		{"dh-2048", kinit.KeyExchange{}, "dh-group14"},
		{"rsa", kinit.KeyExchange{RSA: true}, "rsa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := f.users["alice"]
			id, err := identity.Parse("FILE:"+alice.certPath+","+alice.keyPath, identity.Options{})
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(f.ca.Root())
			inter := x509.NewCertPool()
			inter.AddCert(f.ca.Issuer())
			svc, err := kinit.ServiceName("host/ws1.example.com", realm)
			if err != nil {
				t.Fatal(err)
			}
			req := kinit.Request{
				Client:      ccache.Principal{NameType: 1, Components: []string{"alice"}, Realm: realm},
				Identity:    id,
				KeyExchange: tc.kx,
				Services:    []ccache.Principal{svc},
				Policy:      kinit.Policy{Anchors: roots, Intermediates: inter, OCSP: kinit.OCSPOff},
				KDCs:        []transport.KDC{{Addr: k.addr}},
			}
			var trace strings.Builder
			c := &kinit.Client{Transport: &transport.Client{Timeout: 5 * time.Second}, Trace: func(f string, a ...any) {
				fmt.Fprintf(&trace, f+"\n", a...)
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := c.Run(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// The KDC signs with the first digest of our supportedCMSTypes
			// (SHA-512), not a fixed one.
			if !strings.Contains(trace.String(), "KDC signature verified") || !strings.Contains(trace.String(), "digest SHA-512") {
				t.Errorf("the KDC did not sign with SHA-512, the client's first choice:\n%s", trace.String())
			}
			if rec := lastAS(t, k); rec.Result != "ok" || rec.KeyExch != tc.keyExch {
				t.Errorf("audit record %+v, want ok by %s", rec, tc.keyExch)
			}
			if len(res.Services) != 1 {
				t.Fatalf("%d service tickets", len(res.Services))
			}
			path := filepath.Join(t.TempDir(), "cc")
			if err := ccache.WriteFile(path, res.CCache()); err != nil {
				t.Fatal(err)
			}
			harness.Require(t, "klist", "krb5-user")
			mit := mitClient(t, f, k)
			out := harness.Run(t, mit.Command(t, "klist", "-c", "FILE:"+path))
			if !strings.Contains(out, "krbtgt/"+realm+"@"+realm) || !strings.Contains(out, "host/ws1.example.com@"+realm) {
				t.Fatalf("klist:\n%s", out)
			}
		})
	}
}
