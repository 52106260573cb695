//go:build cgo

package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

const (
	tpmToken = "alice-tpm"
	tpmPIN   = "123456"
	tpmSOPIN = "12345678"
)

// TestKinitTPM is issue 18's TPM acceptance: a software TPM (swtpm) as a
// PKCS #11 token through tpm2-pkcs11. The test makes the token, has the TPM
// generate alice's P-256 key, gets a certificate for it from the test CA
// through a CSR the TPM signs, stores the certificate on the token with
// tpm2_ptool addcert, and `sclogon kinit -X X509_user_identity=PKCS11:…`
// logs on with ECDH at our KDC. The private key never leaves the TPM: the
// token calls it sensitive, never extractable and generated on the token,
// and refuses to read its CKA_VALUE.
func TestKinitTPM(t *testing.T) {
	if _, err := os.Stat(harness.TPM2PKCS11Module); err != nil {
		harness.Missing(t, "tpm2-pkcs11: "+harness.TPM2PKCS11Module+" is missing: install the Debian package libtpm2-pkcs11-1 (integration/setup does it)")
	}
	ptool := harness.Require(t, "tpm2_ptool", "libtpm2-pkcs11-tools")
	tpm := harness.StartSWTPM(t)
	store := t.TempDir()
	t.Setenv("TPM2_PKCS11_TCTI", tpm.TCTI)
	t.Setenv("TPM2TOOLS_TCTI", tpm.TCTI)
	t.Setenv("TPM2_PKCS11_STORE", store)
	t.Setenv("TPM2_PKCS11_LOG_LEVEL", "0") // the module's warnings would go to the test's stderr

	e := startSIDKDC(t)
	tok := openTPMToken(t)
	pub := tok.generateKey(t, []byte{1}, "alice")
	tok.checkNonExportable(t, []byte{1})
	cert := tok.issue(t, e, pub, []byte{1})
	tok.close()
	certPEM := filepath.Join(t.TempDir(), "alice.pem")
	if err := os.WriteFile(certPEM, pki.CertPEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	harness.Run(t, exec.Command(ptool, "addcert", "--path", store, "--label", tpmToken, "--key-id", "01", certPEM))

	spec := "PKCS11:module_name=" + harness.TPM2PKCS11Module + ":token=" + tpmToken + ":certid=01"
	cc := filepath.Join(t.TempDir(), "cc")
	t0 := time.Now()
	code, stdout, stderr := runKinitCmd(t, tpmPIN+"\n", "-X", "X509_user_identity="+spec, "--pin-stdin", "--json", "-c", "FILE:"+cc, "--ecdh", "P-256", "alice")
	took := time.Since(t0)
	if code != exitOK {
		t.Fatalf("sclogon kinit: exit %d:\n%s", code, stderr)
	}
	t.Logf("sclogon kinit with the TPM's key (ECDH P-256): %v", took.Round(time.Millisecond))
	if strings.Contains(stdout+stderr, tpmPIN) {
		t.Fatal("the PIN leaked into the output")
	}
	var got kinitJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if got.Client != "alice@EXAMPLE.COM" || !strings.HasPrefix(got.KeyExchange, "ECDH P-256") {
		t.Fatalf("json: %+v", got)
	}
	out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
	if !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("klist:\n%s", out)
	}
}

// tpmSession is a user session on the tpm2-pkcs11 token the test made.
type tpmSession struct {
	ctx *p11.Ctx
	s   p11.SessionHandle
}

// openTPMToken initializes the TPM's empty slot as tpmToken (C_InitToken),
// sets the user PIN with the SO PIN (C_InitPIN) and logs the user in.
//
// tpm2_ptool's addtoken and addkey would do the same through tpm2-tools,
// which leave transient objects loaded in a TPM that has no resource
// manager in front of it: swtpm's three object slots fill up and
// tpm2_create fails with "out of memory for object contexts". The module
// flushes its own.
func openTPMToken(t *testing.T) *tpmSession {
	t.Helper()
	ctx := p11.New(harness.TPM2PKCS11Module)
	if ctx == nil {
		t.Fatalf("cannot load %s", harness.TPM2PKCS11Module)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		t.Fatalf("C_Initialize: %v", err)
	}
	ts := &tpmSession{ctx: ctx}
	t.Cleanup(ts.close)
	slot := emptySlot(t, ctx)
	if err := ctx.InitToken(slot, tpmSOPIN, tpmToken); err != nil {
		t.Fatalf("C_InitToken: %v", err)
	}
	s, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatalf("C_OpenSession: %v", err)
	}
	ts.s = s
	if err := ctx.Login(s, p11.CKU_SO, tpmSOPIN); err != nil {
		t.Fatalf("C_Login (SO): %v", err)
	}
	if err := ctx.InitPIN(s, tpmPIN); err != nil {
		t.Fatalf("C_InitPIN: %v", err)
	}
	if err := ctx.Logout(s); err != nil {
		t.Fatalf("C_Logout: %v", err)
	}
	if err := ctx.Login(s, p11.CKU_USER, tpmPIN); err != nil {
		t.Fatalf("C_Login: %v", err)
	}
	return ts
}

// emptySlot is the slot whose token is not initialized yet: tpm2-pkcs11
// offers one beside the tokens of its store.
func emptySlot(t *testing.T, ctx *p11.Ctx) uint {
	t.Helper()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatalf("C_GetSlotList: %v", err)
	}
	for _, sl := range slots {
		info, err := ctx.GetTokenInfo(sl)
		if err == nil && info.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			return sl
		}
	}
	t.Fatalf("tpm2-pkcs11 offers no uninitialized token in %d slots", len(slots))
	return 0
}

