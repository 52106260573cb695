package card

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Enroller is a card that can be provisioned: authenticated with its card
// management key, it generates a key pair in a slot and stores the slot's
// certificate. Package [github.com/sclogon/sclogon/card/apdu] implements it
// for any PIV card; package [github.com/sclogon/sclogon/card/enroll] runs a
// whole enrollment with it.
type Enroller interface {
	Card
	// AuthenticateManagementKey proves the card management key (key
	// reference 9B) to the card, and the card's knowledge of it to the
	// caller (SP 800-73-4 Part 2 Appendix A.1, mutual authentication). A
	// wrong key is [ErrManagementKey]; the session keeps the
	// authentication until Close.
	AuthenticateManagementKey(key *ManagementKey) error
	// GenerateKey replaces the key in slot with a new key pair made on the
	// card (GENERATE ASYMMETRIC KEY PAIR) and returns its public key. It
	// needs the management key first.
	GenerateKey(slot Slot, alg KeyAlgorithm) (crypto.PublicKey, error)
	// PutCertificate writes cert into the slot's certificate object (PUT
	// DATA, uncompressed). It needs the management key first.
	PutCertificate(slot Slot, cert *x509.Certificate) error
}

// Errors of management-key authentication.
var (
	// ErrManagementKey: the card refused the management key.
	ErrManagementKey = errors.New("card: the card refused the management key")
	// ErrManagementKeyAlgorithm: the card's management key is not of the
	// algorithm offered (the card answered 6A86 to the witness request).
	ErrManagementKeyAlgorithm = errors.New("card: the card's management key is of another algorithm")
	// ErrCardNotAuthentic: the card did not prove it holds the management
	// key: its answer to our challenge was wrong.
	ErrCardNotAuthentic = errors.New("card: the card's answer to the management-key challenge is wrong")
)

// KeyAlgorithm is a PIV asymmetric algorithm identifier (SP 800-78-4
// Table 6-2) for key generation.
type KeyAlgorithm byte

// The key algorithms a logon key may have.
const (
	KeyRSA2048 KeyAlgorithm = 0x07
	KeyP256    KeyAlgorithm = 0x11
	KeyP384    KeyAlgorithm = 0x14
)

// ParseKeyAlgorithm reads rsa2048, p256 or p384 (the names of 'sclogon pki
// issue --key-type').
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "rsa2048", "rsa":
		return KeyRSA2048, nil
	case "p256", "ecp256", "ecdsap256":
		return KeyP256, nil
	case "p384", "ecp384", "ecdsap384":
		return KeyP384, nil
	}
	return 0, fmt.Errorf("card: key type %q: want rsa2048, p256 or p384", s)
}

// String is rsa2048, p256 or p384.
func (a KeyAlgorithm) String() string {
	switch a {
	case KeyRSA2048:
		return "rsa2048"
	case KeyP256:
		return "p256"
	case KeyP384:
		return "p384"
	}
	return fmt.Sprintf("algorithm %02x", byte(a))
}

// ManagementAlgorithm is the algorithm of the card management key
// (SP 800-78-4 Table 6-1).
type ManagementAlgorithm byte

// The management key algorithms of PIV.
const (
	Management3DES   ManagementAlgorithm = 0x03
	ManagementAES128 ManagementAlgorithm = 0x08
	ManagementAES192 ManagementAlgorithm = 0x0A
	ManagementAES256 ManagementAlgorithm = 0x0C
)

// KeyLen is the key length in bytes; 0 for no management key algorithm.
func (a ManagementAlgorithm) KeyLen() int {
	switch a {
	case Management3DES, ManagementAES192:
		return 24
	case ManagementAES128:
		return 16
	case ManagementAES256:
		return 32
	}
	return 0
}

// String is 3des, aes128, aes192 or aes256.
func (a ManagementAlgorithm) String() string {
	switch a {
	case Management3DES:
		return "3des"
	case ManagementAES128:
		return "aes128"
	case ManagementAES192:
		return "aes192"
	case ManagementAES256:
		return "aes256"
	}
	return fmt.Sprintf("algorithm %02x", byte(a))
}

