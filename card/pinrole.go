package card

import (
	"errors"
	"fmt"
)

// PINRole names one of a card's PINs: which secret is asked for (after
// Windows' PIN_ID roles). The zero value is the PIV application PIN.
type PINRole int

const (
	// RolePIN is the PIV Card Application PIN, key reference 80
	// (SP 800-73-4 Part 1 §3.3.2, Table 4a).
	RolePIN PINRole = iota
	// RoleGlobalPIN is the card's global PIN, key reference 00, shared
	// with the card's other applications.
	RoleGlobalPIN
	// RolePUK is the PIN Unblocking Key, key reference 81.
	RolePUK
)

// KeyRef is the role's PIV key reference: 80, 00 or 81.
func (r PINRole) KeyRef() byte {
	switch r {
	case RoleGlobalPIN:
		return 0x00
	case RolePUK:
		return 0x81
	}
	return 0x80
}

// String names the role for a person: "PIV PIN", "global PIN", "PUK".
func (r PINRole) String() string {
	switch r {
	case RoleGlobalPIN:
		return "global PIN"
	case RolePUK:
		return "PUK"
	}
	return "PIV PIN"
}

// short is the role in error text: "PIN", "global PIN", "PUK".
func (r PINRole) short() string {
	if r == RolePIN {
		return "PIN"
	}
	return r.String()
}

// PINPurpose says what a PIN is asked for, after Windows' SECRET_PURPOSE;
// prompts name it so the person knows what the card will do.
type PINPurpose int

const (
	PurposeUnspecified PINPurpose = iota
	// PurposeSignLogon: the key signs the PKINIT request (the AuthPack).
	PurposeSignLogon
	// PurposeDecryptReply: the key decrypts the KDC's reply key (RSA key
	// transport).
	PurposeDecryptReply
	// PurposeSign: a signature other than a logon's.
	PurposeSign
	// PurposeChange: the PIN or PUK is changed.
	PurposeChange
	// PurposeUnblock: the PUK unblocks the PIN.
	PurposeUnblock
)

// String is the purpose as the end of a prompt: "to sign the logon request".
func (p PINPurpose) String() string {
	switch p {
	case PurposeSignLogon:
		return "to sign the logon request"
	case PurposeDecryptReply:
		return "to decrypt the KDC's reply"
	case PurposeSign:
		return "to sign"
	case PurposeChange:
		return "to change it"
	case PurposeUnblock:
		return "to unblock the PIN"
	}
	return ""
}

// PINRequest is what a prompt needs to ask for a PIN.
type PINRequest struct {
	Role    PINRole
	Purpose PINPurpose
	// For names whose key it is: "alice@EXAMPLE.COM", a reader, a token.
	For string
	// Retries is the tries left (see [TriesLeft]); 1 is the last.
	Retries int
}

// Prompt is the request as one line ending in ": ":
// "PIV PIN for alice@EXAMPLE.COM to sign the logon request (3 tries left): ".
func (r PINRequest) Prompt() string {
	s := r.Role.String()
	if r.For != "" {
		s += " for " + r.For
	}
	if p := r.Purpose.String(); p != "" {
		s += " " + p
	}
	return fmt.Sprintf("%s (%s): ", s, TriesLeft(r.Retries))
}

// KeyPINPolicy is a key's own PIN policy, as the card enforces it. The
// values are those YubiKeys use on the wire (GET METADATA and key
// generation, tag AA).
type KeyPINPolicy byte

const (
	// KeyPINDefault: the slot's default (see [DefaultKeyPINPolicy]).
	KeyPINDefault KeyPINPolicy = 0
	// KeyPINNever: the key works without a PIN; none is asked.
	KeyPINNever KeyPINPolicy = 1
	// KeyPINOnce: one VERIFY serves the card session.
	KeyPINOnce KeyPINPolicy = 2
	// KeyPINAlways: a VERIFY right before each use, so the person is
	// asked each time; a cached PIN never serves.
	KeyPINAlways KeyPINPolicy = 3
)

// String is "never", "once", "always" or "default".
func (p KeyPINPolicy) String() string {
	switch p {
	case KeyPINNever:
		return "never"
	case KeyPINOnce:
		return "once"
	case KeyPINAlways:
		return "always"
	}
	return "default"
}

// DefaultKeyPINPolicy is a slot's PIN policy when the card does not say:
// "always" for the Digital Signature key 9C, "never" for the Card
// Authentication key 9E (SP 800-73-4 Part 1 §3.2), "once" for the others.
func DefaultKeyPINPolicy(s Slot) KeyPINPolicy {
	switch s {
	case SlotSignature:
		return KeyPINAlways
	case SlotCardAuthentication:
		return KeyPINNever
	}
	return KeyPINOnce
}

