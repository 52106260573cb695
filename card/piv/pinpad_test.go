//go:build cgo

package piv_test

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/piv"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/identity"
)

// TestPinPadPivGo: a YubiKey-like card in a PIN-pad reader under pcscd,
// opened by piv-go, takes its PIN on the reader: a wrong one costs exactly
// one try (the card's counter) and is a PINError; the right one lets the
// logon identity sign, and the host is never asked for the PIN.
func TestPinPadPivGo(t *testing.T) {
	p := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true})
	pad := p.PINPad
	st := cardtest.NewState(t)
	ca := cardtest.NewPKI(t)
	key := cardtest.Key(t, pki.RSA2048)
	cert := ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
	cardtest.Put(t, st, card.SlotAuthentication, key, cert)
	o := serve(t, st, false, pad.CardAddr)
	// The PIN pad is asked for before piv-go opens the card; a card that
	// comes between the two (as it does while the test serves it) would be
	// opened without it. The wait is for the card to have answered its
	// reset in the reader (SCardGetStatusChange), not a speed.
	if _, err := (pcsc.Provider{Wait: 10 * time.Second, Reader: pad.Reader}).Readers(); err != nil {
		t.Fatalf("no card in %s: %v", pad.Reader, err)
	}
	var c card.Card
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if c, err = (piv.Provider{}).Open(pad.Reader); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("piv-go cannot open the card in %s: %v", pad.Reader, err)
		}
	}
	defer c.Close()
	pp, ok := c.(interface{ ProtectedPath() bool })
	if !ok || !pp.ProtectedPath() {
		t.Fatalf("piv-go's card in the PIN-pad reader is %T, no PIN pad", c)
	}

	before, sent := o.pinTries(), o.count()
	pad.Type(t, "999999")
	var pe *card.PINError
	if err := c.VerifyPIN(nil); !errors.As(err, &pe) || pe.Retries != before-1 {
		t.Fatalf("wrong PIN on the pad: %v", err)
	}
	if o.pinTries() != before-1 || o.count() != sent+1 {
		t.Fatalf("one wrong PIN on the pad: the card counts %d tries (had %d) and %d VERIFY", o.pinTries(), before, o.count()-sent)
	}

	told := 0
	id := identity.NewCard(c, card.SlotAuthentication, cert, "alice@example.com", identity.CardOptions{
		PIN:      func(string, int) (*card.PIN, error) { t.Fatal("the PIN was asked on the host"); return nil, nil },
		OnDevice: func(string, int) { told++; pad.Type(t, vcard.DefaultPIN) },
	})
	digest := sha256.Sum256([]byte("AuthPack"))
	if _, err := id.Signer().Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if told != 1 || o.pinTries() != 3 {
		t.Fatalf("told %d times; %d tries left after the right PIN", told, o.pinTries())
	}
}
