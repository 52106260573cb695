package pam

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxAuthtok is PAM_MAX_RESP_SIZE: pam_exec sends at most this many bytes of
// the password.
const MaxAuthtok = 512

// Authtok is the secret PAM collected: the card's PIN (or a PKCS #12
// password for a software identity). It has no String method, formats as
// "[REDACTED]" and is wiped by [Authtok.Wipe].
type Authtok struct {
	b     []byte
	spent bool // handed out once by Secret
}

// NewAuthtok takes ownership of b.
func NewAuthtok(b []byte) *Authtok { return &Authtok{b: b} }

// ErrNoAuthtok: pam_exec sent an empty password (no expose_authtok, or the
// user typed nothing).
var ErrNoAuthtok = errors.New("pam: no PIN on stdin (is expose_authtok set on the pam_exec line?)")

// ReadAuthtok reads the password pam_exec's expose_authtok writes to stdin:
// the bytes up to the first NUL (or end of input), at most [MaxAuthtok]. A
// trailing newline is dropped too, so `echo PIN | sclogon pam` works by hand.
func ReadAuthtok(r io.Reader) (*Authtok, error) {
	buf := make([]byte, MaxAuthtok+1)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			n = i
			break
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			clear(buf)
			return nil, fmt.Errorf("pam: reading the PIN from stdin: %w", err)
		}
	}
	if n > MaxAuthtok {
		clear(buf)
		return nil, fmt.Errorf("pam: the PIN on stdin is longer than %d bytes", MaxAuthtok)
	}
	for n > 0 && (buf[n-1] == '\n' || buf[n-1] == '\r') {
		n--
	}
	clear(buf[n:])
	if n == 0 {
		return nil, ErrNoAuthtok
	}
	return &Authtok{b: buf[:n:n]}, nil
}

// Bytes hands out a copy of the secret; the caller owns and wipes it.
func (a *Authtok) Bytes() []byte {
	if a == nil {
		return nil
	}
	return bytes.Clone(a.b)
}

// Wipe overwrites the secret; the value is empty afterwards.
func (a *Authtok) Wipe() {
	if a == nil {
		return
	}
	clear(a.b)
	a.b = nil
}

// Format prints "[REDACTED]" whatever the verb.
func (a Authtok) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }
