package card

import (
	"errors"
	"fmt"
)

// PIN is a PIN or PUK: 6 to 8 bytes, kept out of logs and error text. Its
// zero value is empty. Create one with [NewPIN]; wipe it with [PIN.Wipe].
type PIN struct {
	b []byte
}

// NewPIN takes ownership of b (the caller must not keep or reuse it) and
// checks its length: PIV PINs and PUKs are 6 to 8 bytes (SP 800-73-4 Part 2
// §2.4.3). On error b is wiped.
func NewPIN(b []byte) (*PIN, error) {
	if len(b) < 6 || len(b) > 8 {
		n := len(b)
		clear(b)
		return nil, fmt.Errorf("card: a PIN has 6 to 8 characters, not %d", n)
	}
	for _, c := range b {
		if c == 0xFF {
			clear(b)
			return nil, errors.New("card: a PIN cannot contain the byte FF")
		}
	}
	return &PIN{b: b}, nil
}

// Use hands the PIN's bytes to f; f must not keep them.
func (p *PIN) Use(f func(b []byte) error) error {
	if p == nil || p.b == nil {
		return errors.New("card: the PIN was wiped")
	}
	return f(p.b)
}

// Padded writes the PIN padded with FF to 8 bytes into dst, as VERIFY wants.
func (p *PIN) Padded(dst *[8]byte) error {
	return p.Use(func(b []byte) error {
		for i := range dst {
			dst[i] = 0xFF
		}
		copy(dst[:], b)
		return nil
	})
}

// Wipe overwrites the PIN; the value is unusable afterwards.
func (p *PIN) Wipe() {
	if p == nil {
		return
	}
	clear(p.b)
	p.b = nil
}

// Format prints "[REDACTED]" whatever the verb, so a PIN in a log line or an
// error message shows nothing.
func (p PIN) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }

// NewTokenPIN takes ownership of b like [NewPIN] but checks the length a
// PKCS #11 token asks for (its ulMinPinLen to ulMaxPinLen, in bytes) instead
// of PIV's 6 to 8: a token may take a 4-digit PIN or a passphrase. A max of
// 0 sets no upper bound. On error b is wiped.
func NewTokenPIN(b []byte, min, max uint) (*PIN, error) {
	n := uint(len(b))
	if n == 0 || n < min || (max != 0 && n > max) {
		clear(b)
		if max == 0 {
			return nil, fmt.Errorf("card: the token takes a PIN of at least %d characters, not %d", min, n)
		}
		return nil, fmt.Errorf("card: the token takes a PIN of %d to %d characters, not %d", min, max, n)
	}
	return &PIN{b: b}, nil
}
