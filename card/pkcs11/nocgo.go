//go:build !cgo

package pkcs11

import (
	"crypto"
	"crypto/x509"

	"github.com/sclogon/sclogon/card"
)

// Token is unavailable in this build: [Open] reports [ErrUnavailable].
type Token struct{}

// Open reports [ErrUnavailable].
func Open(Config) (*Token, error) { return nil, ErrUnavailable }

// Label is empty.
func (*Token) Label() string { return "" }

// SlotID is 0.
func (*Token) SlotID() uint { return 0 }

// Calls is 0.
func (*Token) Calls() int { return 0 }

// Reader is empty.
func (*Token) Reader() string { return "" }

// ID reports [ErrUnavailable].
func (*Token) ID() (card.ID, error) { return card.ID{}, ErrUnavailable }

// Objects reports [ErrUnavailable].
func (*Token) Objects() ([]Object, error) { return nil, ErrUnavailable }

// Certificates reports [ErrUnavailable].
func (*Token) Certificates() ([]card.Certificate, error) { return nil, ErrUnavailable }

// Certificate reports [ErrUnavailable].
func (*Token) Certificate(card.Slot) (*x509.Certificate, error) { return nil, ErrUnavailable }

// PINRetries reports [ErrUnavailable].
func (*Token) PINRetries() (int, error) { return 0, ErrUnavailable }

// ProtectedPath is false.
func (*Token) ProtectedPath() bool { return false }

// PINLength is 0, 0.
func (*Token) PINLength() (min, max uint) { return 0, 0 }

// ContextPIN does nothing.
func (*Token) ContextPIN(func() (*card.PIN, error)) {}

// VerifyPIN reports [ErrUnavailable].
func (*Token) VerifyPIN(*card.PIN) error { return ErrUnavailable }

// ChangePIN reports [ErrUnavailable].
func (*Token) ChangePIN(_, _ *card.PIN) error { return ErrUnavailable }

// UnblockPIN reports [ErrUnavailable].
func (*Token) UnblockPIN(_, _ *card.PIN) error { return ErrUnavailable }

// Sign reports [ErrUnavailable].
func (*Token) Sign(card.Slot, crypto.PublicKey, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, ErrUnavailable
}

// Decrypt reports [ErrUnavailable].
func (*Token) Decrypt(card.Slot, crypto.PublicKey, []byte) ([]byte, error) {
	return nil, ErrUnavailable
}

// Close does nothing.
func (*Token) Close() error { return nil }

// Presence is unavailable in this build: [NewPresence] reports
// [ErrUnavailable].
type Presence struct{}

// NewPresence reports [ErrUnavailable].
func NewPresence(Config) (*Presence, error) { return nil, ErrUnavailable }

// Readers reports [ErrUnavailable].
func (*Presence) Readers() ([]string, error) { return nil, ErrUnavailable }

// Close does nothing.
func (*Presence) Close() error { return nil }
