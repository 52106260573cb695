//go:build cgo

package pkcs11_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/internal/softhsm"
)

type fixture struct {
	tok            *softhsm.Token
	rsaKey, ecKey  crypto.Signer
	rsaCert, ecCrt *x509.Certificate
}

// newToken makes a SoftHSM token holding alice's RSA-2048 key (CKA_ID 01)
// and P-256 key (CKA_ID 02) with certificates from a test CA.
func newToken(t *testing.T) *fixture {
	t.Helper()
	ca := cardtest.NewPKI(t)
	f := &fixture{tok: softhsm.New(t, "alice-token")}
	f.rsaKey, f.ecKey = cardtest.Key(t, pki.RSA2048), cardtest.Key(t, pki.P256)
	f.rsaCert = ca.Issue(t, f.rsaKey, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
	f.ecCrt = ca.Issue(t, f.ecKey, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
	f.tok.Import(t, []byte{0x02}, "alice ec", f.ecKey, f.ecCrt)
	f.tok.Import(t, []byte{0x01}, "alice rsa", f.rsaKey, f.rsaCert)
	return f
}

func pin(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, c pkcs11.Config) *pkcs11.Token {
	t.Helper()
	tok, err := pkcs11.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

// TestSoftHSM: certificates numbered in CKA_ID order; no key before
// C_Login; RSA PKCS #1 v1.5 and ECDSA signatures that verify; RSA
// decryption; Close twice.
func TestSoftHSM(t *testing.T) {
	f := newToken(t)
	tok := open(t, pkcs11.Config{Module: softhsm.Module, Token: "alice-token"})
	objs, err := tok.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Slot != 1 || !bytes.Equal(objs[0].ID, []byte{1}) || objs[0].Label != "alice rsa" ||
		!objs[0].Cert.Equal(f.rsaCert) || objs[1].Slot != 2 || !objs[1].Cert.Equal(f.ecCrt) {
		t.Fatalf("objects %+v", objs)
	}
	if n, err := tok.PINRetries(); err != nil || n != card.RetriesUncounted {
		t.Fatalf("PINRetries %d %v", n, err)
	}
	digest := sha256.Sum256([]byte("authpack"))
	if _, err := tok.Sign(1, f.rsaCert.PublicKey, digest[:], crypto.SHA256); !errors.Is(err, card.ErrSecurityStatus) {
		t.Fatalf("sign before login: %v", err)
	}
	if err := tok.VerifyPIN(pin(t, f.tok.PIN)); err != nil {
		t.Fatal(err)
	}
	if n, err := tok.PINRetries(); err != nil || n != -1 {
		t.Fatalf("PINRetries after login %d %v", n, err)
	}
	sig, err := tok.Sign(1, f.rsaCert.PublicKey, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(f.rsaCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	sig, err = tok.Sign(2, f.ecCrt.PublicKey, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(f.ecCrt.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("ECDSA signature does not verify")
	}
	secret := []byte("a reply key of 32 bytes, really!")
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5 (rsaEncryption): the token decrypts what a KDC sends
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, f.rsaCert.PublicKey.(*rsa.PublicKey), secret)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := tok.Decrypt(1, f.rsaCert.PublicKey, ct); err != nil || !bytes.Equal(pt, secret) {
		t.Fatalf("decrypt %q %v", pt, err)
	}
	if _, err := tok.Decrypt(2, f.ecCrt.PublicKey, ct); err == nil {
		t.Fatal("an EC key decrypted")
	}
	if _, err := tok.Certificate(3); !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("certificate 3: %v", err)
	}
	t.Logf("PKCS #11 calls from C_Initialize to the last operation: %d", tok.Calls())
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWrongPIN: a wrong PIN is one C_Login and a *card.PINError saying what
// the token's flags say (SoftHSM: "low"); the right PIN then works.
func TestWrongPIN(t *testing.T) {
	f := newToken(t)
	shim := f.tok.NewShim(t, 0)
	tok := open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	var pe *card.PINError
	if err := tok.VerifyPIN(pin(t, "999999")); !errors.As(err, &pe) || pe.Retries != card.RetriesLow {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n := shim.Logins(t); n != 1 {
		t.Fatalf("%d C_Login calls for one wrong PIN", n)
	}
	if err := pe.Error(); err != "card: the card refused the PIN (tries left: low)" {
		t.Errorf("message %q", err)
	}
	if err := tok.VerifyPIN(pin(t, f.tok.PIN)); err != nil {
		t.Fatal(err)
	}
}

// TestFlags: through the shim, the token flags low, final try and locked;
// a locked token gets no C_Login.
func TestFlags(t *testing.T) {
	f := newToken(t)
	for _, tc := range []struct {
		name  string
		flags uint
		want  int
		err   error
	}{
		{"low", p11.CKF_USER_PIN_COUNT_LOW, card.RetriesLow, nil},
		{"final try", p11.CKF_USER_PIN_FINAL_TRY, 1, nil},
		{"locked", p11.CKF_USER_PIN_LOCKED, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shim := f.tok.NewShim(t, tc.flags)
			tok := open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
			n, err := tok.PINRetries()
			if n != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("PINRetries %d %v", n, err)
			}
			if tc.want != 0 || tc.err != nil {
				return
			}
			if err := tok.VerifyPIN(pin(t, f.tok.PIN)); !errors.Is(err, card.ErrPINBlocked) {
				t.Fatalf("VerifyPIN on a locked token: %v", err)
			}
			if n := shim.Logins(t); n != 0 {
				t.Fatalf("a locked token got %d C_Login calls", n)
			}
		})
	}
}

// TestChangeAndUnblock: C_SetPIN with the old PIN; C_InitPIN after the SO
// logs in; a wrong SO PIN is a PUK error.
func TestChangeAndUnblock(t *testing.T) {
	f := newToken(t)
	tok := open(t, pkcs11.Config{Module: softhsm.Module, Token: "alice-token"})
	var pe *card.PINError
	if err := tok.ChangePIN(pin(t, "999999"), pin(t, "654321")); !errors.As(err, &pe) || pe.PUK {
		t.Fatalf("change with a wrong PIN: %v", err)
	}
	if err := tok.ChangePIN(pin(t, f.tok.PIN), pin(t, "654321")); err != nil {
		t.Fatal(err)
	}
	if err := tok.UnblockPIN(pin(t, "99999999"), pin(t, "111111")); !errors.As(err, &pe) || !pe.PUK {
		t.Fatalf("unblock with a wrong SO PIN: %v", err)
	}
	if err := tok.UnblockPIN(pin(t, f.tok.SOPIN), pin(t, "111111")); err != nil {
		t.Fatal(err)
	}
	if err := tok.VerifyPIN(pin(t, "111111")); err != nil {
		t.Fatal(err)
	}
}

// TestChoosing: by slot ID, by label, through p11-kit's proxy (the
// default), and the errors for no token and no module.
func TestChoosing(t *testing.T) {
	newToken(t)
	tok := open(t, pkcs11.Config{Module: softhsm.Module, Token: "alice-token"})
	slot := tok.SlotID()
	tok.Close()
	open(t, pkcs11.Config{Module: softhsm.Module, Slot: &slot}).Close()
	if _, err := pkcs11.Open(pkcs11.Config{Module: softhsm.Module, Token: "bob-token"}); !errors.Is(err, pkcs11.ErrNoToken) {
		t.Fatalf("no such token: %v", err)
	}
	other := slot + 1
	if _, err := pkcs11.Open(pkcs11.Config{Module: softhsm.Module, Slot: &other, Token: "alice-token"}); !errors.Is(err, pkcs11.ErrNoToken) {
		t.Fatalf("label in another slot: %v", err)
	}
	if _, err := pkcs11.Open(pkcs11.Config{Module: "/nonexistent/module.so"}); !errors.Is(err, pkcs11.ErrModule) {
		t.Fatalf("no module: %v", err)
	}
	if _, err := pkcs11.Open(pkcs11.Config{Module: "/etc/hostname"}); !errors.Is(err, pkcs11.ErrModule) {
		t.Fatalf("not a module: %v", err)
	}
	if _, err := os.Stat("/usr/share/p11-kit/modules/softhsm2.module"); err != nil {
		harness.Missing(t, "pkcs11: p11-kit does not list SoftHSM: install the Debian packages p11-kit-modules and softhsm2")
	}
	proxy := open(t, pkcs11.Config{Token: "alice-token"})
	if objs, err := proxy.Objects(); err != nil || len(objs) != 2 {
		t.Fatalf("through p11-kit-proxy: %d objects, %v", len(objs), err)
	}
}

// TestProtectedPath: a token with a PIN pad logs in with one C_Login and a
// NULL PIN (the shim types the PIN on its pad); a wrong PIN typed there is
// a *card.PINError; a nil PIN on a token without a pad sends nothing.
func TestProtectedPath(t *testing.T) {
	f := newToken(t)
	shim := f.tok.NewShim(t, p11.CKF_PROTECTED_AUTHENTICATION_PATH)
	shim.PINPad(t, f.tok.PIN)
	tok := open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	if !tok.ProtectedPath() {
		t.Fatal("no protected path")
	}
	if n, err := tok.PINRetries(); err != nil || n != card.RetriesUncounted {
		t.Fatalf("PINRetries %d %v", n, err)
	}
	if err := tok.VerifyPIN(nil); err != nil {
		t.Fatal(err)
	}
	if log := shim.LoginLog(t); len(log) != 1 || log[0] != "C_Login 1 null" {
		t.Fatalf("logins %q", log)
	}
	digest := sha256.Sum256([]byte("authpack"))
	if _, err := tok.Sign(2, f.ecCrt.PublicKey, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	tok.Close()

	shim.PINPad(t, "999999")
	tok = open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	var pe *card.PINError
	if err := tok.VerifyPIN(nil); !errors.As(err, &pe) {
		t.Fatalf("wrong PIN on the pad: %v", err)
	}
	tok.Close()

	plain := open(t, pkcs11.Config{Module: softhsm.Module, Token: "alice-token"})
	if plain.ProtectedPath() {
		t.Fatal("SoftHSM has a protected path")
	}
	if err := plain.VerifyPIN(nil); err == nil {
		t.Fatal("a nil PIN logged in without a PIN pad")
	}
}

// TestAlwaysAuthenticate: a key with CKA_ALWAYS_AUTHENTICATE gets one
// context-specific C_Login before each signature and decryption, with the
// PIN ContextPIN gives; without one it fails; a wrong PIN is one C_Login.
func TestAlwaysAuthenticate(t *testing.T) {
	ca := cardtest.NewPKI(t)
	tokDef := softhsm.New(t, "alice-token")
	key := cardtest.Key(t, pki.RSA2048)
	cert := ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
	tokDef.Import(t, []byte{1}, "alice rsa", key, cert, p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, true))
	shim := tokDef.NewShim(t, 0)
	tok := open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	if err := tok.VerifyPIN(pin(t, tokDef.PIN)); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authpack"))
	if _, err := tok.Sign(1, cert.PublicKey, digest[:], crypto.SHA256); !errors.Is(err, card.ErrSecurityStatus) {
		t.Fatalf("sign without a context PIN: %v", err)
	}
	tok.Close()

	tok = open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	asked := 0
	p := pin(t, tokDef.PIN)
	tok.ContextPIN(func() (*card.PIN, error) { asked++; return p, nil })
	if err := tok.VerifyPIN(pin(t, tokDef.PIN)); err != nil {
		t.Fatal(err)
	}
	before := shim.Logins(t)
	for range 2 {
		sig, err := tok.Sign(1, cert.PublicKey, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
			t.Fatal(err)
		}
	}
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, cert.PublicKey.(*rsa.PublicKey), []byte("reply key"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := tok.Decrypt(1, cert.PublicKey, ct); err != nil || string(pt) != "reply key" {
		t.Fatalf("decrypt %q %v", pt, err)
	}
	log := shim.LoginLog(t)[before:]
	if len(log) != 3 || asked != 3 || log[0] != "C_Login 2 pin" || log[2] != "C_Login 2 pin" {
		t.Fatalf("context logins %q, asked %d", log, asked)
	}
	tok.Close()

	tok = open(t, pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	tok.ContextPIN(func() (*card.PIN, error) { return pin(t, "999999"), nil })
	if err := tok.VerifyPIN(pin(t, tokDef.PIN)); err != nil {
		t.Fatal(err)
	}
	before = shim.Logins(t)
	var pe *card.PINError
	if _, err := tok.Sign(1, cert.PublicKey, digest[:], crypto.SHA256); !errors.As(err, &pe) {
		t.Fatalf("wrong context PIN: %v", err)
	}
	if n := shim.Logins(t) - before; n != 1 {
		t.Fatalf("%d C_Login calls for a wrong context PIN", n)
	}
}
