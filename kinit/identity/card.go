package identity

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/sclogon/sclogon/card"
)

// CardOptions are what a card identity needs from its caller.
type CardOptions struct {
	// PIN asks the person for the PIN of the certificate labelled label;
	// retries is the number of tries left (1: the last one). It is called
	// at most once per identity, and only when the card is not blocked.
	PIN func(label string, retries int) (*card.PIN, error)
	// OnDevice tells the person to enter the PIN of the certificate
	// labelled label on the card's own PIN pad or fingerprint reader; it
	// is called instead of PIN for a card with a protected authentication
	// path, before each login on it.
	OnDevice func(label string, retries int)
}

// deviceEntry is a card that takes its PIN itself (a PKCS #11 token with a
// protected authentication path): VerifyPIN(nil) waits for it.
type deviceEntry interface {
	ProtectedPath() bool
}

// Card is a PKINIT identity whose key stays on a card: it asks for the PIN
// on first use, verifies it once, and signs and decrypts in that session.
// Close wipes the PIN and closes nothing else: the caller owns the card.
type Card struct {
	c     card.Card
	slot  card.Slot
	cert  *x509.Certificate
	label string
	opt   CardOptions

	pin      *card.PIN
	verified bool
	failed   error
	verifies int
}

// NewCard makes the identity of the certificate cert in slot of c.
func NewCard(c card.Card, slot card.Slot, cert *x509.Certificate, label string, opt CardOptions) *Card {
	return &Card{c: c, slot: slot, cert: cert, label: label, opt: opt}
}

// Certificate returns the card's certificate.
func (k *Card) Certificate() *x509.Certificate { return k.cert }

// Chain is empty: PIV cards hold no intermediates in key slots.
func (k *Card) Chain() []*x509.Certificate { return nil }

// Label names the identity: "card slot 9a (alice@example.com)".
func (k *Card) Label() string { return fmt.Sprintf("card slot %s (%s)", k.slot, k.label) }

// Signer signs on the card.
func (k *Card) Signer() crypto.Signer { return cardSigner{k} }

// Decrypter decrypts on the card; only RSA keys decrypt.
func (k *Card) Decrypter() (crypto.Decrypter, bool) {
	if _, ok := k.cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, false
	}
	return cardSigner{k}, true
}

// Verifies counts the VERIFY commands sent with a PIN.
func (k *Card) Verifies() int { return k.verifies }

// Close wipes the PIN.
func (k *Card) Close() error {
	k.pin.Wipe()
	k.pin = nil
	return nil
}

// login verifies the PIN once per identity. A blocked PIN sends no VERIFY;
// a refused one is not retried.
func (k *Card) login() error {
	if k.verified {
		return nil
	}
	if k.failed != nil {
		return k.failed
	}
	n, err := k.c.PINRetries()
	if err != nil {
		return err
	}
	switch n {
	case 0:
		k.failed = card.ErrPINBlocked
		return k.failed
	case -1: // already verified in this session
		k.verified = true
		return nil
	}
	pin, err := k.askPIN(n)
	if err != nil {
		return err
	}
	k.verifies++
	if err := k.c.VerifyPIN(pin); err != nil {
		pin.Wipe()
		k.failed = err
		return err
	}
	k.pin, k.verified = pin, true
	return nil
}

// askPIN asks the person for the PIN; on a card that takes it on the device
// it tells them to enter it there and is nil.
func (k *Card) askPIN(retries int) (*card.PIN, error) {
	if d, ok := k.c.(deviceEntry); ok && d.ProtectedPath() {
		if k.opt.OnDevice != nil {
			k.opt.OnDevice(k.label, retries)
		}
		return nil, nil
	}
	if k.opt.PIN == nil {
		return nil, errors.New("identity: the card needs a PIN and there is no way to ask for it")
	}
	return k.opt.PIN(k.label, retries)
}

// contextPIN is the PIN for one more login right before an operation: the
// kept one, or asked now (once) when the first login needed none.
func (k *Card) contextPIN() (*card.PIN, error) {
	if k.failed != nil {
		return nil, k.failed
	}
	if k.pin != nil {
		return k.pin, nil
	}
	pin, err := k.askPIN(card.RetriesUncounted)
	if err != nil {
		k.failed = err
		return nil, err
	}
	k.pin = pin
	return pin, nil
}

// do runs op after login; a key whose PIN policy is "always" wants VERIFY
// right before each use, which the kept PIN answers without asking again.
func (k *Card) do(op func() ([]byte, error)) ([]byte, error) {
	if err := k.login(); err != nil {
		return nil, err
	}
	out, err := op()
	if errors.Is(err, card.ErrSecurityStatus) && k.pin != nil {
		k.verifies++
		if err := k.c.VerifyPIN(k.pin); err != nil {
			return nil, err
		}
		out, err = op()
	}
	var pe *card.PINError
	if errors.As(err, &pe) || errors.Is(err, card.ErrPINBlocked) { // a context-specific login refused it: never again
		k.pin.Wipe()
		k.pin, k.failed = nil, err
	}
	return out, err
}

type cardSigner struct{ k *Card }

func (s cardSigner) Public() crypto.PublicKey { return s.k.cert.PublicKey }

func (s cardSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.k.do(func() ([]byte, error) { return s.k.c.Sign(s.k.slot, s.k.cert.PublicKey, digest, opts) })
	if err != nil {
		return nil, err
	}
	if !card.KeyMatches(s.k.cert.PublicKey, digest, sig, opts) {
		return nil, fmt.Errorf("%w: the key in slot %s", ErrKeyMismatch, s.k.slot)
	}
	return sig, nil
}

func (s cardSigner) Decrypt(_ io.Reader, msg []byte, _ crypto.DecrypterOpts) ([]byte, error) {
	return s.k.do(func() ([]byte, error) { return s.k.c.Decrypt(s.k.slot, s.k.cert.PublicKey, msg) })
}
