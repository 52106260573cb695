// Package cardkey is a private key that stays on a card, as a
// [crypto.Signer]: for a KDC (or any service) whose signing key lives on a
// smart card or on the software card, behind the card seam ([card.Card]).
//
// Call [Open] with a key spec, or [New] with a card already open:
//
//	vcard:PATH#SLOT    the software PIV card whose state file is PATH, run in this process
//	pcsc:READER#SLOT   the card in a PC/SC reader (pcscd), by the reader's name
//
// # The PIN
//
// The PIN is not kept in memory. It comes from a function (read from a file
// that only the service can read, say) each time the card asks for it: at
// [New], so that a wrong PIN stops the service at start-up, and again only
// when the card answers that it must be verified (a key whose PIN policy is
// "always", or a card that was reset). A PIN the card refuses is never
// presented again: the Signer fails closed, so a wrong PIN costs one try,
// not one per request.
package cardkey

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sclogon/sclogon/card"
)

// ErrPINRefused: the card refused the PIN once; the Signer presents no more.
var ErrPINRefused = errors.New("cardkey: the card refused the PIN; restart with the right one")

// PINSource returns the PIN, to be wiped by the caller after use.
type PINSource func() (*card.PIN, error)

// Signer signs with the key in one slot of a card. It is safe for concurrent
// use: signatures are serialised, as a card does one thing at a time.
type Signer struct {
	mu      sync.Mutex
	card    card.Card
	slot    card.Slot
	cert    *x509.Certificate
	pin     PINSource
	refused bool
}

// New is a Signer over the key in slot of c. cert is the key's certificate;
// nil reads it from the slot. pin is nil for a key that needs no PIN; else
// it is asked once now, so a wrong PIN is found at start-up.
func New(c card.Card, slot card.Slot, cert *x509.Certificate, pin PINSource) (*Signer, error) {
	if cert == nil {
		var err error
		if cert, err = c.Certificate(slot); err != nil {
			return nil, fmt.Errorf("cardkey: the certificate of slot %v: %w", slot, err)
		}
	}
	s := &Signer{card: c, slot: slot, cert: cert, pin: pin}
	if pin != nil {
		if err := s.verifyPIN(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Public is the public key of the slot's certificate.
func (s *Signer) Public() crypto.PublicKey { return s.cert.PublicKey }

// Certificate is the key's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Slot is the key's slot.
func (s *Signer) Slot() card.Slot { return s.slot }

// Sign signs digest on the card: PKCS #1 v1.5 for RSA, ASN.1 ECDSA. When
// the card wants the PIN, it is asked from the PIN source and presented once.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sig, err := s.card.Sign(s.slot, s.cert.PublicKey, digest, opts)
	if !errors.Is(err, card.ErrSecurityStatus) || s.pin == nil {
		return sig, wrap(err)
	}
	if err := s.verifyPIN(); err != nil {
		return nil, err
	}
	sig, err = s.card.Sign(s.slot, s.cert.PublicKey, digest, opts)
	return sig, wrap(err)
}

// Close ends the card session.
func (s *Signer) Close() error { return s.card.Close() }

// verifyPIN presents the PIN from the source, unless the card refused one
// before. Called with s.mu held, or before s is shared.
func (s *Signer) verifyPIN() error {
	if s.refused {
		return ErrPINRefused
	}
	p, err := s.pin()
	if err != nil {
		return fmt.Errorf("cardkey: the PIN: %w", err)
	}
	defer p.Wipe()
	err = s.card.VerifyPIN(p)
	var perr *card.PINError
	if errors.As(err, &perr) || errors.Is(err, card.ErrPINBlocked) {
		s.refused = true
		return fmt.Errorf("%w: %w", ErrPINRefused, err)
	}
	return wrap(err)
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("cardkey: %w", err)
}

// Spec is a parsed key spec: where the card is and which slot holds the key.
type Spec struct {
	Kind   string // "vcard" or "pcsc"
	Target string // the state file (vcard) or the reader's name (pcsc)
	Slot   card.Slot
}

// IsSpec reports whether s names a key on a card rather than a key file.
func IsSpec(s string) bool {
	return strings.HasPrefix(s, "vcard:") || strings.HasPrefix(s, "pcsc:")
}

// ParseSpec reads "vcard:PATH#SLOT" or "pcsc:READER#SLOT" (SLOT in hex: 9a,
// 9c, 9d, 9e or a retired slot 82–95).
func ParseSpec(s string) (Spec, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || (kind != "vcard" && kind != "pcsc") {
		return Spec{}, fmt.Errorf("cardkey: %q is not vcard:PATH#SLOT or pcsc:READER#SLOT", s)
	}
	i := strings.LastIndexByte(rest, '#')
	if i <= 0 {
		return Spec{}, fmt.Errorf("cardkey: %q names no slot; write %s:%s#9a", s, kind, rest)
	}
	slot, err := card.ParseSlot(rest[i+1:])
	if err != nil {
		return Spec{}, fmt.Errorf("cardkey: %q: %w", s, err)
	}
	return Spec{Kind: kind, Target: rest[:i], Slot: slot}, nil
}

func (s Spec) String() string { return fmt.Sprintf("%s:%s#%02x", s.Kind, s.Target, byte(s.Slot)) }
