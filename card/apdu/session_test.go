package apdu_test

import (
	"errors"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
)

// reader is a reader whose card can be swapped while the client does not
// hold it; it counts its transactions the way a PC/SC connection has them.
type reader struct {
	card           *vcard.Card
	held           bool
	begins, resets int
	transmitUnheld int
}

func (r *reader) Transmit(cmd []byte) ([]byte, error) {
	if !r.held {
		r.transmitUnheld++
	}
	return r.card.Transmit(cmd)
}

func (r *reader) EndTransaction(reset bool) error {
	r.held = false
	if reset {
		r.resets++
		r.card.Reset()
	}
	return nil
}

func (r *reader) BeginTransaction() (bool, error) {
	r.held = true
	r.begins++
	return false, nil
}

// TestReleaseAcquire: Release resets a verified PIN before letting go of
// the card (no other application signs on it meanwhile); Acquire selects
// the PIV application again and refuses a card that is not the one opened.
func TestReleaseAcquire(t *testing.T) {
	r := &reader{card: vcard.New(cardtest.NewState(t), vcard.Options{}), held: true}
	c, err := apdu.Open(r, "swap reader", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ID(); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(pin(t, vcard.DefaultPIN)); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.PINRetries(); n != 3 { // sent unheld on purpose: what another application sees
		t.Fatalf("after Release the PIN status is %d, want 3 tries (not verified)", n)
	}
	if r.resets != 0 {
		t.Fatalf("%d card resets: VERIFY P1 FF should have served", r.resets)
	}
	r.transmitUnheld = 0
	if err := c.Acquire(); err != nil {
		t.Fatal(err)
	}
	if r.begins != 1 || r.transmitUnheld != 0 {
		t.Fatalf("Acquire: %d transactions begun, %d commands outside one", r.begins, r.transmitUnheld)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	r.card = vcard.New(cardtest.NewState(t), vcard.Options{}) // another card, another GUID
	if err := c.Acquire(); !errors.Is(err, card.ErrCardChanged) {
		t.Fatalf("Acquire after the card changed: %v, want ErrCardChanged", err)
	}
}
