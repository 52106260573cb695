//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/internal/softhsm"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/pam"
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
	s := startSIDKDC(t)
	e := &tokenEnv{tok: softhsm.New(t, "alice-token"), ca: s.ca, kdc: s.kdc, mit: s.mit}
	for i, kt := range []pki.KeyType{pki.RSA2048, pki.P256} {
		key, cert := issueKey(t, s.ca, kt, pki.User{UPN: "alice@EXAMPLE.COM", SID: s.sid})
		e.tok.Import(t, []byte{byte(i + 1)}, fmt.Sprintf("alice %d", i+1), key, cert)
	}
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
		{"locked", p11.CKF_USER_PIN_LOCKED, e.tok.PIN, 0, []string{`sclogon: error: token "alice-token"'s PIN is locked (no PIN was sent to the token)`, "SO PIN: 'sclogon pin unblock"}},
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

// TestKinitPKCS11PINPad: a token with a protected authentication path is
// logged in with one C_Login and a NULL PIN, nothing is read from stdin,
// and the person is told to enter the PIN on the device; a wrong PIN typed
// there is the token's refusal, not retried.
func TestKinitPKCS11PINPad(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		name, pad string
		code      int
		want      string
	}{
		{"right PIN", e.tok.PIN, exitOK, "ticket for alice@EXAMPLE.COM stored"},
		{"wrong PIN", "999999", exitFail, `sclogon: error: token "alice-token" refused the PIN`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shim := e.tok.NewShim(t, p11.CKF_PROTECTED_AUTHENTICATION_PATH)
			shim.PINPad(t, tc.pad)
			code, _, stderr := runKinitCmd(t, "", "-X", "X509_user_identity="+e.spec(shim.Module, "02"), "--pin-stdin", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"), "alice")
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, `sclogon: enter the PIN for alice@EXAMPLE.COM on the PIN pad or fingerprint reader of token "alice-token"`) {
				t.Errorf("no word of the PIN pad:\n%s", stderr)
			}
			if log := shim.LoginLog(t); len(log) != 1 || log[0] != "C_Login 1 null" {
				t.Errorf("logins %q", log)
			}
		})
	}
}

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, errOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestPINTokenShortPIN: 'sclogon pin change' on a token sets a 4-digit PIN
// (SoftHSM takes 4 to 255), which PIV's 6-to-8 rule would refuse; kinit then
// logs on with it; 'sclogon pin unblock' with the SO PIN sets another.
func TestPINTokenShortPIN(t *testing.T) {
	e := newTokenEnv(t)
	x := "X509_user_identity=" + e.spec(softhsm.Module, "01")
	if code, _, stderr := runCmd(t, e.tok.PIN+"\n1234\n", "pin", "change", "-X", x, "--pin-stdin"); code != exitOK || !strings.Contains(stderr, `the PIN of token "alice-token" is changed`) {
		t.Fatalf("change: exit %d:\n%s", code, stderr)
	}
	code, _, stderr := runKinitCmd(t, "1234\n", "-X", x, "--pin-stdin", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"), "alice")
	if code != exitOK {
		t.Fatalf("kinit with a 4-digit PIN: exit %d:\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "123\n", "pin", "change", "-X", x, "--pin-stdin"); code != exitFail || !strings.Contains(stderr, "takes a PIN of 4 to 255 characters, not 3") {
		t.Fatalf("a 3-digit PIN: exit %d:\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "99999999\n4321\n", "pin", "unblock", "-X", x, "--pin-stdin"); code != exitFail || !strings.Contains(stderr, `token "alice-token" refused the SO PIN`) {
		t.Fatalf("unblock with a wrong SO PIN: exit %d:\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(t, e.tok.SOPIN+"\n4321\n", "pin", "unblock", "-X", x, "--pin-stdin"); code != exitOK || !strings.Contains(stderr, "is set and unlocked") {
		t.Fatalf("unblock: exit %d:\n%s", code, stderr)
	}
	if code, _, stderr := runKinitCmd(t, "4321\n", "-X", x, "--pin-stdin", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"), "alice"); code != exitOK {
		t.Fatalf("kinit with the unblocked PIN: exit %d:\n%s", code, stderr)
	}
}

// TestPINTokenStatus: 'sclogon pin status' says what the token's flags say.
func TestPINTokenStatus(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		flags uint
		want  string
	}{
		{0, "the PIN is not locked (the token does not count tries left)"},
		{p11.CKF_USER_PIN_COUNT_LOW, "tries left: low"},
		{p11.CKF_USER_PIN_FINAL_TRY, "final try: one more wrong PIN locks the token"},
		{p11.CKF_USER_PIN_LOCKED, "the PIN is locked; its security officer unlocks it with 'sclogon pin unblock'"},
		{p11.CKF_PROTECTED_AUTHENTICATION_PATH, "entered on the token's PIN pad or fingerprint reader"},
	} {
		shim := e.tok.NewShim(t, tc.flags)
		code, stdout, stderr := runCmd(t, "", "pin", "status", "--identity", e.spec(shim.Module, "01"))
		if code != exitOK || !strings.HasPrefix(stdout, "alice-token (PKCS #11 slot ") || !strings.Contains(stdout, tc.want) {
			t.Errorf("flags %#x: exit %d: %s%s", tc.flags, code, stdout, stderr)
		}
		if n := shim.Logins(t); n != 0 {
			t.Errorf("status sent %d C_Login", n)
		}
	}
	shim := e.tok.NewShim(t, p11.CKF_PROTECTED_AUTHENTICATION_PATH)
	if code, _, stderr := runCmd(t, "", "pin", "change", "--identity", e.spec(shim.Module, "01"), "--pin-stdin"); code != exitFail || !strings.Contains(stderr, "device's own tool") {
		t.Errorf("change on a PIN pad: exit %d:\n%s", code, stderr)
	}
}

// TestCertsToken: 'sclogon certs -X X509_user_identity=PKCS11:…' lists the
// token's certificates with the same verdicts as a card's; with no -X, the
// tokens of krb5.conf's pkinit_identities are listed.
func TestCertsToken(t *testing.T) {
	e := newTokenEnv(t)
	check := func(args ...string) {
		t.Helper()
		code, stdout, stderr := runCmd(t, "", append([]string{"certs", "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		var got []certsJSON
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		var tok *certsJSON
		for i := range got {
			if strings.HasPrefix(got[i].Reader, "alice-token (PKCS #11 slot ") {
				tok = &got[i]
			}
		}
		if tok == nil || len(tok.Certificates) != 2 || !tok.Certificates[0].Usable || !tok.Certificates[1].Usable || tok.Certificates[0].Slot != "01" {
			t.Fatalf("certs:\n%s", stdout)
		}
	}
	check("-X", "X509_user_identity="+e.spec(softhsm.Module, "")[:len(e.spec(softhsm.Module, ""))-len(":certid=")])
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	writeConf(t, conf, e.mit.Config, "pkinit_identities = PKCS11:module_name="+softhsm.Module+":token=alice-token")
	check()
	code, _, stderr := runCmd(t, "", "certs", "--allow-no-eku", "--allow-no-upn", "-X", "X509_user_identity=PKCS11:module_name="+softhsm.Module+":token=bob-token")
	if code != exitFail || !strings.Contains(stderr, `no token found`) {
		t.Fatalf("absent token: exit %d:\n%s", code, stderr)
	}
}

// writeConf writes base's krb5.conf with lines added to [libdefaults] at
// path, and points KRB5_CONFIG at it.
func writeConf(t *testing.T, path, base string, lines ...string) {
	t.Helper()
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "[libdefaults]\n", "[libdefaults]\n"+strings.Join(lines, "\n")+"\n", 1)
	if text == string(b) {
		t.Fatalf("no [libdefaults] in %s", base)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KRB5_CONFIG", path)
}

// TestKinitPKCS11MITKDC: MIT krb5kdc as the KDC for a SoftHSM logon chosen
// by krb5.conf's pkinit_identities (an unset ENV: and an absent token
// skipped, as MIT skips what it cannot use), with an RSA key that has
// CKA_ALWAYS_AUTHENTICATE: one user login and a context-specific login
// before its signature, the PIN asked once.
func TestKinitPKCS11MITKDC(t *testing.T) {
	e := newKinitEnv(t)
	ca, err := pki.Open(filepath.Dir(e.anchor), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := softhsm.New(t, "alice-token")
	key, cert := issueFor(t, ca, pki.UserProfile, pki.User{
		UPN:         "alice@EXAMPLE.COM",
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
	})
	tok.Import(t, []byte{1}, "alice rsa", key, cert, p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, true))
	shim := tok.NewShim(t, 0)
	writeConf(t, filepath.Join(t.TempDir(), "krb5.conf"), e.mit.Config,
		"pkinit_identities = ENV:SCLOGON_TEST_UNSET_IDENTITY",
		"pkinit_identities = PKCS11:module_name="+shim.Module+":token=bob-token",
		"pkinit_identities = PKCS11:module_name="+shim.Module+":token=alice-token:certid=01")
	cc := filepath.Join(t.TempDir(), "cc")
	code, stdout, stderr := runKinitCmd(t, tok.PIN+"\n", "--pin-stdin", "--json", "-c", "FILE:"+cc, "alice")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var got kinitJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Client != "alice@EXAMPLE.COM" {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if log := shim.LoginLog(t); len(log) != 2 || log[0] != "C_Login 1 pin" || log[1] != "C_Login 2 pin" {
		t.Fatalf("logins %q", log)
	}
	out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
	if !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("klist:\n%s", out)
	}
}

// TestKinitPKCS11MITKDCKeyExchange is issue 18's SoftHSM acceptance against
// MIT krb5kdc (which has no ECDH in 1.20): an RSA-2048 key on the token
// logs on with DH-2048 and with RSA key transport, through `sclogon kinit
// -X X509_user_identity=PKCS11:…`, and MIT kinit with the same string gets
// a TGT from the same KDC, with DH and with flag_RSA_PROTOCOL.
func TestKinitPKCS11MITKDCKeyExchange(t *testing.T) {
	e := newKinitEnv(t)
	ca, err := pki.Open(filepath.Dir(e.anchor), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := softhsm.New(t, "alice-token")
	key, cert := issueFor(t, ca, pki.UserProfile, pki.User{
		UPN:         "alice@EXAMPLE.COM",
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
	})
	tok.Import(t, []byte{1}, "alice rsa", key, cert)
	spec := "PKCS11:module_name=" + softhsm.Module + ":token=alice-token:certid=01"
	for _, tc := range []struct {
		name, kx string
		args     []string
	}{
		{"DH", "DH-2048", []string{"--dh", "2048"}},
		{"RSA", "RSA key transport", []string{"--rsa-key-transport"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := filepath.Join(t.TempDir(), "cc")
			args := append([]string{"-X", "X509_user_identity=" + spec, "--pin-stdin", "--json", "-c", "FILE:" + cc}, tc.args...)
			code, stdout, stderr := runKinitCmd(t, tok.PIN+"\n", append(args, "alice")...)
			if code != exitOK {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			var got kinitJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v:\n%s", err, stdout)
			}
			if got.Client != "alice@EXAMPLE.COM" || !strings.HasPrefix(got.KeyExchange, tc.kx) {
				t.Fatalf("json: %+v", got)
			}
			if out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc)); !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Fatalf("klist:\n%s", out)
			}
		})
	}
	for _, tc := range []struct {
		name, trace string
		args        []string
	}{
		{"MIT kinit DH", "PKINIT client verified DH reply", nil},
		{"MIT kinit RSA", "PKINIT client verified RSA reply", []string{"-X", "flag_RSA_PROTOCOL=yes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := filepath.Join(t.TempDir(), "cc")
			args := append([]string{"-c", "FILE:" + cc, "-X", "X509_user_identity=" + spec}, tc.args...)
			kinit := e.mit.Command(t, "kinit", append(args, "alice@EXAMPLE.COM")...)
			kinit.Stdin = strings.NewReader(tok.PIN + "\n")
			kinit.Env = append(kinit.Env, "KRB5_TRACE=/dev/stderr")
			if trace := harness.Run(t, kinit); !strings.Contains(trace, tc.trace) {
				t.Errorf("no %q in MIT kinit's trace:\n%s", tc.trace, trace)
			}
			out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
			if !strings.Contains(out, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Fatalf("klist:\n%s", out)
			}
		})
	}
}

// TestPAMIdentitySource: identity = PKCS11:… in [pam] makes the helper log
// on with the token; card (the default) and FILE: keep their sources.
func TestPAMIdentitySource(t *testing.T) {
	for spec, want := range map[string]any{
		"":                         pam.CardSource{},
		"card":                     pam.CardSource{},
		"PKCS11:token=alice-token": pam.TokenSource{},
		"FILE:alice.pem,alice.key": pam.SoftwareSource{},
	} {
		got := identitySource(&pam.Config{Identity: spec})
		if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			t.Errorf("identity = %q: %T, want %T", spec, got, want)
		}
		if ts, ok := got.(pam.TokenSource); ok && ts.Spec != spec {
			t.Errorf("token source spec %q", ts.Spec)
		}
	}
}
