//go:build cgo

// Package softhsm makes SoftHSM2 tokens for tests: [New] initializes a token
// in a private token directory, and [Token.Import] puts a key and its
// certificate on it under one CKA_ID, as an enrolment tool would.
//
// SoftHSM reads SOFTHSM2_CONF when a process initializes the module: [New]
// sets it for the test (so the test cannot run in parallel), and
// [Token.Env] gives it to child processes.
package softhsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/integration/harness"
)

// Module is Debian's SoftHSM2 module (package libsofthsm2).
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Token is an initialized SoftHSM2 token.
type Token struct {
	Label  string
	PIN    string // the user PIN
	SOPIN  string // the security officer's PIN
	Conf   string // its SOFTHSM2_CONF
	Module string
}

// New initializes a token labelled label in a directory of the test's own,
// with the user PIN "123456" and the SO PIN "12345678". A missing SoftHSM2
// fails the test under CI=true and skips it elsewhere.
func New(tb testing.TB, label string) *Token {
	tb.Helper()
	util := harness.Require(tb, "softhsm2-util", "softhsm2")
	if _, err := os.Stat(Module); err != nil {
		harness.Missing(tb, "softhsm: "+Module+" is missing: install the Debian package softhsm2")
	}
	dir := tb.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", filepath.Join(dir, "tokens"))
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("SOFTHSM2_CONF", conf)
	t := &Token{Label: label, PIN: "123456", SOPIN: "12345678", Conf: conf, Module: Module}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", t.PIN, "--so-pin", t.SOPIN)
	cmd.Env = append(os.Environ(), t.Env()...)
	harness.Run(tb, cmd)
	return t
}

// Env is the environment a child process needs to see the token.
func (t *Token) Env() []string { return []string{"SOFTHSM2_CONF=" + t.Conf} }

// Import writes key (RSA or ECDSA) and cert to the token under id, both
// labelled label; the key is private, sensitive and not extractable, and
// has the extra attributes given (CKA_ALWAYS_AUTHENTICATE, say).
func (t *Token) Import(tb testing.TB, id []byte, label string, key crypto.Signer, cert *x509.Certificate, extra ...*p11.Attribute) {
	tb.Helper()
	keyAttrs, err := keyTemplate(key)
	if err != nil {
		tb.Fatal(err)
	}
	keyAttrs = append(keyAttrs, extra...)
	ctx := p11.New(t.Module)
	if ctx == nil {
		tb.Fatalf("softhsm: cannot load %s", t.Module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		tb.Fatal(err)
	}
	defer ctx.Finalize()
	s, err := t.session(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer ctx.CloseSession(s)
	if err := ctx.Login(s, p11.CKU_USER, t.PIN); err != nil {
		tb.Fatal(err)
	}
	defer ctx.Logout(s)
	common := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	certAttrs := append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
		p11.NewAttribute(p11.CKA_SUBJECT, cert.RawSubject),
		p11.NewAttribute(p11.CKA_ISSUER, cert.RawIssuer),
		p11.NewAttribute(p11.CKA_VALUE, cert.Raw),
	}, common...)
	if _, err := ctx.CreateObject(s, certAttrs); err != nil {
		tb.Fatalf("softhsm: certificate: %v", err)
	}
	if _, err := ctx.CreateObject(s, append(keyAttrs, common...)); err != nil {
		tb.Fatalf("softhsm: private key: %v", err)
	}
}

// session opens a read-write session on the token labelled t.Label.
func (t *Token) session(ctx *p11.Ctx) (p11.SessionHandle, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, sl := range slots {
		info, err := ctx.GetTokenInfo(sl)
		if err == nil && info.Label == t.Label {
			return ctx.OpenSession(sl, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		}
	}
	return 0, fmt.Errorf("softhsm: no token %q", t.Label)
}

func keyTemplate(key crypto.Signer) ([]*p11.Attribute, error) {
	base := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		return append(base,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
			p11.NewAttribute(p11.CKA_DECRYPT, true),
			p11.NewAttribute(p11.CKA_MODULUS, k.N.Bytes()),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
			p11.NewAttribute(p11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			p11.NewAttribute(p11.CKA_PRIME_1, k.Primes[0].Bytes()),
			p11.NewAttribute(p11.CKA_PRIME_2, k.Primes[1].Bytes()),
			p11.NewAttribute(p11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			p11.NewAttribute(p11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			p11.NewAttribute(p11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		), nil
	case *ecdsa.PrivateKey:
		oid, ok := map[elliptic.Curve]asn1.ObjectIdentifier{
			elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7},
			elliptic.P384(): {1, 3, 132, 0, 34},
		}[k.Curve]
		if !ok {
			return nil, fmt.Errorf("softhsm: curve %s", k.Curve.Params().Name)
		}
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, err
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		return append(base,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_VALUE, d),
		), nil
	}
	return nil, fmt.Errorf("softhsm: key type %T", key)
}
