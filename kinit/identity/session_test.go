package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/kinit/identity"
)

// transacting is a card with a PC/SC card's exclusive use (card.Transactor),
// recorded: whether it is held, and whether it was at each prompt.
type transacting struct {
	card.Card
	held              bool
	acquires, release int
	heldAtPrompt      []bool
}

func (c *transacting) Unwrap() card.Card { return c.Card }
func (c *transacting) Acquire() error    { c.held = true; c.acquires++; return nil }
func (c *transacting) Release() error    { c.held = false; c.release++; return nil }

// sessionIdentity is the identity of slot on r's card seen through a
// transacting card, every prompt answered with the default PIN.
func sessionIdentity(r *pinRig, slot card.Slot) (*identity.Card, *transacting) {
	tc := &transacting{Card: r.c}
	id := identity.NewCard(tc, slot, r.certs[slot], "alice@EXAMPLE.COM", identity.CardOptions{
		Ask: func(context.Context, card.PINRequest) (*card.PIN, error) {
			tc.heldAtPrompt = append(tc.heldAtPrompt, tc.held)
			return card.NewPIN([]byte(vcard.DefaultPIN))
		},
	})
	tc.release = 0 // NewCard lets the card go at once (the opening's transaction)
	return id, tc
}

// keyTransport signs with id and decrypts with it, as RSA key transport does.
func keyTransport(t *testing.T, r *pinRig, id *identity.Card) {
	t.Helper()
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	pub := r.certs[card.SlotAuthentication].PublicKey.(*rsa.PublicKey)
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("reply key"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := id.Decrypter()
	if pt, err := d.Decrypt(rand.Reader, ct, nil); err != nil || string(pt) != "reply key" {
		t.Fatalf("decrypt %q %v", pt, err)
	}
}

// TestSessionKeepsCard: in a session the card is kept from the signature
// to the decryption, and the PIN verified for one serves the other; the
// prompt still comes with the card released; end lets it go.
func TestSessionKeepsCard(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id, tc := sessionIdentity(r, card.SlotAuthentication)
	defer id.Close()
	end := id.Session()
	keyTransport(t, r, id)
	if !tc.held || len(tc.heldAtPrompt) != 1 || tc.heldAtPrompt[0] || r.verified(0x80) != 1 {
		t.Fatalf("in the session: held %v, prompts (held at each) %v, %d VERIFY; want held, one prompt released, 1 VERIFY", tc.held, tc.heldAtPrompt, r.verified(0x80))
	}
	if err := end(); err != nil || tc.held || tc.acquires != tc.release {
		t.Fatalf("after end: %v, held %v, %d acquires and %d releases", err, tc.held, tc.acquires, tc.release)
	}
	// Without a session each operation lets the card go.
	// As another application's reset would: the PIN no longer verified,
	// the PIV application selected again.
	r.soft.Reset()
	if _, err := r.soft.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		t.Fatal(err)
	}
	keyTransport(t, r, id)
	if tc.held || tc.acquires != tc.release {
		t.Fatalf("without a session: held %v, %d acquires and %d releases", tc.held, tc.acquires, tc.release)
	}
}

// TestSessionAlwaysAsksEachUse: a key whose policy is "always" asks for
// the decryption too, in a session as out of one, and the card is released
// while the person is asked; Close ends a session still open.
func TestSessionAlwaysAsksEachUse(t *testing.T) {
	r := newPINRig(t, false, map[card.Slot]vcard.PINPolicy{card.SlotAuthentication: vcard.PINPolicyAlways}, nil)
	id, tc := sessionIdentity(r, card.SlotAuthentication)
	id.Session()
	keyTransport(t, r, id)
	if len(tc.heldAtPrompt) != 2 || tc.heldAtPrompt[0] || tc.heldAtPrompt[1] || r.verified(0x80) != 2 {
		t.Fatalf("prompts (held at each) %v, %d VERIFY; want two prompts, both released, 2 VERIFY", tc.heldAtPrompt, r.verified(0x80))
	}
	if err := id.Close(); err != nil || tc.held {
		t.Fatalf("Close in a session: %v, held %v", err, tc.held)
	}
}
