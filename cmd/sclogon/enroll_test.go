//go:build cgo

package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// TestEnrollThenLogon is issue 8's enrollment acceptance: a software card
// (AES-256 management key) served into the real pcscd is enrolled with
// `sclogon pki enroll` (key generated on the card, request signed on the
// card, the CA issues with UPN and SID, the certificate written to 9A and
// read back); then `sclogon kinit --pin-stdin` with that card gets a TGT
// from our KDC, whose directory maps alice by the SID extension under full
// KB5014754 enforcement, and MIT klist reads the ccache. Before that, a
// wrong management key and a wrong PIN each stop the enrollment at their
// step, say so, and leave the card as it was (the wrong PIN costs one try).
func TestEnrollThenLogon(t *testing.T) {
	p := harness.StartPCSCD(t) // first: the KDC's ports must not take vpcd's
	harness.Require(t, "klist", "krb5-user")
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	caDir := filepath.Join(dir, "ca")
	ca, err := pki.Init(caDir, pki.InitOptions{Intermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	const realm, sidText = "EXAMPLE.COM", "S-1-5-21-1111-2222-3333-1104"
	sid, err := certs.ParseSID(sidText)
	if err != nil {
		t.Fatal(err)
	}

	// The card: a management key of its owner's, in a file.
	mgm := make([]byte, 32)
	if _, err := rand.Read(mgm); err != nil {
		t.Fatal(err)
	}
	mgmFile := filepath.Join(dir, "mgm.hex")
	if err := os.WriteFile(mgmFile, []byte(hex.EncodeToString(mgm)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := cardtest.NewState(t)
	if err := st.SetManagementKey(vcard.ManagementKeyAES256, mgm); err != nil {
		t.Fatal(err)
	}
	vc := vcard.New(st, vcard.Options{Generic: true})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = vc.ServeVPCD(ctx, p.CardAddrs[0], nil) }()
	t.Cleanup(func() { cancel(); <-served })
	reader := p.Readers[0]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if rs, _ := (pcsc.Provider{}).Readers(); len(rs) == 1 && rs[0] == reader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pcscd does not list the software card")
		}
	}

	enroll := func(stdin string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errOut strings.Builder
		args = append([]string{"pki", "enroll", "--dir", caDir, "--slot", "9A", "--upn", "alice@example.com", "--sid", sidText}, args...)
		code = run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, errOut: &errOut}, args)
		if strings.Contains(out.String()+errOut.String(), hex.EncodeToString(mgm)) {
			t.Errorf("the management key is in the output")
		}
		return code, out.String(), errOut.String()
	}
	noKey := func(when string) {
		t.Helper()
		if _, ok := snap(t, vc).PublicKey(byte(card.SlotAuthentication)); ok {
			t.Fatalf("%s: slot 9a has a key", when)
		}
		if _, ok := snap(t, vc).Certificate(byte(card.SlotAuthentication)); ok {
			t.Fatalf("%s: slot 9a has a certificate", when)
		}
	}

	// The factory default key: of another algorithm than the card's.
	code, _, stderr := enroll(vcard.DefaultPIN+"\n", "--reader", reader, "--default-management-key", "--pin-stdin")
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: enrollment failed at management key authentication: the card's management key is of another algorithm (neither 3des nor aes192)") ||
		!strings.Contains(stderr, "--management-key-algorithm") || !strings.Contains(stderr, "the slot's key and certificate were not changed") || snap(t, vc).PINTriesLeft() != 3 {
		t.Fatalf("default management key: exit %d, %d PIN tries left:\n%s", code, snap(t, vc).PINTriesLeft(), stderr)
	}
	// A wrong AES-256 key: refused before the PIN is asked.
	wrong := hex.EncodeToString(make([]byte, 32))
	code, _, stderr = enroll(wrong+"\n"+vcard.DefaultPIN+"\n", "--reader", reader, "--management-key-stdin", "--pin-stdin")
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: enrollment failed at management key authentication: the card refused the management key") ||
		!strings.Contains(stderr, "the slot's key and certificate were not changed") || snap(t, vc).PINTriesLeft() != 3 {
		t.Fatalf("wrong management key: exit %d, %d PIN tries left:\n%s", code, snap(t, vc).PINTriesLeft(), stderr)
	}
	noKey("wrong management key")
	// A wrong PIN on stdin after the management key line: one try.
	code, _, stderr = enroll(hex.EncodeToString(mgm)+"\n999999\n", "--reader", reader, "--management-key-stdin", "--pin-stdin")
	if code != exitFail || !strings.Contains(stderr, "enrollment failed at PIN verification: the card refused the PIN (2 tries left)") ||
		!strings.Contains(stderr, "the slot's key and certificate were not changed") || snap(t, vc).PINTriesLeft() != 2 {
		t.Fatalf("wrong PIN: exit %d, %d PIN tries left:\n%s", code, snap(t, vc).PINTriesLeft(), stderr)
	}
	noKey("wrong PIN")
	t.Logf("a wrong PIN:\n%s", stderr)

	// The enrollment (the only card present: no --reader).
	code, stdout, stderr := enroll(vcard.DefaultPIN+"\n", "--management-key-file", mgmFile, "--pin-stdin")
	if code != exitOK {
		t.Fatalf("sclogon pki enroll: exit %d:\n%s", code, stderr)
	}
	t.Logf("sclogon pki enroll:\n%s%s", stdout, stderr)
	for _, want := range []string{"reader\t" + reader, "slot\t9a (PIV Authentication)", "key\trsa2048, generated on the card", "subject\tCN=alice", "upn\talice@example.com", "sid\t" + sidText} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	der, ok := snap(t, vc).Certificate(byte(card.SlotAuthentication))
	if !ok {
		t.Fatal("slot 9a holds no certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	onCard, _ := snap(t, vc).PublicKey(byte(card.SlotAuthentication))
	if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(onCard) {
		t.Fatal("the certificate does not certify the key on the card")
	}
	if !strings.Contains(stdout, fmt.Sprintf("serial\t%X", cert.SerialNumber)) {
		t.Errorf("the output lacks the serial %X", cert.SerialNumber)
	}
	if snap(t, vc).PINTriesLeft() != 3 {
		t.Errorf("%d PIN tries left after the right PIN", snap(t, vc).PINTriesLeft())
	}

	// Our KDC, alice in its directory with the certificate's SID.
	kdcKey, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kdcProfile, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	kdcCert, err := ca.Issue(kdcKey.Public(), kdcProfile)
	if err != nil {
		t.Fatal(err)
	}
	directory, err := ldif.Read(strings.NewReader(fmt.Sprintf(
		"dn: cn=alice,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: alice\nsAMAccountName: alice\nuserPrincipalName: alice@example.com\nobjectSid:: %s\nuserAccountControl: 512\n",
		base64.StdEncoding.EncodeToString(sid.Marshal()))))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(kdc.Config{
		Realm:         realm,
		StateDir:      t.TempDir(),
		Certificate:   []*x509.Certificate{kdcCert, ca.Issuer()},
		Key:           kdcKey,
		Anchors:       []*x509.Certificate{ca.Root()},
		Intermediates: []*x509.Certificate{ca.Issuer()},
		NTAuth:        []*x509.Certificate{ca.Issuer()},
		Directory:     directory,
		Mapping:       mapping.Policy{Enforcement: mapping.EnforcementFull, SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP:          kdc.OCSPOff,
	}, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := kdc.Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(context.Background())
	kdone := make(chan error, 1)
	go func() { kdone <- (&kdc.Server{Handler: k, Realm: realm}).Serve(kctx, ls, 5*time.Second) }()
	t.Cleanup(func() {
		kcancel()
		if err := <-kdone; err != nil {
			t.Errorf("KDC: %v", err)
		}
	})
	mit := harness.NewMITClient(t, harness.MITClientConfig{Realm: realm, KDCs: []string{ls[0].TCP.Addr().String()}, AnchorsPEM: pki.CertPEM(ca.Root())})
	t.Setenv("KRB5_CONFIG", mit.Config) // our kinit reads the same krb5.conf

	cc := filepath.Join(dir, "cc")
	code, _, stderr = runKinitCmd(t, vcard.DefaultPIN+"\n", "--pin-stdin", "--reader", reader, "-c", "FILE:"+cc)
	if code != exitOK {
		t.Fatalf("sclogon kinit with the enrolled card: exit %d:\n%s", code, stderr)
	}
	t.Logf("sclogon kinit: %s", stderr)
	out := harness.Run(t, mit.Command(t, "klist", "-c", "FILE:"+cc))
	t.Logf("klist:\n%s", out)
	if !strings.Contains(out, "alice") || !strings.Contains(out, "krbtgt/"+realm+"@"+realm) {
		t.Fatalf("klist:\n%s", out)
	}
}

// snap is the card's state between two commands: the card goroutine serving
// pcscd changes it.
func snap(t *testing.T, vc *vcard.Card) *vcard.State {
	t.Helper()
	st, err := vc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
