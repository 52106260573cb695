package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sclogon/sclogon/card"
)

const pinHelp = `
usage: sclogon pin status|change|unblock [flags]

status   prints how many PIN tries are left (sends no PIN)
change   asks for the current PIN and a new one (twice) and changes it
unblock  asks for the PUK and a new PIN (twice) and sets it; this also
         restores the PIN's tries. A wrong PUK costs one of its own tries.

PINs are read from the terminal without echo, never from arguments or the
environment. --pin-stdin reads them from stdin instead, one per line:
change: current PIN, new PIN; unblock: PUK, new PIN.

flags:
  --reader NAME        the card in this reader (default: the only card)
  --card-backend B     generic (default) or piv-go
  --pin-stdin          read the PINs from stdin, one per line

examples:
  sclogon pin status
  sclogon pin change
  printf '12345678\n654321\n' | sclogon pin unblock --pin-stdin

Exit codes: 0 done, 1 refused or a card error, 2 usage error.
`

func init() {
	register(&command{name: "pin", summary: "PIN tries left; change or unblock the card's PIN", help: pinHelp, run: runPIN})
}

func runPIN(ctx context.Context, s stdio, args []string) int {
	var cf cardFlags
	var pinStdin bool
	fs := flag.NewFlagSet("sclogon pin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf.register(fs, false)
	fs.BoolVar(&pinStdin, "pin-stdin", false, "")
	op := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		op, args = args[0], args[1:]
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(s.out, strings.TrimLeft(pinHelp, "\n"))
		return exitOK
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && op != "status" && op != "change" && op != "unblock" {
		err = fmt.Errorf("want status, change or unblock, not %q", op)
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pin status|change|unblock [flags]; 'sclogon help pin' explains\n", err)
		return exitUsage
	}
	conf, err := loadKrb5Conf()
	if err != nil {
		return cardFail(s, err)
	}
	prov, _, err := cf.provider(conf)
	if err != nil {
		return cardFail(s, err)
	}
	reader := cf.reader
	if reader == "" {
		rs, err := card.List(prov)
		if err != nil {
			return cardFail(s, err)
		}
		if len(rs) > 1 {
			return cardFail(s, usageError{fmt.Errorf("%d cards are present; name one with --reader (%s)", len(rs), strings.Join(rs, ", "))})
		}
		reader = rs[0]
	}
	c, err := prov.Open(reader)
	if err != nil {
		return cardFail(s, err)
	}
	defer c.Close()
	n, err := c.PINRetries()
	if err != nil {
		return cardFail(s, err)
	}
	stdin := bufio.NewReader(s.in)
	ask := func(prompt string) (*card.PIN, error) {
		var b []byte
		var err error
		if pinStdin {
			b, err = readSecretLine(stdin)
		} else {
			b, err = promptTerminal(prompt)
		}
		if err != nil {
			return nil, err
		}
		return card.NewPIN(b)
	}
	askNew := func(what string) (*card.PIN, error) {
		p, err := ask("New " + what + ": ")
		if err != nil || pinStdin {
			return p, err
		}
		again, err := ask("New " + what + " again: ")
		if err != nil {
			p.Wipe()
			return nil, err
		}
		same := false
		_ = p.Use(func(a []byte) error {
			return again.Use(func(b []byte) error { same = subtle.ConstantTimeCompare(a, b) == 1; return nil })
		})
		again.Wipe()
		if !same {
			p.Wipe()
			return nil, errors.New("the two new PINs differ; nothing was changed")
		}
		return p, nil
	}
	switch op {
	case "status":
		switch n {
		case 0:
			fmt.Fprintf(s.out, "%s: the PIN is blocked; unblock it with 'sclogon pin unblock'\n", reader)
		case -1:
			fmt.Fprintf(s.out, "%s: the PIN is verified in this session\n", reader)
		default:
			fmt.Fprintf(s.out, "%s: %d PIN tries left\n", reader, n)
		}
		return exitOK
	case "change":
		if n == 0 {
			return cardFail(s, card.ErrPINBlocked)
		}
		if n == 1 {
			fmt.Fprintln(s.errOut, "sclogon: warning: one PIN try is left; a wrong PIN now blocks the card")
		}
		old, err := ask(fmt.Sprintf("PIN for %s (%d tries left): ", reader, n))
		if err != nil {
			return cardFail(s, err)
		}
		defer old.Wipe()
		np, err := askNew("PIN")
		if err != nil {
			return cardFail(s, err)
		}
		defer np.Wipe()
		if err := c.ChangePIN(old, np); err != nil {
			return cardFail(s, err)
		}
		fmt.Fprintf(s.errOut, "sclogon: the PIN of the card in %s is changed\n", reader)
	case "unblock":
		puk, err := ask(fmt.Sprintf("PUK for %s: ", reader))
		if err != nil {
			return cardFail(s, err)
		}
		defer puk.Wipe()
		np, err := askNew("PIN")
		if err != nil {
			return cardFail(s, err)
		}
		defer np.Wipe()
		if err := c.UnblockPIN(puk, np); err != nil {
			return cardFail(s, err)
		}
		fmt.Fprintf(s.errOut, "sclogon: the PIN of the card in %s is set and unblocked\n", reader)
	}
	return exitOK
}

// cardPINPrompt asks for the logon PIN: on the terminal without echo, or
// from stdin with --pin-stdin. It warns before the last try.
func cardPINPrompt(s stdio, stdin *bufio.Reader, fromStdin bool) func(label string, retries int) (*card.PIN, error) {
	return func(label string, retries int) (*card.PIN, error) {
		if retries == 1 {
			fmt.Fprintln(s.errOut, "sclogon: warning: this is the last PIN try; a wrong PIN blocks the card")
		}
		tries := card.TriesLeft(retries)
		var b []byte
		var err error
		if fromStdin {
			b, err = readSecretLine(stdin)
		} else {
			b, err = promptTerminal(fmt.Sprintf("PIN for %s (%s): ", label, tries))
		}
		if err != nil {
			return nil, err
		}
		return card.NewPIN(b)
	}
}
