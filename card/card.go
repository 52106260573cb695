package card

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Slot is a PIV key reference (SP 800-73-4 Part 1 §3.1, Table 4b).
type Slot byte

// The key slots of a PIV card.
const (
	SlotAuthentication     Slot = 0x9A // PIV Authentication: the logon key
	SlotSignature          Slot = 0x9C // Digital Signature: a signature-only key
	SlotKeyManagement      Slot = 0x9D // Key Management
	SlotCardAuthentication Slot = 0x9E // Card Authentication (used without a PIN)
	SlotRetiredFirst       Slot = 0x82 // Retired Key Management 1
	SlotRetiredLast        Slot = 0x95 // Retired Key Management 20
)

// Slots lists every key slot that can hold a certificate, in the order
// cards are read: 9A, 9C, 9D, 9E, then 82–95.
func Slots() []Slot {
	s := []Slot{SlotAuthentication, SlotSignature, SlotKeyManagement, SlotCardAuthentication}
	for r := SlotRetiredFirst; r <= SlotRetiredLast; r++ {
		s = append(s, r)
	}
	return s
}

// Object is the tag of the slot's certificate object (SP 800-73-4 Part 1
// Table 3), e.g. 5FC105 for 9A; ok is false for a value that is no key slot.
func (s Slot) Object() (tag uint32, ok bool) {
	switch s {
	case SlotAuthentication:
		return 0x5FC105, true
	case SlotSignature:
		return 0x5FC10A, true
	case SlotKeyManagement:
		return 0x5FC10B, true
	case SlotCardAuthentication:
		return 0x5FC101, true
	}
	if s >= SlotRetiredFirst && s <= SlotRetiredLast {
		return 0x5FC10D + uint32(s-SlotRetiredFirst), true
	}
	return 0, false
}

// String is the slot in lower-case hex, as ykman and piv-tool write it: "9a".
func (s Slot) String() string { return fmt.Sprintf("%02x", byte(s)) }

// Name is the slot's name in SP 800-73-4.
func (s Slot) Name() string {
	switch s {
	case SlotAuthentication:
		return "PIV Authentication"
	case SlotSignature:
		return "Digital Signature"
	case SlotKeyManagement:
		return "Key Management"
	case SlotCardAuthentication:
		return "Card Authentication"
	}
	if s >= SlotRetiredFirst && s <= SlotRetiredLast {
		return fmt.Sprintf("Retired Key Management %d", s-SlotRetiredFirst+1)
	}
	return "unknown"
}

// ParseSlot reads "9a", "9A" or "0x9a".
func ParseSlot(v string) (Slot, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 8)
	if err == nil {
		if _, ok := Slot(n).Object(); ok {
			return Slot(n), nil
		}
	}
	return 0, fmt.Errorf("card: %q is no PIV key slot (9a, 9c, 9d, 9e or 82–95)", v)
}

// Certificate is a certificate read from a key slot.
type Certificate struct {
	Slot Slot
	Cert *x509.Certificate
}

// Fingerprint is the SHA-256 of the DER certificate in lower-case hex.
func (c Certificate) Fingerprint() string {
	sum := sha256.Sum256(c.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// ID names a card for caches: its CHUID GUID when it has one, else its
// serial number. Version changes whenever the card's CHUID changes, so a
// re-provisioned card with the same GUID is a new card to a cache.
type ID struct {
	Kind    string // "guid" or "serial"
	Value   string // lower-case hex (GUID) or decimal (serial)
	Version string // hex digest of the identity object as read; may be empty
}

// String is "guid:…" or "serial:…".
func (id ID) String() string { return id.Kind + ":" + id.Value }

// IsZero reports an unknown identity (nothing can be cached for it).
func (id ID) IsZero() bool { return id.Value == "" }

// Card is one PIV card in a reader. It is not safe for concurrent use;
// Close ends the session and with it the verified PIN.
type Card interface {
	// Reader names the reader the card is in.
	Reader() string
	// ID reads the card's identity cheaply (one or two APDUs).
	ID() (ID, error)
	// Certificates reads the certificate of every key slot that has one,
	// in the order of [Slots]. A slot whose object does not parse as a
	// certificate is skipped.
	Certificates() ([]Certificate, error)
	// Certificate reads the certificate of one slot; [ErrNotFound] when
	// it has none.
	Certificate(slot Slot) (*x509.Certificate, error)
	// PINRetries returns the PIN tries left without spending one; 0
	// means blocked. It answers -1 when the PIN is verified in this
	// session and the card does not tell the count then.
	PINRetries() (int, error)
	// VerifyPIN presents the PIN once. A wrong PIN is a [*PINError];
	// a blocked one [ErrPINBlocked].
	VerifyPIN(pin *PIN) error
	// ChangePIN replaces the PIN; a wrong old PIN costs a try.
	ChangePIN(old, new *PIN) error
	// UnblockPIN sets a new PIN with the PUK and restores its tries.
	UnblockPIN(puk, new *PIN) error
	// Sign signs digest with the key in slot, whose public key is pub:
	// PKCS #1 v1.5 for RSA (opts names the hash), ASN.1 for ECDSA. A
	// key that needs the PIN first answers [ErrSecurityStatus].
	Sign(slot Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	// Decrypt opens a PKCS #1 v1.5 RSA ciphertext with the key in slot.
	Decrypt(slot Slot, pub crypto.PublicKey, ciphertext []byte) ([]byte, error)
	// Close ends the session.
	Close() error
}

// Provider finds cards: through PC/SC, piv-go, or in process.
type Provider interface {
	// Readers lists the readers that hold a card.
	Readers() ([]string, error)
	// Open opens the card in reader.
	Open(reader string) (Card, error)
}

// Errors callers branch on.
var (
	// ErrPINBlocked: the PIN has no tries left; only the PUK unblocks it.
	ErrPINBlocked = errors.New("card: the PIN is blocked")
	// ErrPUKBlocked: the PUK has no tries left; the card must be reset.
	ErrPUKBlocked = errors.New("card: the PUK is blocked")
	// ErrSecurityStatus: the operation needs the PIN (verified first, or
	// again, for a key whose policy is "always").
	ErrSecurityStatus = errors.New("card: the PIN must be verified first")
	// ErrNotFound: the object or key is not on the card.
	ErrNotFound = errors.New("card: not found on the card")
	// ErrNotPIV: the card has no PIV application.
	ErrNotPIV = errors.New("card: no PIV application on the card")
	// ErrNoCard: no reader holds a card.
	ErrNoCard = errors.New("card: no smart card found")
)

// PINError is a refused PIN or PUK with the tries it left; Retries may be
// [RetriesLow] or [RetriesUncounted] for a token that does not count. Role
// tells the PIV PIN from the global PIN; PUK is set for the PUK.
type PINError struct {
	PUK     bool
	Role    PINRole
	Retries int
}

func (e *PINError) Error() string {
	what := e.Role.short()
	if e.PUK {
		what = "PUK"
	}
	return fmt.Sprintf("card: the card refused the %s (%s)", what, TriesLeft(e.Retries))
}

// StatusError is a status word the card answered that has no meaning of
// its own here.
type StatusError struct {
	Op string
	SW uint16
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("card: %s: the card answered %04X", e.Op, e.SW)
}

// List opens nothing: it returns the readers holding a card, or
// [ErrNoCard].
func List(p Provider) ([]string, error) {
	rs, err := p.Readers()
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNoCard
	}
	return rs, nil
}
