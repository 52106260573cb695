package cardkey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardkey"
	"github.com/sclogon/sclogon/card/vcard"
)

// softCard writes a software card's state file with a P-256 key in slot 9c
// under policy, and returns its path and the key's certificate.
func softCard(t *testing.T, policy vcard.PINPolicy) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kdc"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(vcard.SlotSignature, key, policy); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(vcard.SlotSignature, der); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "card.json")
	if err := st.Create(path); err != nil {
		t.Fatal(err)
	}
	return path, cert
}

func writePIN(t *testing.T, pin string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(p, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func triesLeft(t *testing.T, path string) int {
	t.Helper()
	st, err := vcard.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.PINTriesLeft()
}

// TestSignsWithPINAlways: a key whose PIN policy is "always" signs again and
// again, the PIN read from its file each time the card asks; the signatures
// verify with the slot's certificate.
func TestSignsWithPINAlways(t *testing.T) {
	path, cert := softCard(t, vcard.PINPolicyAlways)
	s, err := cardkey.Open("vcard:"+path+"#9c", nil, cardkey.PINFile(writePIN(t, vcard.DefaultPIN)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Certificate().Equal(cert) {
		t.Fatal("the slot's certificate was not read")
	}
	for i := range 3 {
		digest := sha256.Sum256([]byte{byte(i)})
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatalf("signature %d does not verify", i)
		}
	}
}

// TestWrongPINCostsOneTry: a wrong PIN is found at Open and costs one try;
// a Signer whose PIN the card refused later presents no other.
func TestWrongPINCostsOneTry(t *testing.T) {
	path, _ := softCard(t, vcard.PINPolicyAlways)
	_, err := cardkey.Open("vcard:"+path+"#9c", nil, cardkey.PINFile(writePIN(t, "000000")))
	var perr *card.PINError
	if !errors.Is(err, cardkey.ErrPINRefused) || !errors.As(err, &perr) || perr.Retries != 2 {
		t.Fatalf("wrong PIN at Open: %v", err)
	}
	if n := triesLeft(t, path); n != 2 {
		t.Fatalf("%d tries left, want 2", n)
	}

	// The PIN file changes under a running Signer to a wrong PIN: the
	// first request that needs it fails, and no later one tries again.
	pinFile := writePIN(t, vcard.DefaultPIN)
	s, err := cardkey.Open("vcard:"+path+"#9c", nil, cardkey.PINFile(pinFile))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := triesLeft(t, path); n != 3 {
		t.Fatalf("%d tries left after the right PIN, want 3", n)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pinFile, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, cardkey.ErrPINRefused) {
			t.Fatalf("sign with a wrong PIN: %v", err)
		}
	}
	if n := triesLeft(t, path); n != 2 {
		t.Fatalf("%d tries left after three requests with a wrong PIN, want 2", n)
	}
}

// TestNoPIN: a key whose policy is "never" signs with no PIN source.
func TestNoPIN(t *testing.T) {
	path, cert := softCard(t, vcard.PINPolicyNever)
	s, err := cardkey.Open("vcard:"+path+"#9c", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	digest := sha256.Sum256([]byte("y"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("sign: %v", err)
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "vcard:/var/lib/kdc/card.json#9a", want: "vcard:/var/lib/kdc/card.json#9a"},
		{in: "pcsc:Yubico YubiKey OTP+FIDO+CCID 00 00#9C", want: "pcsc:Yubico YubiKey OTP+FIDO+CCID 00 00#9c"},
		{in: "pcsc:Reader #1#82", want: "pcsc:Reader #1#82"},
		{in: "vcard:card.json", err: "names no slot"},
		{in: "vcard:card.json#77", err: "no PIV key slot"},
		{in: "file:kdc.key", err: "is not vcard"},
		{in: "vcard:#9a", err: "names no slot"},
	} {
		sp, err := cardkey.ParseSpec(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSpec(%q): %v, want an error with %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || sp.String() != tc.want):
			t.Errorf("ParseSpec(%q) = %v, %v; want %s", tc.in, sp, err, tc.want)
		}
	}
}
