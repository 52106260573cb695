package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/enroll"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
)

const enrollHelp = `
usage: sclogon pki enroll --upn UPN [--principal NAME@REALM] [--sid S-1-5-…] [flags]

Puts a logon identity on a PIV card: the card generates a key pair in the
slot, signs a PKCS #10 request with it, the test CA in --dir issues the
certificate (the content 'sclogon pki issue user' gives it), and the
certificate is written into the slot and read back. The private key never
leaves the card.

The management key is authenticated and the PIN verified before the slot's
key is replaced, so a wrong one changes nothing; a wrong PIN costs exactly
one try. A failure names the step that failed.

card:
  --reader NAME                 the card in this reader (default: the only card present)
  --slot S                      9a (default), 9c, 9d, 9e or 82–95
  --key-type T                  rsa2048 (default), p256 or p384, made on the card

management key (never on the command line; one of):
  --management-key-file PATH    read it in hex from PATH
  --management-key-stdin        read it in hex from the first line of stdin
  --default-management-key      the factory key 010203040506070801020304050607080102030405060708
                                (YubiKeys and most PIV cards as shipped)
  (none of these)               ask for it on the terminal, without echo
  --management-key-algorithm A  3des, aes128, aes192 or aes256 (default: by length;
                                24 bytes are offered as 3DES, then as AES-192)

PIN:
  --pin-stdin                   read the PIN from stdin instead of the terminal. With
                                --management-key-stdin too, stdin holds two lines:
                                the management key first, then the PIN.

certificate (as 'sclogon pki issue user'):
  --dir DIR                     the CA directory (default ./pki)
  --upn UPN                     the MS UPN SAN; AD maps the account by it
  --principal NAME@REALM        an id-pkinit-san principal; repeatable
  --sid S-1-5-21-…              the KB5014754 SID extension (strong mapping)
  --cn NAME                     subject common name (default: the UPN's user part)
  --email ADDR                  an rfc822Name SAN; repeatable
  --eku LIST                    default clientauth,smartcardlogon
  --ku LIST                     default digitalSignature (+ keyEncipherment for RSA)
  --validity D                  default 365d

examples:
  sclogon pki enroll --dir ca --upn alice@example.com --sid S-1-5-21-1-2-3-1104
  sclogon pki enroll --dir ca --reader "Yubico YubiKey CCID 00 00" --management-key-file mgm.hex --upn alice@example.com
  printf '%s\n123456\n' "$MGM_KEY" | sclogon pki enroll --dir ca --management-key-stdin --pin-stdin --upn alice@example.com

Prints what was done on stdout (reader, slot, key, serial, subject, UPN, SID).
Exit codes: 0 enrolled, 1 a step failed, 2 usage error.
`

type enrollFlags struct {
	dir, reader, slot, keyType      string
	mgmFile, mgmAlg                 string
	mgmStdin, mgmDefault, pinStdin  bool
	upn, sid, cn, eku, ku, validity string
	principals, emails              listFlag
}

func runEnroll(ctx context.Context, s stdio, args []string) int {
	usageFail := func(err error) int {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pki enroll --upn UPN [flags]; 'sclogon pki enroll -h' explains\n", err)
		return exitUsage
	}
	f, err := parseEnrollFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(s.out, strings.TrimLeft(enrollHelp, "\n"))
		return exitOK
	}
	if err != nil {
		return usageFail(err)
	}
	req, err := f.request()
	if err != nil {
		return usageFail(err)
	}
	mgmAlg, err := f.managementAlgorithm()
	if err != nil {
		return usageFail(err)
	}
	// The CA first: a directory that does not open stops before the card.
	ca, err := pki.Open(f.dir, pki.Options{})
	if err != nil {
		return enrollFail(s, err)
	}
	req.CA = ca
	prov := pcsc.Provider{}
	reader, err := enrollReader(prov, f.reader)
	if err != nil {
		var u usageError
		if errors.As(err, &u) {
			return usageFail(u.err)
		}
		return enrollFail(s, err)
	}
	stdin := bufio.NewReader(s.in)
	if req.ManagementKey, err = f.managementKey(mgmAlg, stdin, reader); err != nil {
		var u usageError
		if errors.As(err, &u) {
			return usageFail(u.err)
		}
		return enrollFail(s, err)
	}
	defer req.ManagementKey.Wipe()
	prompt := cardPINPrompt(s, stdin, f.pinStdin)
	req.PIN = func(retries int) (*card.PIN, error) { return prompt(reader, retries) }
	res, err := enrollCard(s, prov, reader, req)
	if err != nil {
		return enrollFailKey(s, req.ManagementKey, err)
	}
	printEnrolled(s.out, res)
	fmt.Fprintf(s.errOut, "sclogon: slot %s of the card in %s holds a new %s key and its certificate\n", res.Slot, res.Reader, res.Key)
	return exitOK
}

