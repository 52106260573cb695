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
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/piv"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/krb5conf"
)

const pinHelp = `
usage: sclogon pin status|change|unblock [flags]

status   prints how many tries each of the card's PINs has left: the PIV
         PIN, the global PIN where the card has one, and the PUK (sends
         no PIN)
change   asks for the current PIN and a new one (twice) and changes it;
         with --puk the PUK, with --global the card's global PIN
unblock  asks for the PUK and a new PIN (twice) and sets it; this also
         restores the PIN's tries. A wrong PUK costs one of its own tries.

PINs are read from the terminal without echo, never from arguments or the
environment. --pin-stdin reads them from stdin instead, one per line:
change: current PIN, new PIN; unblock: PUK, new PIN.

On a reader with a PIN pad (PC/SC part 10), change asks for nothing on the
computer: the current PIN, the new one and its confirmation are typed on
the reader, and never cross the host; unblock the same with the PUK, the
new PIN and its confirmation. --no-pin-pad (or krb5.conf's
sclogon_pin_pad = false) types them on the computer instead.

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
  --puk                change: the PUK instead of the PIN
  --global             change: the global PIN instead of the PIV PIN
  --no-pin-pad         type the PINs on the computer even when the reader has
                       a PIN pad

Ctrl-C at a prompt ends the command (exit 130) and sends nothing to the card.

examples:
  sclogon pin status
  sclogon pin change
  sclogon pin change --puk
  printf '12345678\n654321\n' | sclogon pin unblock --pin-stdin
  sclogon pin status -X X509_user_identity=PKCS11:token=alice-token

Exit codes: 0 done, 1 refused or a card error, 2 usage error, 130 interrupted.
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
	role     card.PINRole // of change: --puk, --global
	noPad    bool
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
	c, reader, err := openPINCard(o.cf, o.noPad)
	if err != nil {
		return cardFail(s, err)
	}
	defer c.Close()
	if o.op == "status" {
		if err := printPINStatus(s, reader, c); err != nil {
			return cardFail(s, err)
		}
		return exitOK
	}
	n, err := card.Retries(c, o.role)
	if err != nil {
		return cardFail(s, err)
	}
	a := pinAsker{ctx: ctx, stdin: bufio.NewReader(s.in), fromStdin: o.pinStdin, newPIN: card.NewPIN}
	switch o.op {
	case "change":
		err = changeCardPIN(s, c, a, reader, o.role, n)
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
	fs.BoolVar(&o.noPad, "no-pin-pad", false, "")
	puk := fs.Bool("puk", false, "")
	global := fs.Bool("global", false, "")
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
	switch {
	case err != nil:
	case (*puk || *global) && o.op != "change":
		err = errors.New("--puk and --global go with change")
	case *puk && *global:
		err = errors.New("choose one of --puk and --global")
	case *puk:
		o.role = card.RolePUK
	case *global:
		o.role = card.RoleGlobalPIN
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pin status|change|unblock [flags]; 'sclogon help pin' explains\n", err)
		return o, exitUsage, false
	}
	return o, 0, true
}

// openPINCard opens the card in --reader, or the only card present; the
// card takes its PINs on the reader's PIN pad unless noPad or krb5.conf's
// sclogon_pin_pad = false says otherwise.
func openPINCard(cf cardFlags, noPad bool) (card.Card, string, error) {
	conf, err := loadKrb5Conf()
	if err != nil {
		return nil, "", err
	}
	prov, _, err := cf.provider(conf)
	if err != nil {
		return nil, "", err
	}
	noPad = noPad || conf != nil && !conf.RealmBool(conf.DefaultRealm(), "sclogon_pin_pad", true)
	switch p := prov.(type) {
	case pcsc.Provider:
		p.NoPINPad = noPad
		prov = p
	case piv.Provider:
		p.NoPINPad = noPad
		prov = p
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

// printPINStatus reports the tries left of each of the card's PINs: the
// PIV PIN, the global PIN where there is one, the PUK where the card tells.
func printPINStatus(s stdio, reader string, c card.Card) error {
	roles := []card.PINRole{card.RolePIN}
	if rc, ok := card.As[card.RoleCard](c); ok {
		var err error
		if roles, err = rc.Roles(); err != nil {
			return err
		}
	}
	for _, role := range roles {
		n, err := card.Retries(c, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "%s: %s\n", reader, roleStatus(role, n))
	}
	return nil
}

// roleStatus says what n tries left mean for role.
func roleStatus(role card.PINRole, n int) string {
	name := "PIN"
	if role != card.RolePIN {
		name = role.String()
	}
	switch {
	case n == 0 && role == card.RolePUK:
		return "the PUK is blocked; only resetting the card's PIV application frees it"
	case n == 0:
		return fmt.Sprintf("the %s is blocked; unblock it with 'sclogon pin unblock'", name)
	case n == -1:
		return fmt.Sprintf("the %s is verified in this session", name)
	case n == 1:
		return fmt.Sprintf("1 %s try left", name)
	}
	return fmt.Sprintf("%d %s tries left", n, name)
}

// changeCardPIN asks for the current secret of role (n tries left) and a
// new one, and changes it. On a card that takes its PINs on the reader's
// PIN pad the person types all three there, and the host asks nothing.
func changeCardPIN(s stdio, c card.Card, a pinAsker, reader string, role card.PINRole, n int) error {
	if n == 0 {
		if role == card.RolePUK {
			return card.ErrPUKBlocked
		}
		return card.ErrPINBlocked
	}
	if n == 1 {
		fmt.Fprintf(s.errOut, "sclogon: warning: one %s try is left; a wrong one now blocks it\n", role)
	}
	var old, np *card.PIN // nil, nil: typed on the PIN pad
	if onPINPad(c) {
		fmt.Fprintf(s.errOut, "sclogon: on the PIN pad of the reader %q, type the current %s (%s), then the new one, then the new one again\n", reader, role, card.TriesLeft(n))
	} else {
		var err error
		if old, err = a.ask(card.PINRequest{Role: role, Purpose: card.PurposeChange, For: reader, Retries: n}.Prompt()); err != nil {
			return err
		}
		defer old.Wipe()
		if np, err = a.askNew(role.String()); err != nil {
			return err
		}
		defer np.Wipe()
	}
	var err error
	switch rc, ok := card.As[card.RoleCard](c); {
	case ok:
		err = rc.ChangeRole(role, old, np)
	case role == card.RolePIN:
		err = c.ChangePIN(old, np)
	default:
		return usageError{fmt.Errorf("this card backend cannot change the %s; use --card-backend generic", role)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the %s of the card in %s is changed\n", role, reader)
	return nil
}

// onPINPad reports a card that takes its PINs on the reader's PIN pad.
func onPINPad(c card.Card) bool {
	pp, ok := card.As[interface{ ProtectedPath() bool }](c)
	return ok && pp.ProtectedPath()
}

// unblockCardPIN asks for the PUK and a new PIN. On a card that takes its
// PINs on the reader's PIN pad the person types them there, and the host
// asks nothing.
func unblockCardPIN(s stdio, c card.Card, a pinAsker, reader string) error {
	tries := card.RetriesUncounted
	if n, err := card.Retries(c, card.RolePUK); err == nil {
		tries = n
	}
	if tries == 0 {
		return card.ErrPUKBlocked
	}
	var puk, np *card.PIN // nil, nil: typed on the PIN pad
	if onPINPad(c) {
		fmt.Fprintf(s.errOut, "sclogon: on the PIN pad of the reader %q, type the PUK (%s), then the new PIN, then the new PIN again\n", reader, card.TriesLeft(tries))
	} else {
		var err error
		if puk, err = a.ask(card.PINRequest{Role: card.RolePUK, Purpose: card.PurposeUnblock, For: reader, Retries: tries}.Prompt()); err != nil {
			return err
		}
		defer puk.Wipe()
		if np, err = a.askNew("PIN"); err != nil {
			return err
		}
		defer np.Wipe()
	}
	if err := c.UnblockPIN(puk, np); err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the PIN of the card in %s is set and unblocked\n", reader)
	return nil
}

// pinAsker reads PINs for 'sclogon pin': on the terminal without echo, or
// one a line from stdin; newPIN checks the length the card takes.
type pinAsker struct {
	ctx       context.Context // nil: context.Background()
	stdin     *bufio.Reader
	fromStdin bool
	newPIN    func([]byte) (*card.PIN, error)
}

func (a pinAsker) ask(prompt string) (*card.PIN, error) {
	var b []byte
	var err error
	ctx := a.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if a.fromStdin {
		b, err = readSecretLineContext(ctx, a.stdin, nil)
	} else {
		b, err = promptTerminalContext(ctx, prompt)
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errNoPIN
	}
	return a.newPIN(b)
}

// errNoPIN: an empty line at a PIN prompt; nothing is sent to the card.
var errNoPIN = errors.New("no PIN was entered; nothing was sent to the card")

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

// cardPINAsk asks for the PIN a card identity wants, naming the PIN and
// its purpose: on the terminal without echo, or from stdin with
// --pin-stdin. It warns before the last try. Ctrl-C ends it with
// errInterrupted.
func cardPINAsk(s stdio, stdin *bufio.Reader, fromStdin bool) func(context.Context, card.PINRequest) (*card.PIN, error) {
	return pinAsk(s, stdin, fromStdin, card.NewPIN)
}

// pinAsk is [cardPINAsk] with newPIN checking the PIN's length.
func pinAsk(s stdio, stdin *bufio.Reader, fromStdin bool, newPIN func([]byte) (*card.PIN, error)) func(context.Context, card.PINRequest) (*card.PIN, error) {
	return func(ctx context.Context, req card.PINRequest) (*card.PIN, error) {
		if req.Retries == 1 {
			fmt.Fprintf(s.errOut, "sclogon: warning: this is the last %s try; a wrong one blocks the card\n", req.Role)
		}
		a := pinAsker{ctx: ctx, stdin: stdin, fromStdin: fromStdin, newPIN: newPIN}
		return a.ask(req.Prompt())
	}
}

// cardPINPrompt is [cardPINAsk] in the older form of
// identity.CardOptions.PIN: the PIV PIN of the certificate labelled label.
func cardPINPrompt(s stdio, stdin *bufio.Reader, fromStdin bool) func(label string, retries int) (*card.PIN, error) {
	return pinPrompt(s, stdin, fromStdin, card.NewPIN)
}

// pinPrompt is [cardPINPrompt] with newPIN checking the PIN's length (a
// PKCS #11 token's): "PIN for LABEL (3 tries left): ".
func pinPrompt(s stdio, stdin *bufio.Reader, fromStdin bool, newPIN func([]byte) (*card.PIN, error)) func(label string, retries int) (*card.PIN, error) {
	return func(label string, retries int) (*card.PIN, error) {
		if retries == 1 {
			fmt.Fprintln(s.errOut, "sclogon: warning: this is the last PIN try; a wrong PIN blocks the card")
		}
		a := pinAsker{stdin: stdin, fromStdin: fromStdin, newPIN: newPIN}
		return a.ask(fmt.Sprintf("PIN for %s (%s): ", label, card.TriesLeft(retries)))
	}
}

// pinCachePolicy is --pin-cache, else krb5.conf's sclogon_pin_cache
// ([realms] REALM, [libdefaults] REALM, [libdefaults]), else
// [appdefaults] sclogon = { pin_cache }, else normal.
func pinCachePolicy(conf *krb5conf.Config, realm, flag string) (card.PINCachePolicy, error) {
	v := flag
	if v == "" {
		if vs := conf.RealmValues(realm, "sclogon_pin_cache"); len(vs) > 0 {
			v = vs[0]
		} else if a, ok := conf.Value("appdefaults", "sclogon", "pin_cache"); ok {
			v = a
		}
	}
	p, err := card.ParsePINCachePolicy(v)
	if err != nil && flag != "" {
		return p, usageError{fmt.Errorf("--pin-cache: %w", err)}
	}
	return p, err
}

// cardIdentityOptions are the card identity's prompts and PIN cache.
func cardIdentityOptions(s stdio, stdin *bufio.Reader, f *kinitFlags, conf *krb5conf.Config, realm string) (identity.CardOptions, error) {
	pol, err := pinCachePolicy(conf, realm, f.pinCache)
	if err != nil {
		return identity.CardOptions{}, err
	}
	return identity.CardOptions{Ask: cardPINAsk(s, stdin, f.pinStdin), OnDevice: pinPadTries(s), CachePolicy: pol}, nil
}

// pinPadTries tells the person, before they type the PIN on the reader's
// PIN pad, how many tries it has left, and warns before the last one, as
// the keyboard prompt does; the reader's own line (the provider's
// OnPINPad) follows.
func pinPadTries(s stdio) func(label string, retries int) {
	return func(label string, retries int) {
		if retries == 1 {
			fmt.Fprintln(s.errOut, "sclogon: warning: this is the last PIN try; a wrong PIN blocks the card")
		}
		fmt.Fprintf(s.errOut, "sclogon: the PIN for %s is asked on the reader (%s)\n", label, card.TriesLeft(retries))
	}
}
