package enroll_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/enroll"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
)

type fixture struct {
	st       *vcard.State
	c        *apdu.Card
	verifies int
	asked    int
	oldKey   crypto.PublicKey
	oldCert  []byte
}

// newCard is a software card whose 9A already holds a key and certificate,
// so a test can see that a failed enrollment left them alone.
func newCard(t *testing.T, p *cardtest.PKI) *fixture {
	t.Helper()
	f := &fixture{st: cardtest.NewState(t)}
	key := cardtest.Key(t, pki.P256)
	cert := p.Issue(t, key, cardtest.LogonProfile("old", ""))
	cardtest.Put(t, f.st, card.SlotAuthentication, key, cert)
	f.oldKey, f.oldCert = key.Public(), cert.Raw
	vc := vcard.New(f.st, vcard.Options{Generic: true, Observe: func(x vcard.Exchange) {
		if x.INS == 0x20 && x.Nc > 0 {
			f.verifies++
		}
	}})
	c, err := apdu.Open(vc, "in-process", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func (f *fixture) pin(s string) func(int) (*card.PIN, error) {
	return func(int) (*card.PIN, error) { f.asked++; return card.NewPIN([]byte(s)) }
}

func (f *fixture) untouched(t *testing.T) {
	t.Helper()
	k, ok := f.st.PublicKey(byte(card.SlotAuthentication))
	der, _ := f.st.Certificate(byte(card.SlotAuthentication))
	if !ok || !k.(interface{ Equal(crypto.PublicKey) bool }).Equal(f.oldKey) || !bytes.Equal(der, f.oldCert) {
		t.Fatal("the slot's key or certificate changed")
	}
}

func profile(t *testing.T) pki.Profile {
	t.Helper()
	sid, err := certs.ParseSID("S-1-5-21-1111-2222-3333-1104")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pki.UserProfile(pki.User{UPN: "alice@example.com", SID: sid})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEnroll: the whole flow for RSA-2048 and P-384 over the software card:
// the certificate in 9A certifies the key generated on the card, carries the
// UPN and SID, and the PIN was verified once.
func TestEnroll(t *testing.T) {
	p := cardtest.NewPKI(t)
	for _, alg := range []card.KeyAlgorithm{card.KeyRSA2048, card.KeyP384} {
		t.Run(alg.String(), func(t *testing.T) {
			f := newCard(t, p)
			res, err := enroll.Enroll(f.c, enroll.Request{
				Slot: card.SlotAuthentication, Key: alg, ManagementKey: card.DefaultManagementKey(),
				PIN: f.pin(vcard.DefaultPIN), CA: p.CA, Profile: profile(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			onCard, _ := f.st.PublicKey(byte(card.SlotAuthentication))
			if !res.Certificate.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(onCard) {
				t.Fatal("the certificate does not certify the card's key")
			}
			der, _ := f.st.Certificate(byte(card.SlotAuthentication))
			if !bytes.Equal(der, res.Certificate.Raw) {
				t.Fatal("the slot does not hold the issued certificate")
			}
			san, err := certs.CertSAN(res.Certificate)
			if err != nil || len(san.UPNs) != 1 || san.UPNs[0] != "alice@example.com" {
				t.Fatalf("SAN %+v %v", san, err)
			}
			if sid, ok, err := certs.SIDFromCert(res.Certificate); err != nil || !ok || sid.String() != "S-1-5-21-1111-2222-3333-1104" {
				t.Fatalf("SID %v %v %v", sid, ok, err)
			}
			if f.verifies != 1 || f.asked != 1 {
				t.Fatalf("%d VERIFY, %d prompts", f.verifies, f.asked)
			}
			if res.Request.Subject.CommonName != "alice" {
				t.Fatalf("request subject %q", res.Request.Subject)
			}
		})
	}
}

// TestEnrollStopsBeforeChanging: a wrong management key stops before the
// PIN is asked; a wrong PIN costs one try and stops before generation; a
// blocked PIN sends no VERIFY. Each failure names its step and leaves the
// slot's key and certificate as they were.
func TestEnrollStopsBeforeChanging(t *testing.T) {
	p := cardtest.NewPKI(t)
	wrongKey, err := card.NewManagementKey(0, bytes.Repeat([]byte{7}, 24))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("wrong-management-key", func(t *testing.T) {
		f := newCard(t, p)
		_, err := enroll.Enroll(f.c, enroll.Request{Slot: card.SlotAuthentication, Key: card.KeyP256, ManagementKey: wrongKey, PIN: f.pin(vcard.DefaultPIN), CA: p.CA, Profile: profile(t)})
		var e *enroll.Error
		if !errors.As(err, &e) || e.Step != enroll.StepManagementKey || e.KeyReplaced || !errors.Is(err, card.ErrManagementKey) {
			t.Fatalf("%v", err)
		}
		if f.asked != 0 || f.verifies != 0 {
			t.Fatalf("the PIN was asked %d times, sent %d times", f.asked, f.verifies)
		}
		f.untouched(t)
	})
	t.Run("wrong-pin", func(t *testing.T) {
		f := newCard(t, p)
		_, err := enroll.Enroll(f.c, enroll.Request{Slot: card.SlotAuthentication, Key: card.KeyP256, ManagementKey: card.DefaultManagementKey(), PIN: f.pin("999999"), CA: p.CA, Profile: profile(t)})
		var e *enroll.Error
		var pe *card.PINError
		if !errors.As(err, &e) || e.Step != enroll.StepPIN || !errors.As(err, &pe) || pe.Retries != 2 {
			t.Fatalf("%v", err)
		}
		if f.verifies != 1 || f.st.PINTriesLeft() != 2 {
			t.Fatalf("%d VERIFY, %d tries left", f.verifies, f.st.PINTriesLeft())
		}
		f.untouched(t)
	})
	t.Run("blocked-pin", func(t *testing.T) {
		f := newCard(t, p)
		if err := f.st.SetRetries(3, 3); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_ = f.c.VerifyPIN(mustPIN(t, "999999"))
		}
		f.verifies = 0
		_, err := enroll.Enroll(f.c, enroll.Request{Slot: card.SlotAuthentication, Key: card.KeyP256, ManagementKey: card.DefaultManagementKey(), PIN: f.pin(vcard.DefaultPIN), CA: p.CA, Profile: profile(t)})
		if !errors.Is(err, card.ErrPINBlocked) || f.verifies != 0 || f.asked != 0 {
			t.Fatalf("%v; %d VERIFY, %d prompts", err, f.verifies, f.asked)
		}
		f.untouched(t)
	})
	t.Run("ca-refuses", func(t *testing.T) {
		f := newCard(t, p)
		_, err := enroll.Enroll(f.c, enroll.Request{Slot: card.SlotAuthentication, Key: card.KeyP256, ManagementKey: card.DefaultManagementKey(), PIN: f.pin(vcard.DefaultPIN), CA: refusingCA{}, Profile: profile(t)})
		var e *enroll.Error
		if !errors.As(err, &e) || e.Step != enroll.StepIssue || !e.KeyReplaced {
			t.Fatalf("%v", err)
		}
		// The key is new; the old certificate stays (the CA gave none).
		if der, _ := f.st.Certificate(byte(card.SlotAuthentication)); !bytes.Equal(der, f.oldCert) {
			t.Fatal("the certificate changed")
		}
	})
}

type refusingCA struct{}

func (refusingCA) IssueFromCSR(*x509.CertificateRequest, pki.Profile) (*x509.Certificate, error) {
	return nil, errors.New("pki: the CA is closed")
}

func mustPIN(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
