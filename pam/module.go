package pam

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/transport"
)

// The helper protocol of pam_sclogon.so (pam/module/pam_sclogon.c): the
// module runs `sclogon pam --module` with one end of a socket pair as its
// stdin and stdout, and the two exchange frames: one byte of type, the
// payload's length as 4 bytes big-endian, the payload. The helper speaks
// first and last; the module only answers prompts.
const (
	frameSecret  = 'P' // helper: prompt with echo off (the PIN); module: 'A' or 'X'
	frameAsk     = 'Q' // helper: prompt with echo on (a choice); module: 'A' or 'X'
	frameInfo    = 'I' // helper: PAM_TEXT_INFO
	frameError   = 'E' // helper: PAM_ERROR_MSG
	frameEnv     = 'V' // helper: pam_putenv("NAME=value")
	frameResult  = 'R' // helper: the PAM return code's name, last
	frameAnswer  = 'A' // module: the person's answer
	frameAborted = 'X' // module: the conversation failed or was cancelled
)

// maxFrame bounds a payload: PAM_MAX_MSG_SIZE for prompts and messages.
const maxFrame = 512

// Code is a PAM return code by its name without the PAM_ prefix; the module
// maps it to its value.
type Code string

// The codes the helper returns.
const (
	Success          Code = "SUCCESS"
	AuthErr          Code = "AUTH_ERR"          // wrong PIN, refused by the KDC, not validated
	AuthinfoUnavail  Code = "AUTHINFO_UNAVAIL"  // no card, no reader, no KDC: the stack falls through
	CredInsufficient Code = "CRED_INSUFFICIENT" // no certificate on the card may log on
	MaxTries         Code = "MAXTRIES"          // the PIN is blocked
	UserUnknown      Code = "USER_UNKNOWN"
	ConvErr          Code = "CONV_ERR"
	SystemErr        Code = "SYSTEM_ERR"
	Ignore           Code = "IGNORE" // account and session stages of a logon that was not this module's
)

// ErrConversation: the module's conversation failed or the person
// cancelled the prompt.
var ErrConversation = errors.New("pam: the PAM conversation failed or was cancelled")

// ErrProtocol: the module sent something the protocol does not allow.
var ErrProtocol = errors.New("pam: module protocol")

// ModuleConv is the conversation with pam_sclogon.so over the helper's
// stdin and stdout (see the frame types above).
type ModuleConv struct {
	r *bufio.Reader
	w io.Writer
}

// NewModuleConv speaks the protocol over r (from the module) and w (to it).
func NewModuleConv(r io.Reader, w io.Writer) *ModuleConv {
	return &ModuleConv{r: bufio.NewReader(r), w: w}
}

func (c *ModuleConv) send(typ byte, payload string) error {
	if len(payload) > maxFrame {
		payload = payload[:maxFrame]
	}
	b := make([]byte, 5+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:5], uint32(len(payload)))
	copy(b[5:], payload)
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("%w: %w", ErrConversation, err)
	}
	return nil
}

// answer reads the module's reply to a prompt; the caller wipes it.
func (c *ModuleConv) answer() ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConversation, err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return nil, fmt.Errorf("%w: a %d-byte answer", ErrProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		clear(b)
		return nil, fmt.Errorf("%w: %w", ErrConversation, err)
	}
	switch hdr[0] {
	case frameAnswer:
		return b, nil
	case frameAborted:
		return nil, ErrConversation
	}
	clear(b)
	return nil, fmt.Errorf("%w: frame type %q in answer to a prompt", ErrProtocol, hdr[0])
}

// Secret asks "PIN for NAME (N tries left): " with echo off; before the
// last try it warns that a wrong PIN blocks the card.
func (c *ModuleConv) Secret(name string, retries int) ([]byte, error) {
	if retries == 1 {
		c.Error("This is the last PIN try: a wrong PIN blocks the card")
	}
	prompt := fmt.Sprintf("PIN for %s: ", name)
	if retries >= 0 {
		prompt = fmt.Sprintf("PIN for %s (%s): ", name, card.TriesLeft(retries))
	}
	if err := c.send(frameSecret, prompt); err != nil {
		return nil, err
	}
	return c.answer()
}

// Info shows msg (PAM_TEXT_INFO); a failed conversation shows nothing.
func (c *ModuleConv) Info(msg string) { _ = c.send(frameInfo, msg) }

// Error shows msg (PAM_ERROR_MSG).
func (c *ModuleConv) Error(msg string) { _ = c.send(frameError, msg) }

// Choose lists the certificates and asks for a number.
func (c *ModuleConv) Choose(_ selection.Hint, choices []logon.Verdict) (int, error) {
	var b strings.Builder
	b.WriteString("Several certificates may log on:")
	for i, v := range choices {
		fmt.Fprintf(&b, "\n  %d) %s (slot %s, expires %s)", i+1, v.Label, v.Slot, v.Cert.NotAfter.Format(time.DateOnly))
	}
	c.Info(b.String())
	if err := c.send(frameAsk, fmt.Sprintf("Certificate [1-%d]: ", len(choices))); err != nil {
		return 0, err
	}
	a, err := c.answer()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(a)))
	if err != nil || n < 1 || n > len(choices) {
		return 0, fmt.Errorf("pam: the choice %q is not a number from 1 to %d", a, len(choices))
	}
	return n - 1, nil
}

// Putenv sets name=value in the PAM environment (pam_putenv).
func (c *ModuleConv) Putenv(name, value string) error { return c.send(frameEnv, name+"="+value) }

// Result ends the exchange with code.
func (c *ModuleConv) Result(code Code) error { return c.send(frameResult, string(code)) }

// ResultCode is the PAM code for the outcome of an auth: what a display
// manager expects, so that without a card the stack falls through to a
// password and a blocked PIN is not asked again.
func ResultCode(err error) Code {
	var pe *card.PINError
	var kerr *kinit.KDCError
	var terr *transport.Error
	switch {
	case err == nil:
		return Success
	case errors.Is(err, card.ErrPINBlocked), errors.As(err, &pe) && pe.Retries == 0:
		return MaxTries
	case errors.As(err, &pe), errors.As(err, &kerr):
		return AuthErr
	case errors.Is(err, ErrConversation):
		return ConvErr
	case errors.Is(err, card.ErrNoCard), errors.Is(err, ErrReader), selection.Absent(err),
		errors.As(err, &terr), errors.Is(err, transport.ErrNoKDC), errors.Is(err, context.DeadlineExceeded):
		return AuthinfoUnavail
	case errors.Is(err, ErrNoCertificate), errors.Is(err, logon.ErrNoUsable):
		return CredInsufficient
	case errors.Is(err, ErrKeytab):
		return SystemErr
	}
	return AuthErr
}
