package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/piv"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/krb5conf"
)

// cardWaitFlags are kinit's --wait, --card and --no-pin-pad: whether the
// PC/SC provider waits for the card, which card it takes, and whether a
// reader's PIN pad takes the PIN. krb5.conf's sclogon_card_wait (a
// duration) and sclogon_pin_pad (a boolean), in [realms] REALM or
// [libdefaults], set the first and the last when the flags do not.
type cardWaitFlags struct {
	wait    time.Duration
	waitSet bool
	card    string
	noPad   bool
	// ctx is the command's: a Ctrl-C during the wait ends it (SCardCancel).
	// The card.Provider methods take no context, so it travels here.
	ctx context.Context
}

// untilInserted is what --wait without a duration waits: until the card is
// inserted or the command is interrupted.
const untilInserted = 100 * 365 * 24 * time.Hour

func (w *cardWaitFlags) register(fs *flag.FlagSet) {
	fs.Var(waitFlag{w}, "wait", "")
	fs.StringVar(&w.card, "card", "", "")
	fs.BoolVar(&w.noPad, "no-pin-pad", false, "")
}

// waitFlag is --wait, --wait=D or --wait D (see [cardWaitFlags.normalize]).
type waitFlag struct{ w *cardWaitFlags }

func (waitFlag) IsBoolFlag() bool { return true }

func (v waitFlag) String() string {
	if v.w == nil || !v.w.waitSet {
		return ""
	}
	return v.w.wait.String()
}

func (v waitFlag) Set(s string) error {
	v.w.waitSet = true
	switch s {
	case "true":
		v.w.wait = untilInserted
		return nil
	case "false":
		v.w.wait = 0
		return nil
	}
	d, err := kinit.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("--wait %q: want a duration such as 30s or 2m, or --wait alone to wait until the card is inserted", s)
	}
	v.w.wait = d
	return nil
}

// normalize joins "--wait 10s" into "--wait=10s": --wait takes an optional
// duration, which Go's flag package reads only after '='.
func (w *cardWaitFlags) normalize(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--wait" || a == "-wait") && i+1 < len(args) {
			if _, err := kinit.ParseDuration(args[i+1]); err == nil {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// provider sets the wait, the card and the PIN-pad use on a PC/SC provider
// (piv-go's takes the PIN-pad use only; others neither wait nor have PIN
// pads) and tells the person
// on stderr to insert the card or to type the PIN on the reader. reader is
// --reader: a wait ends for a card in that reader only.
func (w *cardWaitFlags) provider(s stdio, conf *krb5conf.Config, realm, reader string, p card.Provider) (card.Provider, error) {
	noPad := w.noPad || conf != nil && !conf.RealmBool(realm, "sclogon_pin_pad", true)
	onPad := func(reader string) {
		fmt.Fprintf(s.errOut, "sclogon: enter the PIN on the reader %q (its PIN pad); sclogon waits for the card's answer\n", reader)
	}
	pp, ok := p.(pcsc.Provider)
	if !ok {
		if w.card != "" {
			return nil, usageError{fmt.Errorf("--card %s: choosing a card by its GUID needs the generic PC/SC backend", w.card)}
		}
		if vp, ok := p.(piv.Provider); ok {
			vp.NoPINPad, vp.OnPINPad = noPad, onPad
			return vp, nil
		}
		return p, nil
	}
	wait := w.wait
	if !w.waitSet && conf != nil {
		if vs := conf.RealmValues(realm, "sclogon_card_wait"); len(vs) > 0 {
			d, err := kinit.ParseDuration(vs[0])
			if err != nil || d < 0 {
				return nil, fmt.Errorf("krb5.conf sclogon_card_wait = %q: want a duration such as 30s", vs[0])
			}
			wait = d
		}
	}
	pp.Wait, pp.Card, pp.Reader, pp.Context = wait, strings.TrimSpace(w.card), reader, w.ctx
	pp.NoPINPad, pp.OnPINPad = noPad, onPad
	pp.Waiting = func() {
		what := "your smart card"
		if pp.Card != "" {
			what = "the smart card " + pp.Card
		}
		if wait >= untilInserted {
			fmt.Fprintf(s.errOut, "sclogon: insert %s; waiting for it (Ctrl-C to stop)\n", what)
			return
		}
		fmt.Fprintf(s.errOut, "sclogon: insert %s; waiting up to %v\n", what, wait)
	}
	return pp, nil
}
