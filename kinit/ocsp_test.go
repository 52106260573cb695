package kinit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit"
)

// TestKDCOCSPRequire: with --kdc-ocsp require the client asks the KDC
// certificate's OCSP responder (from its AIA) and refuses a revoked KDC
// certificate, or one whose status it cannot learn; the default (stapled
// responses only) does not query the responder.
func TestKDCOCSPRequire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), pki.InitOptions{OCSPURL: url})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKIFromCA(t, ca, pki.KDC{Realm: realm})
	responder, err := pki.NewResponder(ca, pki.ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: responder}
	go srv.Serve(ln)
	defer srv.Close()
	kdc := startMIT(t, p)

	logon := func(mode kinit.OCSPMode) error {
		req := p.aliceRequest(t, kdc.Addr)
		req.Policy.OCSP = mode
		_, err := run(t, newClient(t), req)
		return err
	}
	if err := logon(kinit.OCSPRequire); err != nil {
		t.Fatalf("good KDC certificate: %v", err)
	}
	if _, err := ca.Revoke(p.kdcCert.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := logon(kinit.OCSPRequire); !errors.Is(err, kinit.ErrKDCRevoked) {
		t.Fatalf("revoked KDC certificate: %v, want ErrKDCRevoked", err)
	}
	srv.Shutdown(context.Background())
	if err := logon(kinit.OCSPRequire); !errors.Is(err, kinit.ErrKDCRevoked) {
		t.Fatalf("responder down under require: %v, want ErrKDCRevoked", err)
	}
	if err := logon(kinit.OCSPStapled); err != nil {
		t.Fatalf("responder down, stapled-only policy, no staple: %v", err)
	}
}
