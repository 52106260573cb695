//go:build !cgo

package piv

import (
	"errors"

	"github.com/sclogon/sclogon/card"
)

// ErrUnavailable: this build has no piv-go (built without cgo).
var ErrUnavailable = errors.New("piv: this build of sclogon has no piv-go backend (built without cgo)")

// ErrNotYubiKey: piv-go cannot open this card.
var ErrNotYubiKey = errors.New("piv: piv-go cannot open this card (no YubiKey GET VERSION)")

// Provider is unavailable in this build. Its fields are those of the cgo
// build's, so that callers build either way.
type Provider struct {
	NoPINPad bool
	OnPINPad func(reader string)
}

// Readers reports [ErrUnavailable].
func (Provider) Readers() ([]string, error) { return nil, ErrUnavailable }

// Open reports [ErrUnavailable].
func (Provider) Open(string) (card.Card, error) { return nil, ErrUnavailable }
