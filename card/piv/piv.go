//go:build cgo

package piv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
)

// Provider opens YubiKeys with piv-go.
type Provider struct {
	// NoPINPad types the PIN on the host even when the reader has a PIN
	// pad. By default a card in a reader that offers PC/SC part 10's
	// FEATURE_VERIFY_PIN_DIRECT takes its PIN there (see
	// [pcsc.Provider.NoPINPad]).
	NoPINPad bool
	// OnPINPad, if set, is called right before the reader waits for the
	// PIN, to tell the person to enter it on the reader.
	OnPINPad func(reader string)
}

// Readers lists the readers that hold a card.
func (Provider) Readers() ([]string, error) {
	rs, err := piv.Cards()
	if err != nil {
		return nil, fmt.Errorf("piv: listing readers: %w", err)
	}
	return rs, nil
}

// ErrNotYubiKey: piv-go opened the PIV application but the card lacks the
// YubiKey extensions; use the generic PC/SC backend.
var ErrNotYubiKey = errors.New("piv: piv-go cannot open this card (no YubiKey GET VERSION)")

// Open opens the card in reader.
func (p Provider) Open(reader string) (card.Card, error) {
	var pad *pcsc.PINPad
	if !p.NoPINPad {
		pad = pcsc.FindPINPad(reader) // asked before piv-go takes the card exclusively
	}
	if pad != nil {
		pad.Notice = p.OnPINPad
	}
	yk, err := piv.Open(reader)
	if err != nil {
		// piv.Open selects the PIV application (6A82, piv.ErrNotFound,
		// when there is none), then asks the YubiKey GET VERSION, which
		// other cards answer with a status word (6D00).
		if errors.Is(err, piv.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s: %w", card.ErrNotPIV, reader, err)
		}
		if _, ok := statusOf(err); ok {
			return nil, fmt.Errorf("%w: %w", ErrNotYubiKey, err)
		}
		return nil, fmt.Errorf("piv: %s: %w", reader, err)
	}
	return withPINPad(&Card{yk: yk, reader: reader}, pad), nil
}

// Card is a card opened by piv-go.
type Card struct {
	yk       *piv.YubiKey
	reader   string
	id       *card.ID
	verified bool
}

// Reader names the reader.
func (c *Card) Reader() string { return c.reader }

// Close ends the session. piv-go leaves the card as it is, PIN verified; a
// reset through PC/SC ends that, so the next application has to ask.
func (c *Card) Close() error {
	err := c.yk.Close()
	if !c.verified {
		return err
	}
	ctx, cerr := pcsc.Establish()
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	defer ctx.Release()
	conn, cerr := ctx.Connect(c.reader)
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	return errors.Join(err, conn.Close())
}

// ID is the YubiKey serial number (piv-go reads no CHUID).
func (c *Card) ID() (card.ID, error) {
	if c.id != nil {
		return *c.id, nil
	}
	var id card.ID
	if s, err := c.yk.Serial(); err == nil {
		id = card.ID{Kind: "serial", Value: strconv.FormatUint(uint64(s), 10)}
	}
	c.id = &id
	return id, nil
}

func slotOf(s card.Slot) (piv.Slot, bool) {
	switch s {
	case card.SlotAuthentication:
		return piv.SlotAuthentication, true
	case card.SlotSignature:
		return piv.SlotSignature, true
	case card.SlotKeyManagement:
		return piv.SlotKeyManagement, true
	case card.SlotCardAuthentication:
		return piv.SlotCardAuthentication, true
	}
	return piv.RetiredKeyManagementSlot(uint32(s))
}

// Certificates reads every slot's certificate.
func (c *Card) Certificates() ([]card.Certificate, error) {
	var out []card.Certificate
	for _, s := range card.Slots() {
		ps, ok := slotOf(s)
		if !ok {
			continue
		}
		cert, err := c.yk.Certificate(ps)
		if err != nil {
			if errors.Is(err, piv.ErrNotFound) || !fromCard(err) {
				continue // empty, or an object that is no certificate
			}
			return nil, fmt.Errorf("piv: slot %s: %w", s, err)
		}
		out = append(out, card.Certificate{Slot: s, Cert: cert})
	}
	return out, nil
}

// Certificate reads one slot's certificate.
func (c *Card) Certificate(slot card.Slot) (*x509.Certificate, error) {
	ps, ok := slotOf(slot)
	if !ok {
		return nil, fmt.Errorf("piv: no slot %s", slot)
	}
	cert, err := c.yk.Certificate(ps)
	if errors.Is(err, piv.ErrNotFound) {
		return nil, card.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("piv: slot %s: %w", slot, err)
	}
	return cert, nil
}

// PINRetries asks the tries left; after a VERIFY in this session piv-go
// cannot tell them, and -1 is returned.
func (c *Card) PINRetries() (int, error) {
	if c.verified {
		return -1, nil
	}
	n, err := c.yk.Retries()
	if err != nil {
		if isBlocked(err) {
			return 0, nil
		}
		if !fromCard(err) {
			// The card accepted the empty VERIFY (9000): the PIN is
			// verified, and piv-go's Retries cannot tell more.
			return -1, nil
		}
		return 0, fmt.Errorf("piv: PIN status: %w", err)
	}
	return n, nil
}

