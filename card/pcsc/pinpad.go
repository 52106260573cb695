//go:build cgo && (linux || freebsd || openbsd)

package pcsc

import (
	"fmt"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
)

// padCard is a PIV card in a reader with a PIN pad: a nil PIN is typed on
// the reader (FEATURE_VERIFY_PIN_DIRECT, FEATURE_MODIFY_PIN_DIRECT) and never
// crosses the host; a PIN given is sent as by any card. Everything else is
// the generic client's.
type padCard struct {
	*apdu.Card
	conn           *Conn
	reader         string
	verify, modify uint32 // the reader's control codes; 0 when absent
	notice         func(reader string)
}

// newPadCard asks the reader for its features; nil when it cannot verify a
// PIN on its pad.
func newPadCard(c *apdu.Card, conn *Conn, reader string, notice func(string)) *padCard {
	resp, err := conn.Control(ioctlGetFeatureRequest, nil)
	if err != nil {
		return nil // a reader without part 10 refuses the request
	}
	fs, err := features(resp)
	if err != nil || fs[featureVerifyPINDirect] == 0 {
		return nil
	}
	return &padCard{Card: c, conn: conn, reader: reader, verify: fs[featureVerifyPINDirect], modify: fs[featureModifyPINDirect], notice: notice}
}

// ProtectedPath reports that the card takes its PIN on the reader: callers
// pass a nil PIN and tell the person to type it there.
func (c *padCard) ProtectedPath() bool { return true }

// PINPadReader names the reader whose PIN pad takes the PIN.
func (c *padCard) PINPadReader() string { return c.reader }

// VerifyPIN with a nil PIN has the person type it on the reader; a wrong
// one costs one try and is a [*card.PINError] as from the keyboard.
func (c *padCard) VerifyPIN(pin *card.PIN) error { return c.VerifyRole(card.RolePIN, pin) }

// VerifyRole is VerifyPIN for the PIV PIN or the global PIN; the PUK and a
// PIN given are sent as by the keyboard.
func (c *padCard) VerifyRole(role card.PINRole, pin *card.PIN) error {
	if pin != nil || role == card.RolePUK {
		return card.Verify(c.Card, role, pin)
	}
	return c.onPad(c.verify, verifyStructure(0, role.KeyRef()), "VERIFY", role)
}

// ChangePIN with two nil PINs has the person type the current PIN, the new
// one and its confirmation on the reader.
func (c *padCard) ChangePIN(old, new *card.PIN) error { return c.ChangeRole(card.RolePIN, old, new) }

// ChangeRole is ChangePIN for any role, the PUK included.
func (c *padCard) ChangeRole(role card.PINRole, old, new *card.PIN) error {
	if old != nil || new != nil {
		if rc, ok := any(c.Card).(card.RoleCard); ok {
			return rc.ChangeRole(role, old, new)
		}
		return c.Card.ChangePIN(old, new)
	}
	if c.modify == 0 {
		return fmt.Errorf("pcsc: the PIN pad of %s cannot change a PIN; type the PINs on the host instead", c.reader)
	}
	return c.onPad(c.modify, modifyStructure(0, role.KeyRef()), "CHANGE REFERENCE DATA", role)
}

// UnblockPIN with two nil PINs has the person type the PUK, the new PIN and
// its confirmation on the reader (RESET RETRY COUNTER); a wrong PUK costs
// one of its tries and is a [*card.PINError] with PUK set.
func (c *padCard) UnblockPIN(puk, new *card.PIN) error {
	if puk != nil || new != nil {
		return c.Card.UnblockPIN(puk, new)
	}
	if c.modify == 0 {
		return fmt.Errorf("pcsc: the PIN pad of %s cannot unblock a PIN; type the PUK and the new PIN on the host instead", c.reader)
	}
	return c.onPad(c.modify, unblockStructure(0), "RESET RETRY COUNTER", card.RolePUK)
}

// onPad tells the person to type on the reader and runs the feature.
func (c *padCard) onPad(code uint32, structure []byte, op string, role card.PINRole) error {
	if c.notice != nil {
		c.notice(c.reader)
	}
	resp, err := c.conn.Control(code, structure)
	if err != nil {
		return err
	}
	return padStatus(op+" on the PIN pad", resp, role)
}
