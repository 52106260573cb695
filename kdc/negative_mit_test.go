package kdc_test

import (
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// mitKinitFails runs MIT kinit with u's FILE identity, expects it to fail with
// MIT's text for the code, and checks the KDC's audit record of the attempt.
func mitKinitFails(t *testing.T, f *pkiFixture, k *runningKDC, u user, principal, mitText string, code krberror.Code, reason string) {
	t.Helper()
	// MIT checks its own certificate's path before it signs: it trusts the
	// stranger's root too.
	c := harness.NewMITClient(t, harness.MITClientConfig{
		Realm:      realm,
		KDCs:       []string{k.addr},
		AnchorsPEM: append(pki.CertPEM(f.ca.Root()), pki.CertPEM(f.other.Root())...),
		RealmLines: []string{"pkinit_pool = FILE:" + f.ca.IssuerPath()},
	})
	out, err := harness.RunErr(c.Command(t, "kinit", "-X", "X509_user_identity=FILE:"+u.certPath+","+u.keyPath, principal+"@"+realm))
	if err == nil {
		t.Fatalf("kinit succeeded:\n%s", out)
	}
	if !strings.Contains(out, mitText) {
		t.Fatalf("kinit says %q, want %q", strings.TrimSpace(out), mitText)
	}
	rec := lastAS(t, k)
	if rec.Code != code || !strings.Contains(rec.Reason, reason) {
		t.Fatalf("audit record %+v, want code %d and a reason with %q", rec, code, reason)
	}
	if rec.SHA256 == "" || rec.Subject == "" || rec.Issuer == "" || rec.Serial == "" {
		t.Errorf("audit record lacks the certificate: %+v", rec)
	}
}

// TestNegativeMIT is the part of the negative suite MIT kinit can express:
// each refusal reaches kinit as the RFC 4556 code, which kinit prints as its
// error-table text.
func TestNegativeMIT(t *testing.T) {
	harness.Require(t, "kinit", "krb5-user")
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	t.Run("ca-missing-from-ntauth", func(t *testing.T) {
		mitKinitFails(t, f, k, f.users["stranger"], "alice", "Client not trusted", krberror.ClientNotTrusted, "NTAuth")
	})
	t.Run("unknown-ca", func(t *testing.T) {
		cfg := f.config(t)
		cfg.Anchors = cfg.Anchors[:1]
		k := startKDC(t, cfg, kdc.Options{})
		mitKinitFails(t, f, k, f.users["stranger"], "alice", "Can't verify certificate", krberror.CantVerifyCertificate, "trusted root")
	})
	// An expired certificate MIT kinit does not send: it checks its own
	// certificate first ("Failed to verify own certificate"). The crafted
	// client of TestNegativeCrafted sends one.
	t.Run("wrong-eku", func(t *testing.T) {
		mitKinitFails(t, f, k, f.users["wrongeku"], "alice", "Inconsistent key purpose", krberror.InconsistentKeyPurpose, "EKU")
	})
	t.Run("account-disabled", func(t *testing.T) {
		mitKinitFails(t, f, k, f.users["dave"], "dave", "Client's credentials have been revoked", 18, "disabled")
	})
}

// ocspFixture is a responder for the fixture's CA on loopback and a user
// certificate of alice's that the test may revoke.
func ocspFixture(t *testing.T, f *pkiFixture) (url string, victim user, stop func()) {
	t.Helper()
	resp, err := pki.NewResponder(f.ca, pki.ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: resp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Close()
		}
	}
	t.Cleanup(stop)
	alice := f.users["alice"]
	key, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
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
	victim = user{cert: cert, key: key, sid: alice.sid, certPath: filepath.Join(dir, "v.pem"), keyPath: filepath.Join(dir, "v.key")}
	if err := pki.WriteKeyAndCert(victim.keyPath, victim.certPath, key, cert); err != nil {
		t.Fatal(err)
	}
	return "http://" + ln.Addr().String() + "/", victim, stop
}

func ocspConfig(f *pkiFixture, t *testing.T, mode kdc.OCSPMode, url string) kdc.Config {
	cfg := f.config(t)
	cfg.OCSP = mode
	cfg.OCSPPolicy = revocation.Policy{ResponderURL: url, Timeout: 2 * time.Second}
	return cfg
}

// TestOCSP: with hard-fail OCSP a good certificate logs on, a revoked one is
// refused with KDC_ERR_REVOKED_CERTIFICATE (seen by MIT kinit as "Revoked
// certificate"), and a responder that is down gives
// KDC_ERR_REVOCATION_STATUS_UNKNOWN; soft-fail lets that logon through and
// logs it.
func TestOCSP(t *testing.T) {
	harness.Require(t, "kinit", "krb5-user")
	f := getFixture(t)
	url, victim, stop := ocspFixture(t, f)
	hard := startKDC(t, ocspConfig(f, t, kdc.OCSPHard, url), kdc.Options{})
	asRequest{user: victim}.build(t).asOK(t, hard.addr)

	if _, err := f.ca.Revoke(victim.cert.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	hard = startKDC(t, ocspConfig(f, t, kdc.OCSPHard, url), kdc.Options{}) // a cold OCSP cache
	r := send(t, hard.addr, asRequest{user: victim}.build(t).msg)
	wantError(t, hard, r, krberror.RevokedCertificate, "revoked")
	if got := typedDataTypes(t, r.err.EData); len(got) != 1 || got[0] != pkinit.TDInvalidCertificates {
		t.Errorf("e-data %v, want TD-INVALID-CERTIFICATES", got)
	}
	mitKinitFails(t, f, hard, victim, "alice", "Revoked certificate", krberror.RevokedCertificate, "revoked")

	stop()
	hard = startKDC(t, ocspConfig(f, t, kdc.OCSPHard, url), kdc.Options{})
	r = send(t, hard.addr, asRequest{user: f.users["alice"]}.build(t).msg)
	wantError(t, hard, r, krberror.RevocationStatusUnknown, "revocation status")

	var logs harness.Buffer
	soft := startKDC(t, ocspConfig(f, t, kdc.OCSPSoft, url), kdc.Options{Log: newTextLog(&logs)})
	asRequest{user: f.users["alice"]}.build(t).asOK(t, soft.addr)
	if !strings.Contains(logs.String(), "accepted under soft-fail") {
		t.Errorf("soft-fail logon not logged:\n%s", logs.String())
	}
	if rec := lastAS(t, soft); rec.Result != "ok" || !strings.Contains(rec.Revocation, "unknown") {
		t.Errorf("audit record of the soft-fail logon: %+v", rec)
	}
}

func newTextLog(w *harness.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
