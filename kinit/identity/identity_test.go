package identity_test

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
)

var _ kinit.Identity = (*identity.Software)(nil)

func writePair(t *testing.T, kt pki.KeyType) (dir, cert, key string) {
	t.Helper()
	dir = t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{KeyType: pki.P256})
	if err != nil {
		t.Fatal(err)
	}
	k, err := pki.GenerateKey(kt, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := pki.UserProfile(pki.User{UPN: "alice@EXAMPLE.COM"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(k.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := pki.WriteKeyAndCert(key, cert, k, c); err != nil {
		t.Fatal(err)
	}
	return dir, cert, key
}

func TestFile(t *testing.T) {
	dir, cert, key := writePair(t, pki.P256)
	id, err := identity.Parse("FILE:"+cert+","+key, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if id.Certificate().Subject.CommonName != "alice" || id.Label() != "FILE:"+cert+","+key {
		t.Fatalf("%v %s", id.Certificate().Subject, id.Label())
	}
	if _, ok := id.Decrypter(); ok {
		t.Error("an ECDSA key claims to decrypt")
	}
	// Key and certificate in one file.
	both := filepath.Join(dir, "both.pem")
	c, _ := os.ReadFile(cert)
	k, _ := os.ReadFile(key)
	if err := os.WriteFile(both, append(k, c...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Parse("FILE:"+both, identity.Options{}); err != nil {
		t.Fatal(err)
	}
	// Another key is refused.
	_, _, other := writePair(t, pki.P256)
	if _, err := identity.Parse("FILE:"+cert+","+other, identity.Options{}); !errors.Is(err, identity.ErrKeyMismatch) {
		t.Fatalf("got %v, want ErrKeyMismatch", err)
	}
}

func TestSyntax(t *testing.T) {
	for _, s := range []string{"", "cert.pem", "PKCS11:module_name=opensc-pkcs11.so", "DIR:/etc", "ENV:X", "FILE:"} {
		if _, err := identity.Parse(s, identity.Options{}); !errors.Is(err, identity.ErrSyntax) {
			t.Errorf("%q: got %v, want ErrSyntax", s, err)
		}
	}
}

func TestPKCS12(t *testing.T) {
	dir, cert, key := writePair(t, pki.RSA2048)
	openssl := harness.Require(t, "openssl", "openssl")
	p12 := filepath.Join(dir, "a.p12")
	harness.Run(t, exec.Command(openssl, "pkcs12", "-export", "-in", cert, "-inkey", key, "-out", p12,
		"-passout", "pass:pw", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"))
	asked := 0
	pw := func(string) ([]byte, error) { asked++; return []byte("pw"), nil }
	id, err := identity.Parse("PKCS12:"+p12, identity.Options{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("asked %d times", asked)
	}
	if _, ok := id.Decrypter(); !ok {
		t.Error("an RSA key cannot decrypt")
	}
	wrong := func(string) ([]byte, error) { return []byte("nope"), nil }
	if _, err := identity.Parse("PKCS12:"+p12, identity.Options{Password: wrong}); !errors.Is(err, identity.ErrBadPassword) {
		t.Fatalf("got %v, want ErrBadPassword", err)
	}
	if _, err := identity.Parse("PKCS12:"+p12, identity.Options{}); !errors.Is(err, identity.ErrBadPassword) {
		t.Fatalf("no prompt: got %v, want ErrBadPassword", err)
	}
}

// TestPKCS12OpenSSL3Default: a file made by OpenSSL 3's 'pkcs12 -export'
// without legacy flags (PBES2 with AES-256-CBC and PBKDF2, SHA-256 MAC), with
// a CA certificate with the user's, opens; the CA certificate becomes
// the chain, and a wrong password is ErrBadPassword.
func TestPKCS12OpenSSL3Default(t *testing.T) {
	dir, cert, key := writePair(t, pki.RSA2048)
	openssl := harness.Require(t, "openssl", "openssl")
	ca := filepath.Join(dir, "ca.pem")
	harness.Run(t, exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-keyout", filepath.Join(dir, "ca.key"), "-subj", "/CN=Other CA", "-days", "1", "-out", ca))
	p12 := filepath.Join(dir, "modern.p12")
	harness.Run(t, exec.Command(openssl, "pkcs12", "-export", "-in", cert, "-inkey", key, "-certfile", ca,
		"-out", p12, "-passout", "pass:pw"))
	dump := harness.Run(t, exec.Command(openssl, "pkcs12", "-info", "-in", p12, "-passin", "pass:pw", "-noout"))
	if !strings.Contains(dump, "AES-256-CBC") || !strings.Contains(dump, "sha256") {
		t.Fatalf("not OpenSSL 3's default encoding:\n%s", dump)
	}
	pw := func(string) ([]byte, error) { return []byte("pw"), nil }
	id, err := identity.Parse("PKCS12:"+p12, identity.Options{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if id.Certificate().Subject.CommonName == "Other CA" {
		t.Fatal("the CA certificate was taken for the user's")
	}
	if chain := id.Chain(); len(chain) != 1 || chain[0].Subject.CommonName != "Other CA" {
		t.Fatalf("chain: %v", chain)
	}
	wrong := func(string) ([]byte, error) { return []byte("nope"), nil }
	if _, err := identity.Parse("PKCS12:"+p12, identity.Options{Password: wrong}); !errors.Is(err, identity.ErrBadPassword) {
		t.Fatalf("got %v, want ErrBadPassword", err)
	}
}
