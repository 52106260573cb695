package kinit_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/pkinit"
)

// TestMITKeyExchanges gets a TGT from MIT krb5kdc with each key exchange MIT
// 1.20 speaks, writes the ccache, and has MIT klist list it and MIT kvno get a
// service ticket with it.
func TestMITKeyExchanges(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	for _, tc := range []struct {
		name string
		kx   kinit.KeyExchange
	}{
		{"DH-2048", kinit.KeyExchange{}},
		{"DH-4096", kinit.KeyExchange{Group: pkinit.MODPGroup16}},
		{"RSA", kinit.KeyExchange{RSA: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := p.aliceRequest(t, kdc.Addr)
			req.KeyExchange = tc.kx
			res, err := run(t, newClient(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.KeyExchange.String(); !strings.HasPrefix(got, strings.Split(tc.name, "-")[0]) {
				t.Errorf("key exchange %s", got)
			}
			mit := kdc.Client(t, harness.MITClientConfig{})
			path := filepath.Join(t.TempDir(), "cc")
			if err := ccache.WriteFile(path, res.CCache()); err != nil {
				t.Fatal(err)
			}
			out := harness.Run(t, mit.Command(t, "klist", "-c", "FILE:"+path))
			if !strings.Contains(out, "alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Fatalf("klist:\n%s", out)
			}
			out = harness.Run(t, mit.Command(t, "kvno", "-c", "FILE:"+path, "host/svc.example.com"))
			if !strings.Contains(out, "host/svc.example.com@EXAMPLE.COM: kvno =") {
				t.Fatalf("kvno:\n%s", out)
			}
		})
	}
}

// TestMITServiceTicket fetches a service ticket with our TGS-REQ and has MIT
// klist show both tickets.
func TestMITServiceTicket(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t, kdc.Addr)
	svc, err := kinit.ServiceName("host/svc.example.com", realm)
	if err != nil {
		t.Fatal(err)
	}
	req.Services = []ccache.Principal{svc}
	res, err := run(t, newClient(t), req)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cc")
	if err := ccache.WriteFile(path, res.CCache()); err != nil {
		t.Fatal(err)
	}
	mit := kdc.Client(t, harness.MITClientConfig{})
	out := harness.Run(t, mit.Command(t, "klist", "-c", "FILE:"+path))
	if !strings.Contains(out, "host/svc.example.com@EXAMPLE.COM") {
		t.Fatalf("klist:\n%s", out)
	}
}
