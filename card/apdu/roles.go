package apdu

import (
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/card"
)

const (
	insGetMetadata = 0xF7 // YubiKey GET METADATA (firmware 5.3 on)
	tagDiscovery   = 0x7E
)

// PIN usage policy bits of the discovery object (SP 800-73-4 Part 1
// §3.3.2): first byte, which PINs satisfy the PIV access rules; second
// byte, which one is primary when both do.
const (
	usagePIVPIN        = 0x40
	usageGlobalPIN     = 0x20
	usageGlobalPrimary = 0x20
)

// KeyPINPolicy reads the key's PIN policy with GET METADATA (tag 02, first
// byte), where the card offers it; [card.KeyPINDefault] when it does not.
func (c *Card) KeyPINPolicy(slot card.Slot) (card.KeyPINPolicy, error) {
	if p, ok := c.policies[slot]; ok {
		return p, nil
	}
	resp, sw, err := c.exchange(0x00, insGetMetadata, 0x00, byte(slot), nil, 256)
	if err != nil {
		return card.KeyPINDefault, err
	}
	p := card.KeyPINDefault
	if sw == 0x9000 {
		if v, ok := findTLV(resp, 0x02); ok && len(v) >= 1 {
			p = card.KeyPINPolicy(v[0])
		}
	}
	if c.policies == nil {
		c.policies = map[card.Slot]card.KeyPINPolicy{}
	}
	c.policies[slot] = p
	return p, nil
}

// usagePolicy reads the discovery object's PIN usage policy (tag 5F2F);
// a card without the object takes the PIV PIN only.
func (c *Card) usagePolicy() ([2]byte, error) {
	if c.usage != nil {
		return *c.usage, nil
	}
	u := [2]byte{usagePIVPIN, 0x00}
	resp, sw, err := c.exchange(0x00, insGetData, 0x3F, 0xFF, []byte{0x5C, 0x01, tagDiscovery}, 256)
	if err != nil {
		return u, err
	}
	if sw == 0x9000 {
		if obj, _, ok := readTLV(resp, tagDiscovery); ok {
			if v, ok := findTLV(obj, 0x5F2F); ok && len(v) == 2 {
				u = [2]byte{v[0], v[1]}
			}
		}
	}
	c.usage = &u
	return u, nil
}

// LogonRole is the global PIN when the discovery object makes it the
// primary PIN, else the PIV PIN.
func (c *Card) LogonRole() (card.PINRole, error) {
	u, err := c.usagePolicy()
	if err != nil {
		return card.RolePIN, err
	}
	switch {
	case u[0]&usageGlobalPIN != 0 && u[0]&usagePIVPIN == 0:
		return card.RoleGlobalPIN, nil
	case u[0]&usageGlobalPIN != 0 && u[1] == usageGlobalPrimary:
		return card.RoleGlobalPIN, nil
	}
	return card.RolePIN, nil
}

// Roles lists the PIV PIN, the global PIN when the discovery object says
// it satisfies the access rules, and the PUK when the card answers for it.
func (c *Card) Roles() ([]card.PINRole, error) {
	u, err := c.usagePolicy()
	if err != nil {
		return nil, err
	}
	roles := []card.PINRole{card.RolePIN}
	if u[0]&usageGlobalPIN != 0 {
		roles = append(roles, card.RoleGlobalPIN)
	}
	if _, err := c.RoleRetries(card.RolePUK); err == nil {
		roles = append(roles, card.RolePUK)
	} else if !errors.Is(err, card.ErrNotFound) {
		return nil, err
	}
	return roles, nil
}

// RoleRetries asks VERIFY without data on the role's key reference. A card
// that does not answer that for the PUK is asked GET METADATA (tag 06:
// tries allowed, tries left), as YubiKeys answer it.
func (c *Card) RoleRetries(role card.PINRole) (int, error) {
	_, sw, err := c.exchange(0x00, insVerify, 0x00, role.KeyRef(), nil, 0)
	if err != nil {
		return 0, err
	}
	switch {
	case sw == 0x9000:
		return -1, nil
	case sw&0xFFF0 == 0x63C0:
		return int(sw & 0x0F), nil
	case sw == 0x6983:
		return 0, nil
	case role == card.RolePUK:
		return c.metadataRetries(role)
	case sw == 0x6A88 || sw == 0x6A86:
		return 0, fmt.Errorf("%w: the card has no %s", card.ErrNotFound, role)
	}
	return 0, &card.StatusError{Op: role.String() + " status", SW: sw}
}

func (c *Card) metadataRetries(role card.PINRole) (int, error) {
	resp, sw, err := c.exchange(0x00, insGetMetadata, 0x00, role.KeyRef(), nil, 256)
	if err != nil {
		return 0, err
	}
	if sw != 0x9000 {
		return 0, fmt.Errorf("%w: the card tells no %s tries", card.ErrNotFound, role)
	}
	v, ok := findTLV(resp, 0x06)
	if !ok || len(v) != 2 {
		return 0, fmt.Errorf("card: GET METADATA %s: malformed answer", role)
	}
	return int(v[1]), nil
}

// VerifyRole sends VERIFY with the padded PIN to the role's key reference.
func (c *Card) VerifyRole(role card.PINRole, pin *card.PIN) error {
	var buf [8]byte
	defer clear(buf[:])
	if err := pin.Padded(&buf); err != nil {
		return err
	}
	_, sw, err := c.exchange(0x00, insVerify, 0x00, role.KeyRef(), buf[:], 0)
	if err != nil {
		return err
	}
	return roleError("VERIFY", sw, role)
}

// ChangeRole sends CHANGE REFERENCE DATA to the role's key reference: the
// PIN, the global PIN or the PUK.
func (c *Card) ChangeRole(role card.PINRole, old, new *card.PIN) error {
	return c.twoPINs(insChangeRef, "CHANGE REFERENCE DATA", role.KeyRef(), old, new, role)
}

// ResetRole sends VERIFY with P1 FF: the role is no longer verified.
func (c *Card) ResetRole(role card.PINRole) error {
	_, sw, err := c.exchange(0x00, insVerify, 0xFF, role.KeyRef(), nil, 0)
	if err != nil {
		return err
	}
	return roleError("VERIFY (reset)", sw, role)
}

// roleError is statusError with the role in a refused PIN's error.
func roleError(op string, sw uint16, role card.PINRole) error {
	err := statusError(op, sw, role == card.RolePUK)
	var pe *card.PINError
	if errors.As(err, &pe) {
		pe.Role = role
	}
	return err
}