func (ts *tpmSession) close() {
	if ts.ctx == nil {
		return
	}
	_ = ts.ctx.Logout(ts.s)
	_ = ts.ctx.CloseSession(ts.s)
	_ = ts.ctx.Finalize()
	ts.ctx.Destroy()
	ts.ctx = nil
}

// generateKey has the TPM generate a P-256 key pair under id, sensitive and
// not extractable as an enrolment tool asks (pkcs11-tool does):
// tpm2-pkcs11 leaves CKA_SENSITIVE false when the template is silent,
// although the key never leaves the TPM either way.
func (ts *tpmSession) generateKey(t *testing.T, id []byte, label string) *ecdsa.PublicKey {
	t.Helper()
	params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}) // prime256v1
	if err != nil {
		t.Fatal(err)
	}
	common := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	pubTmpl := append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_EC_PARAMS, params),
		p11.NewAttribute(p11.CKA_VERIFY, true),
	}, common...)
	privTmpl := append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
	}, common...)
	pubH, _, err := ts.ctx.GenerateKeyPair(ts.s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)}, pubTmpl, privTmpl)
	if err != nil {
		t.Fatalf("C_GenerateKeyPair: %v", err)
	}
	attrs, err := ts.ctx.GetAttributeValue(ts.s, pubH, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil {
		t.Fatalf("CKA_EC_POINT: %v", err)
	}
	var point []byte // DER OCTET STRING around the uncompressed point
	if rest, err := asn1.Unmarshal(attrs[0].Value, &point); err != nil || len(rest) != 0 {
		t.Fatalf("CKA_EC_POINT % x: %v", attrs[0].Value, err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		t.Fatalf("CKA_EC_POINT: %v", err)
	}
	return pub
}

// privateKey is the private key object under id.
func (ts *tpmSession) privateKey(t *testing.T, id []byte) p11.ObjectHandle {
	t.Helper()
	if err := ts.ctx.FindObjectsInit(ts.s, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, id),
	}); err != nil {
		t.Fatalf("C_FindObjectsInit: %v", err)
	}
	hs, _, err := ts.ctx.FindObjects(ts.s, 2)
	_ = ts.ctx.FindObjectsFinal(ts.s)
	if err != nil || len(hs) != 1 {
		t.Fatalf("C_FindObjects: %d private keys with CKA_ID % x, %v", len(hs), id, err)
	}
	return hs[0]
}

// checkNonExportable: the token says the key is sensitive, was always so,
// is not and never was extractable, and was generated on the token; asked
// for the private value, it gives nothing. PKCS #11 v2.40 has
// C_GetAttributeValue answer CKR_ATTRIBUTE_SENSITIVE for a sensitive
// attribute; tpm2-pkcs11 1.9 answers CKR_ATTRIBUTE_TYPE_INVALID, since its
// object has no CKA_VALUE at all: its store holds only the private part
// wrapped by the TPM's own key.
func (ts *tpmSession) checkNonExportable(t *testing.T, id []byte) {
	t.Helper()
	h := ts.privateKey(t, id)
	want := []struct {
		attr uint
		name string
		v    bool
	}{
		{p11.CKA_SENSITIVE, "CKA_SENSITIVE", true},
		{p11.CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true},
		{p11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false},
		{p11.CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true},
		{p11.CKA_LOCAL, "CKA_LOCAL", true},
	}
	for _, w := range want {
		attrs, err := ts.ctx.GetAttributeValue(ts.s, h, []*p11.Attribute{p11.NewAttribute(w.attr, nil)})
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if got := len(attrs[0].Value) == 1 && attrs[0].Value[0] != 0; got != w.v {
			t.Errorf("%s = %v, want %v", w.name, got, w.v)
		}
	}
	attrs, err := ts.ctx.GetAttributeValue(ts.s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
	var perr p11.Error
	if !errors.As(err, &perr) || (perr != p11.CKR_ATTRIBUTE_SENSITIVE && perr != p11.CKR_ATTRIBUTE_TYPE_INVALID) {
		t.Fatalf("C_GetAttributeValue(CKA_VALUE) of the private key: %d bytes, %v; want CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID", len(attrs), err)
	}
	t.Logf("the TPM's private key: CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL true, CKA_EXTRACTABLE false; CKA_VALUE: %v", err)
}

// issue has the TPM sign a certificate request for alice with the key
// under id and the CA issue her logon certificate from it.
func (ts *tpmSession) issue(t *testing.T, e *sidKDC, pub *ecdsa.PublicKey, id []byte) *x509.Certificate {
	t.Helper()
	signer := &tpmSigner{ts: ts, key: ts.privateKey(t, id), pub: pub}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, signer)
	if err != nil {
		t.Fatalf("CSR signed in the TPM: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pki.UserProfile(pki.User{UPN: "alice@EXAMPLE.COM", SID: e.sid})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := e.ca.IssueFromCSR(csr, p)
	if err != nil {
		t.Fatalf("issue from the TPM's CSR: %v", err)
	}
	return cert
}

// tpmSigner signs with CKM_ECDSA on the token, for the certificate request.
type tpmSigner struct {
	ts  *tpmSession
	key p11.ObjectHandle
	pub *ecdsa.PublicKey
}

func (s *tpmSigner) Public() crypto.PublicKey { return s.pub }

func (s *tpmSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	if err := s.ts.ctx.SignInit(s.ts.s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, s.key); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", err)
	}
	rs, err := s.ts.ctx.Sign(s.ts.s, digest)
	if err != nil {
		return nil, fmt.Errorf("C_Sign: %w", err)
	}
	if len(rs) != 64 {
		return nil, fmt.Errorf("C_Sign: %d bytes, want r‖s of 64", len(rs))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])})
}
