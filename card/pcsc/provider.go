//go:build cgo && (linux || freebsd || openbsd)

package pcsc

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
)

// Provider opens cards under PC/SC with the generic PIV client.
type Provider struct {
	// Short forces short APDUs (see [apdu.Options]).
	Short bool
	// NoPINPad types the PIN on the host even when the reader has a PIN
	// pad. By default a card in a reader that offers PC/SC part 10's
	// FEATURE_VERIFY_PIN_DIRECT takes its PIN there: the card reports
	// ProtectedPath, and VerifyPIN(nil) and ChangePIN(nil, nil) wait for the
	// person to type on the reader.
	NoPINPad bool
	// OnPINPad, if set, is called right before the reader waits for the
	// PIN, to tell the person to enter it on the reader.
	OnPINPad func(reader string)
	// Wait is how long Readers waits for a card (or for [Provider.Card])
	// when none is in; 0 does not wait. The wait is SCardGetStatusChange,
	// and a reader plugged in meanwhile counts.
	Wait time.Duration
	// Waiting, if set, is called once when Readers begins to wait (to say
	// "Insert your smart card").
	Waiting func()
	// Context ends a wait early (through SCardCancel); nil never does. The
	// card.Provider methods take no context, so it rides here.
	Context context.Context
	// Card selects one card: its CHUID GUID or serial number (see
	// [MatchID]). Readers then lists only the reader holding it, opening
	// each card present to read its identity.
	Card string
	// Reader, if set, limits Readers to readers whose name contains it,
	// so that a wait ends only for a card in such a reader.
	Reader string
}

func (p Provider) context() context.Context {
	if p.Context != nil {
		return p.Context
	}
	return context.Background()
}

// Readers lists the readers that hold a card (the card [Provider.Card]
// names, if set), waiting up to [Provider.Wait] for one.
func (p Provider) Readers() ([]string, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	defer ctx.Release()
	states, err := ctx.States()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(p.Wait)
	waiting := false
	for {
		found, missing := p.holding(states)
		if missing == nil && len(found) > 0 {
			return found, nil
		}
		var nf *CardNotFoundError
		if missing != nil && !errors.As(missing, &nf) {
			return nil, missing
		}
		if p.Wait <= 0 {
			return nil, missing // nil, nil without a card: card.List says ErrNoCard
		}
		if !waiting && p.Waiting != nil {
			p.Waiting()
		}
		waiting = true
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errors.Join(ErrWaitEnded, missing)
		}
		states, err = ctx.WaitChange(p.context(), states, left)
		if errors.Is(err, errTimeout) {
			return nil, errors.Join(ErrWaitEnded, missing)
		}
		if err != nil {
			return nil, err
		}
	}
}

// holding lists the readers of states with a card, and with [Provider.Card]
// set only the one holding that card (or a [*CardNotFoundError]).
func (p Provider) holding(states []ReaderState) ([]string, error) {
	var out []string
	for _, s := range states {
		if s.Present() && strings.Contains(s.Reader, p.Reader) {
			out = append(out, s.Reader)
		}
	}
	if p.Card == "" || len(out) == 0 {
		if p.Card != "" {
			return nil, &CardNotFoundError{Want: p.Card}
		}
		return out, nil
	}
	nf := &CardNotFoundError{Want: p.Card}
	for _, r := range out {
		id, err := p.identify(r)
		if err != nil {
			continue // a card that cannot be read is not the one asked for
		}
		if MatchID(p.Card, id) {
			return []string{r}, nil
		}
		nf.Present = append(nf.Present, id)
	}
	return nil, nf
}

// identify opens the card in reader just long enough to read its CHUID
// (or serial), and leaves it as it was: nothing is verified.
func (p Provider) identify(reader string) (card.ID, error) {
	c, err := p.open(reader, false, false)
	if err != nil {
		return card.ID{}, err
	}
	defer c.Close()
	return c.ID()
}

// Open connects to the card in reader and selects its PIV application. A
// reader with a PIN pad gives a card that takes its PIN there (unless
// [Provider.NoPINPad]).
func (p Provider) Open(reader string) (card.Card, error) { return p.open(reader, !p.NoPINPad, true) }

// open opens the card in reader; pad looks for a PIN pad, reset resets the
// card when it is closed (ending what was verified).
func (p Provider) open(reader string, pad, reset bool) (card.Card, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	conn, err := ctx.Connect(reader)
	if err != nil {
		ctx.Release()
		return nil, err
	}
	end := conn.Close
	if !reset {
		end = conn.Leave
	}
	closeAll := func() error { return errors.Join(end(), ctx.Release()) }
	c, err := apdu.Open(conn, reader, apdu.Options{Short: p.Short, Close: closeAll})
	if err != nil {
		closeAll()
		return nil, err
	}
	if !pad {
		return c, nil
	}
	if pc := newPadCard(c, conn, reader, p.OnPINPad); pc != nil {
		return pc, nil
	}
	return c, nil
}
