package kinit_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// startHeimdal starts a Heimdal 7.8 KDC for realm with alice (mapped by the
// id-pkinit-san of her certificate) and two services, with p's KDC identity.
func startHeimdal(t *testing.T, p *testPKI) *harness.HeimdalKDC {
	t.Helper()
	certPEM, keyPEM := p.kdcPEM(t)
	return harness.StartHeimdalKDC(t, harness.HeimdalKDCConfig{
		Realm: realm, KDCCertPEM: certPEM, KDCKeyPEM: keyPEM, AnchorsPEM: p.rootPEM(),
		Principals: []string{"alice", "host/svc.example.com", "HTTP/www.example.com"},
	})
}

// TestHeimdalKeyExchanges gets a TGT and a service ticket from Heimdal's KDC
// with each key exchange Heimdal 7.8 speaks (DH in MODP group 14, RSA key
// transport), writes the ccache, has Heimdal's heimtools klist and MIT's klist
// list it, and has Heimdal's kgetcred get another service ticket with the TGT.
func TestHeimdalKeyExchanges(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startHeimdal(t, p)
	svc, err := kinit.ServiceName("host/svc.example.com", realm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kx   kinit.KeyExchange
		want string // Result.KeyExchange.String()
	}{
		{"DH-2048", kinit.KeyExchange{Group: pkinit.MODPGroup14}, "DH-2048"},
		{"RSA", kinit.KeyExchange{RSA: true}, "RSA key transport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := p.aliceRequest(t, kdc.Addr)
			req.KeyExchange = tc.kx
			req.Services = []ccache.Principal{svc}
			res, err := run(t, newClient(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.KeyExchange.String(); got != tc.want {
				t.Errorf("key exchange %s, want %s", got, tc.want)
			}
			if len(res.Services) != 1 {
				t.Fatalf("%d service tickets, want 1", len(res.Services))
			}
			path := filepath.Join(t.TempDir(), "cc")
			if err := ccache.WriteFile(path, res.CCache()); err != nil {
				t.Fatal(err)
			}
			heim := kdc.Client(t, harness.HeimdalClientConfig{})
			out := harness.Run(t, heim.Command(t, "klist", "-c", "FILE:"+path))
			for _, want := range []string{"Principal: alice@" + realm, "krbtgt/" + realm + "@" + realm, "host/svc.example.com@" + realm} {
				if !strings.Contains(out, want) {
					t.Fatalf("heimtools klist lacks %q:\n%s", want, out)
				}
			}
			mit := harness.NewMITClient(t, harness.MITClientConfig{Realm: realm, KDCs: []string{kdc.Addr}})
			out = harness.Run(t, mit.Command(t, "klist", "-c", "FILE:"+path))
			for _, want := range []string{"Default principal: alice@" + realm, "krbtgt/" + realm + "@" + realm, "host/svc.example.com@" + realm} {
				if !strings.Contains(out, want) {
					t.Fatalf("MIT klist lacks %q:\n%s", want, out)
				}
			}
			// Heimdal's TGS client uses our TGT and its session key.
			harness.Run(t, heim.Command(t, "kgetcred", "-c", "FILE:"+path, "HTTP/www.example.com@"+realm))
			out = harness.Run(t, heim.Command(t, "klist", "-c", "FILE:"+path))
			if !strings.Contains(out, "HTTP/www.example.com@"+realm) {
				t.Fatalf("heimtools klist after kgetcred:\n%s", out)
			}
		})
	}
}

// TestHeimdalDocumentedLimits: Heimdal 7.8's KDC has neither MODP group 16
// nor ECDH. Asked for them it answers KRB_AP_ERR_BAD_INTEGRITY (31), as it
// does for any PA-PK-AS-REQ it fails to decode ("Failed to decode PKINIT
// PA-DATA"), not KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED, and sends no
// TD-DH-PARAMETERS to retry with. The client must give up with a KDCError
// that carries the code the KDC sent.
func TestHeimdalDocumentedLimits(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startHeimdal(t, p)
	for _, tc := range []struct {
		name string
		kx   kinit.KeyExchange
		log  string // what Heimdal's KDC logs
	}{
		{"DH-4096", kinit.KeyExchange{Group: pkinit.MODPGroup16}, "DH group parameter no ok"},
		{"ECDH-P256", kinit.KeyExchange{Curve: pkinit.CurveP256}, "Operation not supported"},
		{"ECDH-P384", kinit.KeyExchange{Curve: pkinit.CurveP384}, "Operation not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := p.aliceRequest(t, kdc.Addr)
			req.KeyExchange = tc.kx
			before := len(kdc.Process().Log())
			res, err := run(t, newClient(t), req)
			if err == nil {
				t.Fatalf("Heimdal 7.8 answered %s with a TGT (key exchange %s): has the peer grown it? Move the case to TestHeimdalKeyExchanges", tc.name, res.KeyExchange)
			}
			var kerr *kinit.KDCError
			if !errors.As(err, &kerr) {
				t.Fatalf("got %v, want a *kinit.KDCError", err)
			}
			t.Logf("Heimdal answered %d, e-text %q, e-data %s; error: %v", kerr.Code, kerr.Text, hex.EncodeToString(kerr.EData), err)
			if krberror.Code(kerr.Code) != krberror.APBadIntegrity {
				t.Errorf("code %d, want %d (KRB_AP_ERR_BAD_INTEGRITY, what Heimdal 7.8 sends)", kerr.Code, krberror.APBadIntegrity)
			}
			// The KDC's log reaches us through a pipe, after its reply.
			harness.WaitFor(t, kdc.Process(), 2*time.Second, func() error {
				if log := kdc.Process().Log()[before:]; !strings.Contains(log, tc.log) {
					return fmt.Errorf("Heimdal's KDC log lacks %q:\n%s", tc.log, log)
				}
				return nil
			})
		})
	}
}
