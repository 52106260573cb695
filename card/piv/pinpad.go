//go:build cgo

package piv

import (
	"errors"
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
)

// padCard is a card opened by piv-go in a reader with a PIN pad (PC/SC part
// 10): a nil PIN is typed on the reader and never crosses the host. piv-go
// holds the card exclusively and cannot send the reader's PIN commands, so
// for the time the person types, piv-go's session is closed (leaving the
// card as it is) and the PIN pad speaks through a PC/SC session of its own;
// piv-go then opens the card again, whose PIN stays verified.
type padCard struct {
	*Card
	pad *pcsc.PINPad
}

// withPINPad gives c the reader's PIN pad, when it has one.
func withPINPad(c *Card, pad *pcsc.PINPad) card.Card {
	if pad == nil {
		return c
	}
	return &padCard{Card: c, pad: pad}
}

// ProtectedPath reports that the card takes its PIN on the reader: callers
// pass a nil PIN and tell the person to type it there.
func (c *padCard) ProtectedPath() bool { return true }

// PINPadReader names the reader whose PIN pad takes the PIN.
func (c *padCard) PINPadReader() string { return c.pad.Reader() }

// VerifyPIN with a nil PIN has the person type it on the reader; a wrong
// one costs one try and is a [*card.PINError] as from the keyboard.
func (c *padCard) VerifyPIN(pin *card.PIN) error {
	if pin != nil {
		return c.Card.VerifyPIN(pin)
	}
	if err := c.onPad(c.pad.Verify); err != nil {
		return err
	}
	c.verified = true
	return nil
}

// ChangePIN with two nil PINs has the person type the current PIN, the new
// one and its confirmation on the reader.
func (c *padCard) ChangePIN(old, new *card.PIN) error {
	if old != nil || new != nil {
		return c.Card.ChangePIN(old, new)
	}
	c.verified = false
	return c.onPad(c.pad.Change)
}

// UnblockPIN with two nil PINs has the person type the PUK, the new PIN and
// its confirmation on the reader.
func (c *padCard) UnblockPIN(puk, new *card.PIN) error {
	if puk != nil || new != nil {
		return c.Card.UnblockPIN(puk, new)
	}
	return c.onPad(func(card.PINRole) error { return c.pad.Unblock() })
}

// onPad runs f on the PIN pad with piv-go's session closed, then reopens it.
func (c *padCard) onPad(f func(card.PINRole) error) error {
	if err := c.yk.Close(); err != nil {
		return fmt.Errorf("piv: %s: %w", c.reader, err)
	}
	err := f(card.RolePIN)
	yk, oerr := piv.Open(c.reader)
	if oerr != nil {
		return errors.Join(err, fmt.Errorf("piv: %s: opening the card again after the PIN pad: %w", c.reader, oerr))
	}
	c.yk = yk
	return err
}
