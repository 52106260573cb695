//go:build cgo

package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/internal/softhsm"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// tokenEnv is our KDC for EXAMPLE.COM (alice mapped by her certificates'
// SID extension, as a domain controller does) and a SoftHSM token holding
// alice's RSA-2048 key (CKA_ID 01) and P-256 key (CKA_ID 02) with their
// certificates, both from the KDC's CA.
type tokenEnv struct {
	tok *softhsm.Token
	kdc *kdc.Running
	mit *harness.MITClient
	ca  *pki.CA
}

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kdcKey, kdcCert := issueFor(t, ca, pki.KDCProfile, pki.KDC{Realm: "EXAMPLE.COM"})
	sid, err := certs.NewSID(5, 21, 1, 2, 3, 1104)
	if err != nil {
		t.Fatal(err)
	}
	e := &tokenEnv{tok: softhsm.New(t, "alice-token"), ca: ca}
	for i, kt := range []pki.KeyType{pki.RSA2048, pki.P256} {
		key, cert := issueKey(t, ca, kt, pki.User{UPN: "alice@EXAMPLE.COM", SID: sid})
		e.tok.Import(t, []byte{byte(i + 1)}, fmt.Sprintf("alice %d", i+1), key, cert)
	}
	entry := fmt.Sprintf("dn: cn=alice,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: alice\nsn: a\nsAMAccountName: alice\nuserPrincipalName: alice@EXAMPLE.COM\nobjectSid:: %s\nuserAccountControl: 512\n",
		base64.StdEncoding.EncodeToString(sid.Marshal()))
	directory, err := ldif.Read(strings.NewReader(entry))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(kdc.Config{
		Realm: "EXAMPLE.COM", StateDir: filepath.Join(dir, "kdc"),
		Certificate: []*x509.Certificate{kdcCert}, Key: kdcKey,
		Anchors: []*x509.Certificate{ca.Root()}, NTAuth: []*x509.Certificate{ca.Issuer()},
		Directory: directory, Mapping: mapping.Policy{SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP: kdc.OCSPOff,
	}, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if e.kdc, err = kdc.Start(k, []string{"127.0.0.1:0"}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.kdc.Stop() })
	e.mit = harness.NewMITClient(t, harness.MITClientConfig{Realm: "EXAMPLE.COM", KDCs: []string{e.kdc.Addr()}, AnchorsPEM: pki.CertPEM(ca.Root())})
	t.Setenv("KRB5_CONFIG", e.mit.Config)
	t.Setenv("KRB5CCNAME", "FILE:"+e.mit.CCache)
	return e
}

func issueKey(t *testing.T, ca *pki.CA, kt pki.KeyType, u pki.User) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey(kt, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pki.UserProfile(u)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), p)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// spec is the MIT identity string of the token, through module.
func (e *tokenEnv) spec(module, certid string) string {
	return "PKCS11:module_name=" + module + ":token=alice-token:certid=" + certid
}

// TestKinitPKCS11 is issue 18's SoftHSM acceptance against our KDC: `sclogon
// kinit -X X509_user_identity=PKCS11:…` with the PIN on stdin gets a TGT with
// DH (RSA key), ECDH (P-256 key) and RSA key transport, and MIT kinit with
// the same string gets one from the same KDC.
func TestKinitPKCS11(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		name, certid, kx string
		args             []string
	}{
		{"DH", "01", "DH-2048", []string{"-V"}},
		{"ECDH", "02", "ECDH P-256", []string{"--ecdh", "P-256"}},
		{"RSA", "01", "RSA key transport", []string{"--rsa-key-transport"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := filepath.Join(t.TempDir(), "cc")
			args := append([]string{"-X", "X509_user_identity=" + e.spec(softhsm.Module, tc.certid), "--pin-stdin", "--json", "-c", "FILE:" + cc}, tc.args...)
			code, stdout, stderr := runKinitCmd(t, e.tok.PIN+"\n", append(args, "alice")...)
			if code != exitOK {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			for _, line := range strings.Split(stderr, "\n") {
				if strings.Contains(line, "PKCS #11 calls") {
					t.Log(line)
				}
			}
			if strings.Contains(stdout+stderr, e.tok.PIN) {
				t.Fatal("the PIN leaked into the output")
			}
			var got kinitJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v:\n%s", err, stdout)
			}
			if got.Client != "alice@EXAMPLE.COM" || !strings.HasPrefix(got.KeyExchange, tc.kx) {
				t.Fatalf("json: %+v", got)
			}
			out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
			if !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Fatalf("klist:\n%s", out)
			}
		})
	}
	t.Run("MIT kinit", func(t *testing.T) {
		kinit := e.mit.Command(t, "kinit", "-X", "X509_user_identity="+e.spec(softhsm.Module, "01"), "alice@EXAMPLE.COM")
		kinit.Stdin = strings.NewReader(e.tok.PIN + "\n")
		harness.Run(t, kinit)
		out := harness.Run(t, e.mit.Command(t, "klist"))
		if !strings.Contains(out, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
			t.Fatalf("klist:\n%s", out)
		}
	})
}

