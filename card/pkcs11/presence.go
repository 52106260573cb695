//go:build cgo

package pkcs11

import (
	"fmt"
	"os"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// Presence says which slots of a module hold a token that fits a [Config],
// for a watch that acts when the token leaves. It polls: C_WaitForSlotEvent
// blocks in some modules and is unsupported in others (SoftHSM), while
// C_GetSlotList and C_GetTokenInfo work everywhere. It opens no session, so
// it never holds a token another process logs on with. Close unloads the
// module.
type Presence struct {
	ctx      *p11.Ctx
	finalize bool
	config   Config
}

// NewPresence loads c's module (once, for every later look).
func NewPresence(c Config) (*Presence, error) {
	if c.Module == "" {
		c.Module = DefaultModule
	}
	if strings.ContainsRune(c.Module, '/') {
		if _, err := os.Stat(c.Module); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrModule, c.Module, err)
		}
	}
	ctx := p11.New(c.Module)
	if ctx == nil {
		return nil, fmt.Errorf("%w %s: not a PKCS #11 module, or one its loader cannot find", ErrModule, c.Module)
	}
	p := &Presence{ctx: ctx, config: c}
	switch err := ctx.Initialize(); {
	case err == nil:
		p.finalize = true
	case code(err) != p11.CKR_CRYPTOKI_ALREADY_INITIALIZED:
		ctx.Destroy()
		return nil, wrap("C_Initialize", err)
	}
	return p, nil
}

// Readers names the slots that hold a fitting token now, as [Token.Reader]
// names them: "alice-token (PKCS #11 slot 3)". A token that leaves between
// the two calls counts as absent.
func (p *Presence) Readers() ([]string, error) {
	slots, err := p.ctx.GetSlotList(true)
	if err != nil {
		return nil, wrap("C_GetSlotList", err)
	}
	var out []string
	for _, s := range slots {
		if p.config.Slot != nil && *p.config.Slot != s {
			continue
		}
		info, err := p.ctx.GetTokenInfo(s)
		switch c := code(err); {
		case c == p11.CKR_TOKEN_NOT_PRESENT, c == p11.CKR_DEVICE_REMOVED, c == p11.CKR_TOKEN_NOT_RECOGNIZED:
			continue
		case err != nil:
			return nil, wrap("C_GetTokenInfo", err)
		}
		if label := trim(info.Label); p.config.Token == "" || p.config.Token == label {
			out = append(out, slotName(label, s))
		}
	}
	return out, nil
}

// Close finalizes the module if this Presence initialized it, and unloads it.
func (p *Presence) Close() error {
	if p.ctx == nil {
		return nil
	}
	var err error
	if p.finalize {
		err = wrap("C_Finalize", p.ctx.Finalize())
	}
	p.ctx.Destroy()
	p.ctx = nil
	return err
}
