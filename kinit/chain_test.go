package kinit_test

import (
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
)

// TestSendsChainFromPool: alice's certificate comes from an issuing CA under
// the users' root, and MIT's KDC trusts only that root (its own certificate
// comes from a second root it also trusts), as in an AD-style PKI. With the
// issuing CA in pkinit_pool the client sends it and the logon succeeds;
// without it the KDC cannot build alice's path and refuses.
func TestSendsChainFromPool(t *testing.T) {
	dir := t.TempDir()
	users, err := pki.Init(filepath.Join(dir, "users"), pki.InitOptions{Name: "Users Root", Intermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	kdcs, err := pki.Init(filepath.Join(dir, "kdcs"), pki.InitOptions{Name: "KDC Root"})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKIFromCA(t, users, pki.KDC{Realm: realm})
	p.kdcKey, p.kdcCert = issue(t, kdcs, pki.KDCProfile, pki.KDC{Realm: realm})
	certPEM, keyPEM := p.kdcPEM(t)
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm: realm, KDCCertPEM: certPEM, KDCKeyPEM: keyPEM,
		AnchorsPEM: append(pki.CertPEM(users.Root()), pki.CertPEM(kdcs.Root())...), // no pkinit_pool
		Principals: []string{"+requires_preauth -nokey alice"},
	})
	request := func(pool bool) kinit.Request {
		req := p.aliceRequest(t, kdc.Addr)
		req.Policy.Anchors = x509.NewCertPool()
		req.Policy.Anchors.AddCert(kdcs.Root())
		req.Policy.Intermediates = nil
		if pool {
			req.Policy.Intermediates = x509.NewCertPool()
			req.Policy.Intermediates.AddCert(users.Issuer())
		}
		return req
	}
	if _, err := run(t, newClient(t), request(true)); err != nil {
		t.Fatalf("with the issuing CA in pkinit_pool: %v", err)
	}
	_, err = run(t, newClient(t), request(false))
	var ke *kinit.KDCError
	if !errors.As(err, &ke) {
		t.Fatalf("without pkinit_pool: %v, want the KDC to refuse", err)
	}
}