// parseEnrollFlags reads enroll's flags; flag.ErrHelp for -h.
func parseEnrollFlags(args []string) (*enrollFlags, error) {
	f := &enrollFlags{}
	fs := flag.NewFlagSet("sclogon pki enroll", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.dir, "dir", "pki", "")
	fs.StringVar(&f.reader, "reader", "", "")
	fs.StringVar(&f.slot, "slot", "9a", "")
	fs.StringVar(&f.keyType, "key-type", "rsa2048", "")
	fs.StringVar(&f.mgmFile, "management-key-file", "", "")
	fs.BoolVar(&f.mgmStdin, "management-key-stdin", false, "")
	fs.BoolVar(&f.mgmDefault, "default-management-key", false, "")
	fs.StringVar(&f.mgmAlg, "management-key-algorithm", "", "")
	fs.BoolVar(&f.pinStdin, "pin-stdin", false, "")
	fs.StringVar(&f.upn, "upn", "", "")
	fs.Var(&f.principals, "principal", "")
	fs.StringVar(&f.sid, "sid", "", "")
	fs.StringVar(&f.cn, "cn", "", "")
	fs.Var(&f.emails, "email", "")
	fs.StringVar(&f.eku, "eku", "clientauth,smartcardlogon", "")
	fs.StringVar(&f.ku, "ku", "", "")
	fs.StringVar(&f.validity, "validity", "365d", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// managementAlgorithm reads --management-key-algorithm and checks that at
// most one source of the management key is given.
func (f *enrollFlags) managementAlgorithm() (card.ManagementAlgorithm, error) {
	alg, err := card.ParseManagementAlgorithm(f.mgmAlg)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, on := range []bool{f.mgmFile != "", f.mgmStdin, f.mgmDefault} {
		if on {
			n++
		}
	}
	if n > 1 {
		return 0, errors.New("give one of --management-key-file, --management-key-stdin and --default-management-key")
	}
	if f.mgmDefault && alg != 0 {
		return 0, errors.New("--management-key-algorithm is for a key given by file, stdin or terminal; the default key is offered as 3DES, then as AES-192")
	}
	return alg, nil
}

// enrollReader is the named reader, else the only one with a card; several
// cards without --reader is a usageError.
func enrollReader(prov pcsc.Provider, named string) (string, error) {
	if named != "" {
		return named, nil
	}
	rs, err := card.List(prov)
	if err != nil {
		return "", err
	}
	if len(rs) > 1 {
		return "", usageError{fmt.Errorf("%d cards are present; name one with --reader (%s)", len(rs), strings.Join(rs, ", "))}
	}
	return rs[0], nil
}

// managementKey reads the card's management key from the source the flags
// name (the default key, a file, stdin or the terminal); a key that does
// not parse is a usageError.
func (f *enrollFlags) managementKey(alg card.ManagementAlgorithm, stdin *bufio.Reader, reader string) (*card.ManagementKey, error) {
	if f.mgmDefault {
		return card.DefaultManagementKey(), nil
	}
	var text []byte
	var err error
	switch {
	case f.mgmFile != "":
		text, err = os.ReadFile(f.mgmFile)
	case f.mgmStdin:
		text, err = readSecretLine(stdin)
	default:
		text, err = promptTerminal(fmt.Sprintf("Management key for %s (hex): ", reader))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the management key: %w", err)
	}
	key, err := card.ParseManagementKey(alg, text)
	if err != nil {
		return nil, usageError{err}
	}
	return key, nil
}

// enrollCard generates the key and installs the certificate on the card in
// reader, then drops the card's entry from the certificate cache.
func enrollCard(s stdio, prov pcsc.Provider, reader string, req enroll.Request) (*enroll.Result, error) {
	c, err := prov.Open(reader)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	en, ok := c.(card.Enroller)
	if !ok {
		return nil, fmt.Errorf("the card in %s cannot be enrolled by this client", reader)
	}
	stop := func() {}
	req.Progress = func(step enroll.Step) {
		if step == enroll.StepGenerate { // after the PIN prompt: the spinner shares the terminal
			stop = startSpinner(s.errOut, true, "generating a "+req.Key.String()+" key on the card in "+reader)
		}
	}
	res, err := enroll.Enroll(en, req)
	stop()
	if err != nil {
		return nil, err
	}
	// The certificate cache knows this card by its CHUID, which enrollment
	// does not change: drop its entry so the next logon reads the new
	// certificate.
	if id, err := c.ID(); err == nil {
		if cache, err := card.DefaultCache(); err == nil {
			_ = cache.Forget(id)
		}
	}
	return res, nil
}

// request checks the flags and builds the request without its secrets and CA.
func (f *enrollFlags) request() (enroll.Request, error) {
	var r enroll.Request
	var err error
	if r.Slot, err = card.ParseSlot(f.slot); err != nil {
		return r, fmt.Errorf("--slot: %w", err)
	}
	if r.Key, err = card.ParseKeyAlgorithm(f.keyType); err != nil {
		return r, fmt.Errorf("--key-type: %w", err)
	}
	u := pki.User{UPN: f.upn, CommonName: f.cn, Emails: f.emails}
	for _, p := range f.principals {
		pn, err := certs.ParsePrincipalName(p)
		if err != nil {
			return r, err
		}
		u.Principals = append(u.Principals, pn)
	}
	if f.sid != "" {
		if u.SID, err = certs.ParseSID(f.sid); err != nil {
			return r, err
		}
	}
	if u.ExtKeyUsage, err = pki.ParseEKUs(f.eku); err != nil {
		return r, err
	}
	if u.KeyUsage, err = pki.ParseKeyUsage(f.ku); err != nil {
		return r, err
	}
	if u.Validity, err = pki.ParseValidity(f.validity); err != nil {
		return r, err
	}
	if u.UPN == "" && len(u.Principals) == 0 {
		return r, errors.New("give --upn and/or --principal")
	}
	if r.Profile, err = pki.UserProfile(u); err != nil {
		return r, err
	}
	return r, nil
}

// offeredAlgorithms says which algorithms key was offered as: " (not
// aes256)", or " (neither 3des nor aes192)" for a 24-byte key of no named
// algorithm (the card's client tries both).
func offeredAlgorithms(key *card.ManagementKey) string {
	switch {
	case key == nil:
		return ""
	case key.MayBeAES192():
		return fmt.Sprintf(" (neither %s nor %s)", key.Algorithm(), card.ManagementAES192)
	}
	return fmt.Sprintf(" (not %s)", key.Algorithm())
}

func printEnrolled(w io.Writer, res *enroll.Result) {
	c := res.Certificate
	fmt.Fprintf(w, "reader\t%s\nslot\t%s (%s)\nkey\t%s, generated on the card\nserial\t%X\nsubject\t%s\n", res.Reader, res.Slot, res.Slot.Name(), res.Key, c.SerialNumber, c.Subject)
	if san, err := certs.CertSAN(c); err == nil {
		for _, u := range san.UPNs {
			fmt.Fprintf(w, "upn\t%s\n", u)
		}
		for _, p := range san.Principals {
			fmt.Fprintf(w, "principal\t%s\n", p)
		}
	}
	if sid, ok, err := certs.SIDFromCert(c); err == nil && ok {
		fmt.Fprintf(w, "sid\t%s\n", sid)
	}
	fmt.Fprintf(w, "valid\t%s to %s\n", c.NotBefore.UTC().Format("2006-01-02 15:04:05Z"), c.NotAfter.UTC().Format("2006-01-02 15:04:05Z"))
}

// enrollFail prints the failed step, why, and what the card holds now.
func enrollFail(s stdio, err error) int { return enrollFailKey(s, nil, err) }

// enrollFailKey is enrollFail once the management key offered to the card
// is known: a refusal of its algorithm names the algorithms offered.
func enrollFailKey(s stdio, key *card.ManagementKey, err error) int {
	var e *enroll.Error
	if !errors.As(err, &e) {
		return cardFail(s, err)
	}
	msg, hint := explainKinit(e.Err)
	if errors.Is(e.Err, card.ErrManagementKey) {
		msg = "the card refused the management key"
		hint = "give the card's management key (--management-key-file, --management-key-stdin); a card still on the factory key takes --default-management-key"
	} else if errors.Is(e.Err, card.ErrManagementKeyAlgorithm) {
		msg = "the card's management key is of another algorithm" + offeredAlgorithms(key)
		hint = "name the key's algorithm with --management-key-algorithm 3des|aes128|aes192|aes256"
	}
	fmt.Fprintf(s.errOut, "sclogon: error: enrollment failed at %s: %s\n", e.Step, msg)
	if hint != "" {
		fmt.Fprintf(s.errOut, "sclogon: hint: %s\n", hint)
	}
	if e.KeyReplaced {
		fmt.Fprintln(s.errOut, "sclogon: the slot already holds the new key, so its old certificate (if any) no longer matches it; run 'sclogon pki enroll' again")
	} else {
		fmt.Fprintln(s.errOut, "sclogon: the slot's key and certificate were not changed")
	}
	return exitFail
}