// TestKinitPKCS11PIN: a wrong PIN is one C_Login and says what the token's
// flags say ("low" for SoftHSM); a locked token gets no C_Login and says so;
// a final try is warned about before the PIN is asked.
func TestKinitPKCS11PIN(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		name   string
		flags  uint
		pin    string
		logins int
		want   []string
	}{
		{"wrong PIN", 0, "999999", 1, []string{`sclogon: error: token "alice-token" refused the PIN (tries left: low)`, "sclogon: hint: the PIN was not retried"}},
		{"final try", p11.CKF_USER_PIN_FINAL_TRY, "999999", 1, []string{"sclogon: warning: this is the last PIN try", "final try"}},
		{"locked", p11.CKF_USER_PIN_LOCKED, e.tok.PIN, 0, []string{`sclogon: error: token "alice-token"'s PIN is locked (no PIN was sent to the token)`, "SO PIN"}},
		{"PIN pad", p11.CKF_PROTECTED_AUTHENTICATION_PATH, e.tok.PIN, 0, []string{"protected authentication path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shim := e.tok.NewShim(t, tc.flags)
			code, _, stderr := runKinitCmd(t, tc.pin+"\n", "-X", "X509_user_identity="+e.spec(shim.Module, "01"), "--pin-stdin", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"), "alice")
			if code != exitFail {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("no %q in:\n%s", w, stderr)
				}
			}
			if n := shim.Logins(t); n != tc.logins {
				t.Errorf("%d C_Login calls, want %d", n, tc.logins)
			}
		})
	}
}

// TestKinitPKCS11Choice: the logon rules and the choice apply to a token's
// certificates; an identity that matches none, an unknown token and an
// unknown attribute are sentences with hints.
func TestKinitPKCS11Choice(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		spec, want, hint string
		code             int
	}{
		{"PKCS11:module_name=" + softhsm.Module + ":token=alice-token", "several certificates may log on", "", exitFail},
		{"PKCS11:module_name=" + softhsm.Module + ":token=alice-token:certlabel=bob", "no certificate on the token matches the identity", "certlabel=", exitFail},
		{"PKCS11:module_name=" + softhsm.Module + ":token=bob-token", `no token found in ` + softhsm.Module + ` with label "bob-token"`, "pkcs11-tool", exitFail},
		{"PKCS11:module_name=/nonexistent.so", "cannot load the module", "module_name=", exitFail},
		{"PKCS11:slot=1", `unknown attribute "slot"`, "PKCS11:", exitFail},
	} {
		code, _, stderr := runKinitCmd(t, e.tok.PIN+"\n", "-X", "X509_user_identity="+tc.spec, "--pin-stdin", "alice")
		if code != tc.code || !strings.Contains(strings.ToLower(stderr), strings.ToLower(tc.want)) || (tc.hint != "" && !strings.Contains(stderr, "sclogon: hint: ")) || !strings.Contains(stderr, tc.hint) {
			t.Errorf("%s: exit %d:\n%s", tc.spec, code, stderr)
		}
	}
}