// ParseManagementAlgorithm reads 3des, aes128, aes192 or aes256; "" is 0,
// which lets [NewManagementKey] choose by the key's length.
func ParseManagementAlgorithm(s string) (ManagementAlgorithm, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "", "auto":
		return 0, nil
	case "3des", "tdes", "des3":
		return Management3DES, nil
	case "aes128":
		return ManagementAES128, nil
	case "aes192":
		return ManagementAES192, nil
	case "aes256":
		return ManagementAES256, nil
	}
	return 0, fmt.Errorf("card: management key algorithm %q: want 3des, aes128, aes192 or aes256", s)
}

// ManagementKey is a card management key: an opaque secret like [PIN], with
// no String method, formatted "[REDACTED]", wiped by [ManagementKey.Wipe].
type ManagementKey struct {
	alg ManagementAlgorithm
	// guessed: the algorithm was chosen by length; a 24-byte key may then
	// be AES-192 on cards (YubiKey 5.7+) whose default key is AES-192.
	guessed bool
	b       []byte
}

// NewManagementKey takes ownership of b. With alg 0 the algorithm follows
// the length: 16 bytes AES-128, 24 bytes 3DES (AES-192 if the card says so),
// 32 bytes AES-256. On error b is wiped.
func NewManagementKey(alg ManagementAlgorithm, b []byte) (*ManagementKey, error) {
	guessed := alg == 0
	if guessed {
		switch len(b) {
		case 16:
			alg = ManagementAES128
		case 24:
			alg = Management3DES
		case 32:
			alg = ManagementAES256
		default:
			n := len(b)
			clear(b)
			return nil, fmt.Errorf("card: a management key has 16, 24 or 32 bytes (32, 48 or 64 hex digits), not %d", n)
		}
	}
	if n := alg.KeyLen(); n == 0 || n != len(b) {
		got := len(b)
		clear(b)
		if n == 0 {
			return nil, fmt.Errorf("card: unknown management key algorithm %02x", byte(alg))
		}
		return nil, fmt.Errorf("card: a %s management key has %d bytes (%d hex digits), not %d", alg, n, 2*n, got)
	}
	return &ManagementKey{alg: alg, guessed: guessed && len(b) == 24, b: b}, nil
}

// ParseManagementKey decodes a key written in hex (spaces and colons
// allowed) and wipes text.
func ParseManagementKey(alg ManagementAlgorithm, text []byte) (*ManagementKey, error) {
	defer clear(text)
	digits := make([]byte, 0, len(text))
	defer func() { clear(digits) }()
	for _, c := range text {
		switch c {
		case ' ', ':', '\t', '\r', '\n':
			continue
		}
		digits = append(digits, c)
	}
	b := make([]byte, hex.DecodedLen(len(digits)))
	if _, err := hex.Decode(b, digits); err != nil {
		clear(b)
		return nil, errors.New("card: the management key is not in hex")
	}
	return NewManagementKey(alg, b)
}

// DefaultManagementKey is the factory management key of YubiKeys and many
// PIV cards, 010203040506070801020304050607080102030405060708: 3DES, or
// AES-192 on a YubiKey 5.7 or later. It is public; a card still using it is
// not protected by it.
func DefaultManagementKey() *ManagementKey {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	k, _ := NewManagementKey(0, b)
	return k
}

// Algorithm is the key's algorithm.
func (k *ManagementKey) Algorithm() ManagementAlgorithm { return k.alg }

// MayBeAES192 reports a 24-byte key whose algorithm was not named: a client
// offers it as 3DES first, then as AES-192 if the card refuses 3DES.
func (k *ManagementKey) MayBeAES192() bool { return k.guessed }

// Use hands the key's bytes to f; f must not keep them.
func (k *ManagementKey) Use(f func(b []byte) error) error {
	if k == nil || k.b == nil {
		return errors.New("card: the management key was wiped")
	}
	return f(k.b)
}

// Wipe overwrites the key; it is unusable afterwards.
func (k *ManagementKey) Wipe() {
	if k == nil {
		return
	}
	clear(k.b)
	k.b = nil
}

// Format prints "[REDACTED]" whatever the verb.
func (k ManagementKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }
