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
	"github.com/sclogon/sclogon/kinit/identity"
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

A PKCS #11 token (SoftHSM, a TPM, a card through OpenSC) is named by its
MIT identity, as for kinit: status reads the token's flags (low, final try,
locked); change is C_SetPIN; unblock logs the security officer in with the
SO PIN and sets a new PIN with C_InitPIN, which unlocks it. A token's PIN
may be as short or long as the token says (4 digits, a passphrase).

flags:
  --identity PKCS11:…  the PKCS #11 token (also -X X509_user_identity=PKCS11:…)
  --reader NAME        the card in this reader (default: the only card)
  --card-backend B     generic (default) or piv-go
  --pin-stdin          read the PINs from stdin, one per line

examples:
  sclogon pin status
  sclogon pin change
  printf '12345678\n654321\n' | sclogon pin unblock --pin-stdin
  sclogon pin status -X X509_user_identity=PKCS11:token=alice-token

Exit codes: 0 done, 1 refused or a card error, 2 usage error.
`

func init() {
	register(&command{name: "pin", summary: "PIN tries left; change or unblock the card's PIN", help: pinHelp, run: runPIN})
}

// pinOptions are the parsed flags and operand of 'sclogon pin'.
type pinOptions struct {
	cf       cardFlags
	op       string
	pinStdin bool
	tokenID  string
}

func runPIN(ctx context.Context, s stdio, args []string) int {
	o, code, ok := parsePINArgs(s, args)
	if !ok {
		return code
	}
	if o.tokenID != "" {
		if !identity.IsPKCS11(o.tokenID) {
			return cardFail(s, usageError{fmt.Errorf("--identity %q: sclogon pin manages PKCS11: tokens and cards, not files", o.tokenID)})
		}
		return tokenPIN(s, o.tokenID, o.op, o.pinStdin)
	}
	c, reader, err := openPINCard(o.cf)
	if err != nil {
		return cardFail(s, err)
	}
	defer c.Close()
	n, err := c.PINRetries()
	if err != nil {
		return cardFail(s, err)
	}
	a := pinAsker{stdin: bufio.NewReader(s.in), fromStdin: o.pinStdin, newPIN: card.NewPIN}
	switch o.op {
	case "status":
		printPINStatus(s, reader, n)
		return exitOK
	case "change":
		err = changeCardPIN(s, c, a, reader, n)
	case "unblock":
		err = unblockCardPIN(s, c, a, reader)
	}
	if err != nil {
		return cardFail(s, err)
	}
	return exitOK
}

// parsePINArgs parses the operand and flags of 'sclogon pin'. When ok is
// false the help or a usage error has been printed and code is the exit code.
func parsePINArgs(s stdio, args []string) (o pinOptions, code int, ok bool) {
	fs := flag.NewFlagSet("sclogon pin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.cf.register(fs, false)
	fs.BoolVar(&o.pinStdin, "pin-stdin", false, "")
	fs.StringVar(&o.tokenID, "identity", "", "")
	fs.Func("X", "", func(v string) error {
		k, id, _ := strings.Cut(v, "=")
		if k != "X509_user_identity" {
			return fmt.Errorf("-X %s: sclogon pin reads X509_user_identity", k)
		}
		o.tokenID = id
		return nil
	})
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.op, args = args[0], args[1:]
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(s.out, strings.TrimLeft(pinHelp, "\n"))
		return o, exitOK, false
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && o.op != "status" && o.op != "change" && o.op != "unblock" {
		err = fmt.Errorf("want status, change or unblock, not %q", o.op)
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pin status|change|unblock [flags]; 'sclogon help pin' explains\n", err)
		return o, exitUsage, false
	}
	return o, 0, true
}

// openPINCard opens the card in --reader, or the only card present.
func openPINCard(cf cardFlags) (card.Card, string, error) {
	conf, err := loadKrb5Conf()
	if err != nil {
		return nil, "", err
	}
	prov, _, err := cf.provider(conf)
	if err != nil {
		return nil, "", err
	}
	reader := cf.reader
	if reader == "" {
		rs, err := card.List(prov)
		if err != nil {
			return nil, "", err
		}
		if len(rs) > 1 {
			return nil, "", usageError{fmt.Errorf("%d cards are present; name one with --reader (%s)", len(rs), strings.Join(rs, ", "))}
		}
		reader = rs[0]
	}
	c, err := prov.Open(reader)
	if err != nil {
		return nil, "", err
	}
	return c, reader, nil
}

// printPINStatus reports the n PIN tries left of the card in reader.
func printPINStatus(s stdio, reader string, n int) {
	switch n {
	case 0:
		fmt.Fprintf(s.out, "%s: the PIN is blocked; unblock it with 'sclogon pin unblock'\n", reader)
	case -1:
		fmt.Fprintf(s.out, "%s: the PIN is verified in this session\n", reader)
	default:
		fmt.Fprintf(s.out, "%s: %d PIN tries left\n", reader, n)
	}
}

// changeCardPIN asks for the current PIN (n tries left) and a new one.
func changeCardPIN(s stdio, c card.Card, a pinAsker, reader string, n int) error {
	if n == 0 {
		return card.ErrPINBlocked
	}
	if n == 1 {
		fmt.Fprintln(s.errOut, "sclogon: warning: one PIN try is left; a wrong PIN now blocks the card")
	}
	old, err := a.ask(fmt.Sprintf("PIN for %s (%d tries left): ", reader, n))
	if err != nil {
		return err
	}
	defer old.Wipe()
	np, err := a.askNew("PIN")
	if err != nil {
		return err
	}
	defer np.Wipe()
	if err := c.ChangePIN(old, np); err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the PIN of the card in %s is changed\n", reader)
	return nil
}

// unblockCardPIN asks for the PUK and a new PIN.
func unblockCardPIN(s stdio, c card.Card, a pinAsker, reader string) error {
	puk, err := a.ask(fmt.Sprintf("PUK for %s: ", reader))
	if err != nil {
		return err
	}
	defer puk.Wipe()
	np, err := a.askNew("PIN")
	if err != nil {
		return err
	}
	defer np.Wipe()
	if err := c.UnblockPIN(puk, np); err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the PIN of the card in %s is set and unblocked\n", reader)
	return nil
}

// pinAsker reads PINs for 'sclogon pin': on the terminal without echo, or
// one a line from stdin; newPIN checks the length the card takes.
type pinAsker struct {
	stdin     *bufio.Reader
	fromStdin bool
	newPIN    func([]byte) (*card.PIN, error)
}

func (a pinAsker) ask(prompt string) (*card.PIN, error) {
	var b []byte
	var err error
	if a.fromStdin {
		b, err = readSecretLine(a.stdin)
	} else {
		b, err = promptTerminal(prompt)
	}
	if err != nil {
		return nil, err
	}
	return a.newPIN(b)
}

// askNew asks for a new PIN, twice on the terminal.
func (a pinAsker) askNew(what string) (*card.PIN, error) {
	p, err := a.ask("New " + what + ": ")
	if err != nil || a.fromStdin {
		return p, err
	}
	again, err := a.ask("New " + what + " again: ")
	if err != nil {
		p.Wipe()
		return nil, err
	}
	same := false
	_ = p.Use(func(x []byte) error {
		return again.Use(func(y []byte) error { same = subtle.ConstantTimeCompare(x, y) == 1; return nil })
	})
	again.Wipe()
	if !same {
		p.Wipe()
		return nil, errors.New("the two new PINs differ; nothing was changed")
	}
	return p, nil
}

// cardPINPrompt asks for the logon PIN: on the terminal without echo, or
// from stdin with --pin-stdin. It warns before the last try.
func cardPINPrompt(s stdio, stdin *bufio.Reader, fromStdin bool) func(label string, retries int) (*card.PIN, error) {
	return pinPrompt(s, stdin, fromStdin, card.NewPIN)
}

// pinPrompt is [cardPINPrompt] with newPIN checking the PIN's length.
func pinPrompt(s stdio, stdin *bufio.Reader, fromStdin bool, newPIN func([]byte) (*card.PIN, error)) func(label string, retries int) (*card.PIN, error) {
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
		return newPIN(b)
	}
}