// KeyPolicyReader is a card that tells a key's PIN policy: a YubiKey-style
// GET METADATA, a PKCS #11 token's CKA_ALWAYS_AUTHENTICATE. A card without
// it gets the slot's default.
type KeyPolicyReader interface {
	// KeyPINPolicy answers [KeyPINDefault] (or an error) when it cannot
	// tell.
	KeyPINPolicy(slot Slot) (KeyPINPolicy, error)
}

// KeyPolicy is the PIN policy of the key in slot: what the card says, else
// the slot's default. An answer the card cannot give is no error: the
// default is the card's own rule for that slot.
func KeyPolicy(c Card, slot Slot) KeyPINPolicy {
	if r, ok := As[KeyPolicyReader](c); ok {
		if p, err := r.KeyPINPolicy(slot); err == nil && p >= KeyPINNever && p <= KeyPINAlways {
			return p
		}
	}
	return DefaultKeyPINPolicy(slot)
}

// RoleCard is a card with more than one PIN role: the PIV application PIN,
// a global PIN, the PUK. [Card]'s PIN methods speak for [RolePIN].
type RoleCard interface {
	// Roles lists the roles the card has, in the order PIN, global PIN, PUK.
	Roles() ([]PINRole, error)
	// LogonRole is the PIN the card's key access rules take: the global
	// PIN when the card's PIN usage policy makes it primary.
	LogonRole() (PINRole, error)
	// RoleRetries is [Card.PINRetries] for role.
	RoleRetries(role PINRole) (int, error)
	// VerifyRole is [Card.VerifyPIN] for role.
	VerifyRole(role PINRole, pin *PIN) error
	// ChangeRole is [Card.ChangePIN] for role: the PUK too.
	ChangeRole(role PINRole, old, new *PIN) error
}

// PINResetter is a card that can end the verified state of a PIN without
// closing the session: PIV's VERIFY with P1 FF (SP 800-73-4 Part 2
// §3.2.1), a PKCS #11 token's C_Logout.
type PINResetter interface {
	ResetRole(role PINRole) error
}

// ResetPIN ends the verified state of role on c; ok is false when c cannot
// (the state then lasts until the session ends).
func ResetPIN(c Card, role PINRole) (ok bool, err error) {
	r, is := As[PINResetter](c)
	if !is {
		return false, nil
	}
	return true, r.ResetRole(role)
}

// LogonRole is the PIN role c's keys take: [RoleCard.LogonRole], else the
// PIV PIN.
func LogonRole(c Card) PINRole {
	if rc, ok := As[RoleCard](c); ok {
		if r, err := rc.LogonRole(); err == nil {
			return r
		}
	}
	return RolePIN
}

// Retries is the tries left of role on c, as [Card.PINRetries] counts them.
// The PIV PIN is always asked through [Card.PINRetries], so a card that
// wraps another (a PIN-pad reader's) answers for it.
func Retries(c Card, role PINRole) (int, error) {
	if role == RolePIN {
		return c.PINRetries()
	}
	if rc, ok := As[RoleCard](c); ok {
		return rc.RoleRetries(role)
	}
	return 0, fmt.Errorf("%w: the card has no %s", ErrNotFound, role)
}

// Verify presents pin as role; the PIV PIN through [Card.VerifyPIN].
func Verify(c Card, role PINRole, pin *PIN) error {
	if role == RolePIN {
		return c.VerifyPIN(pin)
	}
	if rc, ok := As[RoleCard](c); ok {
		return rc.VerifyRole(role, pin)
	}
	return fmt.Errorf("%w: the card has no %s", ErrNotFound, role)
}

// Transactor is a card whose exclusive use (a PC/SC transaction) is held
// only around card work: released while a person is asked for a PIN or a
// KDC answers, so other applications may use the card meanwhile, and taken
// again before the next command. The one exception is a logon identity's
// session (kinit/identity's Card.Session): RSA key transport keeps the card
// from its signature to the decryption of the KDC's answer, so that the
// PIN is entered once.
type Transactor interface {
	// Release ends the exclusive use; the session stays open.
	Release() error
	// Acquire takes it again and checks that the card in the reader is
	// still the one opened (its CHUID GUID or serial): [ErrCardChanged]
	// when it is not. A card reset meanwhile is reselected; its PINs are
	// then no longer verified.
	Acquire() error
}

// ErrCardChanged: between two pieces of card work the card in the reader
// was replaced by another.
var ErrCardChanged = errors.New("card: the card in the reader is no longer the one opened")

// Wrapper is a card that wraps another and adds to it (a [CachedCard]).
type Wrapper interface {
	Unwrap() Card
}

// As finds the optional ability T ([RoleCard], [KeyPolicyReader],
// [PINResetter], [Transactor] …) on c or on the cards c wraps, as
// errors.As looks through wrapped errors.
func As[T any](c Card) (T, bool) {
	for c != nil {
		if t, ok := c.(T); ok {
			return t, true
		}
		w, ok := c.(Wrapper)
		if !ok {
			break
		}
		c = w.Unwrap()
	}
	var zero T
	return zero, false
}
