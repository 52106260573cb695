package kdc_test

import (
	"crypto/rand"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
)

// TestOCSPSoftRevokedStaysRefused: with ocsp = soft, a certificate the KDC
// has seen revoked is still refused once the answer has expired and the
// responder is down, while a certificate never seen revoked logs on under
// soft-fail.
func TestOCSPSoftRevokedStaysRefused(t *testing.T) {
	f := getFixture(t)
	resp, err := pki.NewResponder(f.ca, pki.ResponderOptions{Validity: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: resp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	victim := newAliceCertificate(t, f)
	if _, err := f.ca.Revoke(victim.cert.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.OCSP = kdc.OCSPSoft
	cfg.OCSPPolicy = revocation.Policy{ResponderURL: "http://" + ln.Addr().String() + "/", Timeout: 2 * time.Second}
	k := startKDC(t, cfg, kdc.Options{})

	r := send(t, k.addr, asRequest{user: victim}.build(t).msg)
	wantError(t, k, r, krberror.RevokedCertificate, "revoked")

	srv.Close()
	time.Sleep(2100 * time.Millisecond) // past nextUpdate: thisUpdate is whole seconds, validity 1 s
	r = send(t, k.addr, asRequest{user: victim}.build(t).msg)
	wantError(t, k, r, krberror.RevokedCertificate, "revoked")

	asRequest{user: f.users["alice"]}.build(t).asOK(t, k.addr)
	if rec := lastAS(t, k); rec.Revocation != "unknown (soft-fail)" {
		t.Errorf("never-revoked certificate, responder down: revocation %q, want soft-fail", rec.Revocation)
	}
}

// newAliceCertificate is a further logon certificate of alice's, for a test
// that revokes it.
func newAliceCertificate(t *testing.T, f *pkiFixture) user {
	t.Helper()
	alice := f.users["alice"]
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := pki.UserProfile(pki.User{UPN: "alice@example.com", SID: alice.sid})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	u := user{cert: cert, key: key, sid: alice.sid, certPath: filepath.Join(dir, "v.pem"), keyPath: filepath.Join(dir, "v.key")}
	if err := pki.WriteKeyAndCert(u.keyPath, u.certPath, key, cert); err != nil {
		t.Fatal(err)
	}
	return u
}