// isBlocked: piv-go answers 6983 (blocked) and 63C0 with an AuthErr
// without retries.
func isBlocked(err error) bool {
	var ae piv.AuthErr
	return errors.As(err, &ae) && ae.Retries == 0
}

// statusWord is piv-go's APDU error (its type is unexported): the status
// word the card answered.
type statusWord interface{ Status() uint16 }

// statusOf is the status word err carries, if the card answered one.
func statusOf(err error) (uint16, bool) {
	var sw statusWord
	if errors.As(err, &sw) {
		return sw.Status(), true
	}
	return 0, false
}

// fromCard reports whether err came from talking to the card (a status
// word, or a PC/SC failure, which piv-go wraps with %w). piv-go flattens
// what it finds wrong in a response the card did give (an object that does
// not parse, 9000 where it expected an error) into an error wrapping
// nothing.
func fromCard(err error) bool {
	_, sw := statusOf(err)
	return sw || errors.Unwrap(err) != nil
}

func mapAuth(err error, puk bool) error {
	if err == nil {
		return nil
	}
	var ae piv.AuthErr
	if errors.As(err, &ae) && ae.Retries > 0 {
		return &card.PINError{PUK: puk, Retries: ae.Retries}
	}
	if isBlocked(err) {
		if puk {
			return card.ErrPUKBlocked
		}
		return card.ErrPINBlocked
	}
	if sw, ok := statusOf(err); ok && sw == 0x6982 { // security status not satisfied
		return card.ErrSecurityStatus
	}
	return fmt.Errorf("piv: %w", err)
}

func pinString(p *card.PIN) (string, error) {
	var s string
	err := p.Use(func(b []byte) error { s = string(b); return nil })
	return s, err
}

// VerifyPIN presents the PIN.
func (c *Card) VerifyPIN(pin *card.PIN) error {
	s, err := pinString(pin)
	if err != nil {
		return err
	}
	if err := mapAuth(c.yk.VerifyPIN(s), false); err != nil {
		return err
	}
	c.verified = true
	return nil
}

// ChangePIN changes the PIN.
func (c *Card) ChangePIN(old, new *card.PIN) error {
	o, err := pinString(old)
	if err != nil {
		return err
	}
	n, err := pinString(new)
	if err != nil {
		return err
	}
	c.verified = false
	return mapAuth(c.yk.SetPIN(o, n), false)
}

// UnblockPIN sets a new PIN with the PUK.
func (c *Card) UnblockPIN(puk, new *card.PIN) error {
	p, err := pinString(puk)
	if err != nil {
		return err
	}
	n, err := pinString(new)
	if err != nil {
		return err
	}
	c.verified = false
	return mapAuth(c.yk.Unblock(p, n), true)
}

// The PIN is verified by the caller (VerifyPIN): piv-go must not ask or
// probe the policy.
var noAuth = piv.KeyAuth{PINPolicy: piv.PINPolicyNever}

// privateKey is piv-go's handle on the key in slot, whose public key is pub.
func (c *Card) privateKey(slot card.Slot, pub crypto.PublicKey) (crypto.PrivateKey, error) {
	ps, ok := slotOf(slot)
	if !ok {
		return nil, fmt.Errorf("piv: no slot %s", slot)
	}
	k, err := c.yk.PrivateKey(ps, pub, noAuth)
	if err != nil {
		return nil, fmt.Errorf("piv: slot %s: %w", slot, err)
	}
	return k, nil
}

// Sign signs with the key in slot.
func (c *Card) Sign(slot card.Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k, err := c.privateKey(slot, pub)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("piv: slot %s: the key cannot sign", slot)
	}
	sig, err := s.Sign(rand.Reader, digest, opts)
	return sig, mapAuth(err, false)
}

// Decrypt opens a PKCS #1 v1.5 RSA ciphertext with the key in slot.
func (c *Card) Decrypt(slot card.Slot, pub crypto.PublicKey, ciphertext []byte) ([]byte, error) {
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("piv: slot %s: only RSA keys decrypt", slot)
	}
	k, err := c.privateKey(slot, pub)
	if err != nil {
		return nil, err
	}
	d, ok := k.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("piv: slot %s: the key cannot decrypt", slot)
	}
	// piv-go strips the padding without checking it; demand at least a
	// length a PKCS #1 v1.5 message can have.
	out, err := d.Decrypt(rand.Reader, ciphertext, nil)
	if err != nil {
		return nil, mapAuth(err, false)
	}
	if subtle.ConstantTimeLessOrEq(len(out), rk.Size()-11) != 1 || len(out) == 0 {
		clear(out)
		return nil, errors.New("piv: RSA decryption: bad padding")
	}
	return out, nil
}
