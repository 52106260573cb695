package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

// TestKinitPKCS12OpenSSL3Default: a .p12 made by OpenSSL 3's 'pkcs12
// -export' with its defaults (AES-256-CBC under PBES2/PBKDF2, SHA-256 MAC)
// logs on against MIT krb5kdc, the password read from stdin. A wrong
// password fails before any KDC is asked, and the error says what was wrong.
func TestKinitPKCS12OpenSSL3Default(t *testing.T) {
	e := newKinitEnv(t)
	openssl := harness.Require(t, "openssl", "openssl")
	p12 := filepath.Join(e.dir, "alice.p12")
	harness.Run(t, exec.Command(openssl, "pkcs12", "-export", "-in", e.cert, "-inkey", e.key, "-out", p12, "-passout", "pass:s3cret"))
	info := harness.Run(t, exec.Command(openssl, "pkcs12", "-info", "-noout", "-in", p12, "-passin", "pass:s3cret"))
	if !strings.Contains(info, "AES-256-CBC") || !strings.Contains(info, "sha256") {
		t.Fatalf("openssl did not write its default encoding:\n%s", info)
	}
	code, stdout, stderr := runKinitCmd(t, "s3cret\n", "-X", "X509_user_identity=PKCS12:"+p12, "--pin-stdin")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Fatal("the password leaked into the output")
	}
	out := harness.Run(t, e.mit.Command(t, "klist"))
	if !strings.Contains(out, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("MIT klist:\n%s", out)
	}
	// A KDC that cannot answer shows that the wrong password stops sclogon
	// before any request is sent.
	code, _, stderr = runKinitCmd(t, "wrong\n", "--identity", "PKCS12:"+p12, "--pin-stdin", "--kdc", "127.0.0.1:1", "--timeout", "200ms")
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: identity: wrong PKCS #12 password") ||
		!strings.Contains(stderr, "sclogon: hint: ") || strings.Contains(stderr, "KDC") {
		t.Fatalf("wrong password: exit %d:\n%s", code, stderr)
	}
}
