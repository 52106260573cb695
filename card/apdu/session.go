package apdu

import (
	"fmt"

	"github.com/sclogon/sclogon/card"
)

// transactor is a transmitter whose exclusive use can be released and taken
// again: a PC/SC connection (package pcsc's Conn).
type transactor interface {
	EndTransaction(reset bool) error
	BeginTransaction() (reset bool, err error)
}

// Release ends the exclusive use of the card (see [card.Transactor]); a
// transmitter without transactions (the in-process software card) has
// nothing to release. A PIN still verified is reset first (VERIFY with P1
// FF), so that no other application signs with the card on this session's
// PIN while it does not hold the card; a card that cannot reset a PIN is
// reset as a whole.
func (c *Card) Release() error {
	t, ok := c.t.(transactor)
	if !ok || c.released {
		return nil
	}
	reset, err := c.deauthenticate()
	if err != nil {
		reset = true
	}
	if err := t.EndTransaction(reset); err != nil {
		return err
	}
	c.released = true
	return nil
}

// deauthenticate resets the verified state of the PIV PIN and, where the
// card has one that serves PIV, the global PIN. whole is true when a PIN is
// verified and the card refused to reset it.
func (c *Card) deauthenticate() (whole bool, err error) {
	refs := []byte{card.RolePIN.KeyRef()}
	if u, err := c.usagePolicy(); err == nil && u[0]&usageGlobalPIN != 0 {
		refs = append(refs, card.RoleGlobalPIN.KeyRef())
	}
	for _, ref := range refs {
		_, sw, err := c.exchange(0x00, insVerify, 0x00, ref, nil, 0)
		if err != nil {
			return true, err
		}
		if sw != 0x9000 {
			continue // not verified
		}
		if _, sw, err = c.exchange(0x00, insVerify, 0xFF, ref, nil, 0); err != nil || sw != 0x9000 {
			return true, err
		}
	}
	return false, nil
}

// Acquire takes the card back after [Card.Release]: the transaction, the
// PIV application selected again (another application may have selected
// its own, or reset the card), and the card's identity read again and
// compared with the one read before: [card.ErrCardChanged] when it differs.
func (c *Card) Acquire() error {
	t, ok := c.t.(transactor)
	if !ok || !c.released {
		return nil
	}
	if _, err := t.BeginTransaction(); err != nil {
		return err
	}
	c.released = false
	_, sw, err := c.exchange(0x00, insSelect, 0x04, 0x00, pivAID, 256)
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return fmt.Errorf("%w: it has no PIV application now (SELECT answered %04X)", card.ErrCardChanged, sw)
	}
	was := c.id
	c.id = nil
	now, err := c.ID()
	if err != nil {
		return err
	}
	if was != nil && *was != now {
		return fmt.Errorf("%w: it was %s, it is %s", card.ErrCardChanged, was, now)
	}
	return nil
}
