//go:build cgo

package piv

import (
	"fmt"

	"github.com/sclogon/sclogon/card"
)

// KeyPINPolicy reads the key's PIN policy from the YubiKey's GET METADATA
// (firmware 5.3 on); [card.KeyPINDefault] with an error when the key cannot
// tell, so the slot's default applies.
func (c *Card) KeyPINPolicy(slot card.Slot) (card.KeyPINPolicy, error) {
	ps, ok := slotOf(slot)
	if !ok {
		return card.KeyPINDefault, fmt.Errorf("piv: no slot %s", slot)
	}
	ki, err := c.yk.KeyInfo(ps)
	if err != nil {
		return card.KeyPINDefault, fmt.Errorf("piv: slot %s: %w", slot, err)
	}
	// piv-go numbers the policies as YubiKeys do on the wire: never 1,
	// once 2, always 3.
	return card.KeyPINPolicy(ki.PINPolicy), nil
}
