package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

type kinitEnv struct {
	kdc               *harness.MITKDC
	mit               *harness.MITClient
	cert, key, anchor string
	dir               string
}

func newKinitEnv(t *testing.T) *kinitEnv {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kdcKey, kdcCert := issueFor(t, ca, pki.KDCProfile, pki.KDC{Realm: "EXAMPLE.COM"})
	kdcKeyPEM, err := pki.MarshalKeyPEM(kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	key, cert := issueFor(t, ca, pki.UserProfile, pki.User{
		UPN:         "alice@EXAMPLE.COM",
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
	})
	e := &kinitEnv{dir: dir, cert: filepath.Join(dir, "alice.pem"), key: filepath.Join(dir, "alice.key"), anchor: ca.RootPath()}
	if err := pki.WriteKeyAndCert(e.key, e.cert, key, cert); err != nil {
		t.Fatal(err)
	}
	e.kdc = harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm: "EXAMPLE.COM", KDCCertPEM: pki.CertPEM(kdcCert), KDCKeyPEM: kdcKeyPEM, AnchorsPEM: pki.CertPEM(ca.Root()),
		Principals: []string{"+requires_preauth -nokey alice", "-randkey host/svc.example.com"},
	})
	// Our kinit reads the same krb5.conf as MIT's tools.
	e.mit = e.kdc.Client(t, harness.MITClientConfig{AnchorsPEM: pki.CertPEM(ca.Root())})
	t.Setenv("KRB5_CONFIG", e.mit.Config)
	t.Setenv("KRB5CCNAME", "FILE:"+e.mit.CCache)
	return e
}

func issueFor[T any](t *testing.T, ca *pki.CA, profile func(T) (pki.Profile, error), v T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile(v)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), p)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func runKinitCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, errOut: &errOut}, append([]string{"kinit"}, args...))
	return code, out.String(), errOut.String()
}

// TestKinitFileIdentityMIT: `sclogon kinit --identity FILE:` against MIT
// krb5kdc, principal from the certificate's UPN; MIT klist lists the ccache
// and MIT kvno gets a service ticket with it.
func TestKinitFileIdentityMIT(t *testing.T) {
	e := newKinitEnv(t)
	code, _, stderr := runKinitCmd(t, "", "--identity", "FILE:"+e.cert+","+e.key, "-V")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	out := harness.Run(t, e.mit.Command(t, "klist"))
	if !strings.Contains(out, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("klist:\n%s", out)
	}
	harness.Run(t, e.mit.Command(t, "kvno", "host/svc.example.com"))
	if st, err := os.Stat(e.mit.CCache); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ccache %v %v", st, err)
	}
}

// TestKinitPKCS12ServiceJSON: a PKCS #12 identity with its password on stdin
// (-X syntax), --service-ticket, -c and --json.
func TestKinitPKCS12ServiceJSON(t *testing.T) {
	e := newKinitEnv(t)
	openssl := harness.Require(t, "openssl", "openssl")
	p12 := filepath.Join(e.dir, "alice.p12")
	cmd := exec.Command(openssl, "pkcs12", "-export", "-in", e.cert, "-inkey", e.key, "-out", p12,
		"-passout", "pass:s3cret", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")
	harness.Run(t, cmd)
	cc := filepath.Join(e.dir, "cc")
	code, stdout, stderr := runKinitCmd(t, "s3cret\n", "-X", "X509_user_identity=PKCS12:"+p12, "--pin-stdin",
		"-c", "FILE:"+cc, "--service-ticket", "host/svc.example.com", "--json", "--dh", "4096", "alice")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "s3cret") || strings.Contains(stdout, "s3cret") {
		t.Fatal("the password leaked into the output")
	}
	var got kinitJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if got.Client != "alice@EXAMPLE.COM" || got.KeyExchange != "DH-4096" || len(got.Tickets) != 2 || got.Tickets[1].Server != "host/svc.example.com@EXAMPLE.COM" {
		t.Fatalf("json: %+v", got)
	}
	out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
	if !strings.Contains(out, "host/svc.example.com@EXAMPLE.COM") {
		t.Fatalf("klist:\n%s", out)
	}
	// A wrong password is a sentence, not a stack of wrapped errors.
	code, _, stderr = runKinitCmd(t, "wrong\n", "--identity", "PKCS12:"+p12, "--pin-stdin")
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: ") || !strings.Contains(stderr, "sclogon: hint: ") {
		t.Fatalf("wrong password: exit %d:\n%s", code, stderr)
	}
}

// TestKinitErrorsAreSentences: a refused reply and an unknown principal each
// give an error line and a hint.
func TestKinitErrorsAreSentences(t *testing.T) {
	e := newKinitEnv(t)
	other, err := pki.Init(filepath.Join(e.dir, "other"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		want, hint string
	}{
		{[]string{"--anchors", "FILE:" + other.RootPath()}, "the KDC's certificate is not trusted", "pkinit_anchors"},
		{[]string{"mallory"}, "the KDC has no account for this principal", "spelling"},
		{[]string{"--kdc", "127.0.0.1:1", "--timeout", "200ms"}, "no KDC answered", "--kdc"},
	} {
		args := append([]string{"--identity", "FILE:" + e.cert + "," + e.key}, tc.args...)
		code, _, stderr := runKinitCmd(t, "", args...)
		if code != exitFail || !strings.Contains(stderr, "sclogon: error: ") || !strings.Contains(stderr, tc.want) ||
			!strings.Contains(stderr, "sclogon: hint: ") || !strings.Contains(stderr, tc.hint) {
			t.Errorf("%v: exit %d:\n%s", tc.args, code, stderr)
		}
	}
}

func TestKinitUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--dh", "1000", "--identity", "FILE:x"},
		{"--dh", "2048", "--rsa-key-transport"},
		{"-X", "X509_bogus=1"},
		{"a", "b"},
		{"--no-such-flag"},
		{"-f", "-F"},
		{"-p", "-P"},
		{"-R", "-v"},
		{"-l", "0"},
		{"-l", "1w"},
		{"-r", "-1h"},
		{"-s", "yesterday"},
	} {
		code, _, stderr := runKinitCmd(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "usage: sclogon kinit") {
			t.Errorf("%v: exit %d:\n%s", args, code, stderr)
		}
	}
	// Without --identity the card is used; a reader that does not exist
	// (or no pcscd) is explained.
	code, _, stderr := runKinitCmd(t, "", "--reader", "No Such Reader 00 00", "alice@EXAMPLE.COM")
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: pcsc: ") || !strings.Contains(stderr, "--reader") {
		t.Errorf("no identity: exit %d:\n%s", code, stderr)
	}
}
