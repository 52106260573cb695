package kinit_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"path/filepath"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
)

const realm = "EXAMPLE.COM"

// testPKI is a CA with a KDC certificate and alice's logon certificate.
type testPKI struct {
	ca                  *pki.CA
	kdcCert             *x509.Certificate
	kdcKey              crypto.Signer
	aliceCert, aliceKey string // FILE: identity paths
	anchors             string // root.pem
}

func newPKI(t *testing.T, kdc pki.KDC) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return newPKIFromCA(t, ca, kdc)
}

// newPKIFromCA issues the KDC's and alice's certificates from ca.
func newPKIFromCA(t *testing.T, ca *pki.CA, kdc pki.KDC) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{ca: ca, anchors: ca.RootPath()}
	if kdc.Realm == "" {
		kdc.Realm = realm
	}
	p.kdcKey, p.kdcCert = issue(t, ca, pki.KDCProfile, kdc)
	key, cert := issue(t, ca, pki.UserProfile, pki.User{
		Principals:  []certs.PrincipalName{{NameType: 1, Name: []string{"alice"}, Realm: realm}},
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
	})
	p.aliceCert, p.aliceKey = filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := pki.WriteKeyAndCert(p.aliceKey, p.aliceCert, key, cert); err != nil {
		t.Fatal(err)
	}
	return p
}

func issue[T any](t *testing.T, ca *pki.CA, profile func(T) (pki.Profile, error), v T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile(v)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func (p *testPKI) kdcPEM(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := pki.MarshalKeyPEM(p.kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	return pki.CertPEM(p.kdcCert), k
}

func (p *testPKI) rootPEM() []byte { return pki.CertPEM(p.ca.Root()) }

// startMIT starts an MIT KDC for realm with alice (PKINIT only) and a host service.
func startMIT(t *testing.T, p *testPKI, lines ...string) *harness.MITKDC {
	t.Helper()
	certPEM, keyPEM := p.kdcPEM(t)
	return harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm: realm, KDCCertPEM: certPEM, KDCKeyPEM: keyPEM, AnchorsPEM: p.rootPEM(),
		Principals: []string{"+requires_preauth -nokey alice", "-randkey host/svc.example.com"},
		RealmLines: lines,
	})
}

// aliceRequest is a kinit request for alice with her FILE: identity.
func (p *testPKI) aliceRequest(t *testing.T, kdcs ...string) kinit.Request {
	t.Helper()
	id, err := identity.Parse("FILE:"+p.aliceCert+","+p.aliceKey, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policyWithAnchors(p.anchors)
	if err != nil {
		t.Fatal(err)
	}
	req := kinit.Request{
		Client:   ccache.Principal{NameType: 1, Components: []string{"alice"}, Realm: realm},
		Identity: id,
		Policy:   pol,
	}
	for _, k := range kdcs {
		req.KDCs = append(req.KDCs, transport.KDC{Addr: k})
	}
	return req
}

func policyWithAnchors(files ...string) (kinit.Policy, error) {
	var locs []string
	for _, f := range files {
		locs = append(locs, "FILE:"+f)
	}
	pool, err := kinit.LoadCertPool(locs)
	return kinit.Policy{Anchors: pool}, err
}

func newClient(t *testing.T) *kinit.Client {
	return &kinit.Client{
		Transport: &transport.Client{Timeout: 2 * time.Second},
		Trace:     func(f string, a ...any) { t.Logf("trace: "+f, a...) },
	}
}

func run(t *testing.T, c *kinit.Client, req kinit.Request) (*kinit.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Run(ctx, req)
}
