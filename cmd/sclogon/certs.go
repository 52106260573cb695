package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/piv"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/krb5conf"
)

const certsHelp = `
usage: sclogon certs [flags]

Lists every certificate on every card (or the card in --reader) and on the
PKCS #11 tokens of krb5.conf's pkinit_identities, says which
may log on, and for each one that may not, the rule that rejected it and the
switch that would allow it. The rules are Windows' (time-valid, not the
signature-only slot 9c, a UPN, digitalSignature, a logon EKU) plus MIT's
pkinit_cert_match; 'sclogon help kinit' lists the switches.

flags:
  --identity PKCS11:…  only this PKCS #11 token (also -X X509_user_identity=PKCS11:…)
  --reader NAME        only the card in this reader
  --card-backend B     generic (default: any PIV card, through PC/SC) or piv-go (YubiKeys)
  --no-cert-cache      read the certificates from the card, not the cache
  --json               print JSON on stdout
  --allow-time-invalid, --allow-signature-keys, --allow-no-upn, --allow-no-eku,
  --allow-any-key-usage   the selection switches (see 'sclogon help kinit')

examples:
  sclogon certs
  sclogon certs --json --reader "Yubico YubiKey OTP+FIDO+CCID 00 00"
  sclogon certs -X X509_user_identity=PKCS11:module_name=/usr/lib/softhsm/libsofthsm2.so:token=alice

Exit codes: 0 listed (even when nothing is usable), 1 no card or a card error, 2 usage error.
`

func init() {
	register(&command{name: "certs", summary: "list the card's certificates and which may log on", help: certsHelp, run: runCerts})
}

// cardFlags choose the card and the selection switches; kinit, certs and
// pin share them.
type cardFlags struct {
	reader, backend, cert                                                    string
	noCache                                                                  bool
	allowTimeInvalid, allowSignatureKeys, allowNoUPN, allowNoEKU, allowAnyKU bool
}

func (c *cardFlags) register(fs *flag.FlagSet, selection bool) {
	fs.StringVar(&c.reader, "reader", "", "")
	fs.StringVar(&c.backend, "card-backend", "", "")
	if !selection {
		return
	}
	fs.BoolVar(&c.noCache, "no-cert-cache", false, "")
	fs.BoolVar(&c.allowTimeInvalid, "allow-time-invalid", false, "")
	fs.BoolVar(&c.allowSignatureKeys, "allow-signature-keys", false, "")
	fs.BoolVar(&c.allowNoUPN, "allow-no-upn", false, "")
	fs.BoolVar(&c.allowNoEKU, "allow-no-eku", false, "")
	fs.BoolVar(&c.allowAnyKU, "allow-any-key-usage", false, "")
}

func (c *cardFlags) provider(conf *krb5conf.Config) (card.Provider, string, error) {
	b := c.backend
	if b == "" && conf != nil {
		b, _ = conf.Value("libdefaults", "sclogon_card_backend")
	}
	switch b {
	case "", "generic", "pcsc":
		return pcsc.Provider{}, "generic", nil
	case "piv-go", "pivgo":
		return piv.Provider{}, "piv-go", nil
	}
	return nil, "", usageError{fmt.Errorf("--card-backend %q: want generic or piv-go", b)}
}

// logonPolicy reads the switches from krb5.conf ([realms] REALM, then
// [libdefaults]) and lets the flags turn them on.
func (c *cardFlags) logonPolicy(conf *krb5conf.Config, realm, hint string) (logon.Policy, error) {
	p, err := selection.PolicyFromConfig(conf, realm)
	p.AllowTimeInvalid = p.AllowTimeInvalid || c.allowTimeInvalid
	p.AllowSignatureKeys = p.AllowSignatureKeys || c.allowSignatureKeys
	p.AllowNoUPN = p.AllowNoUPN || c.allowNoUPN
	p.AllowNoEKU = p.AllowNoEKU || c.allowNoEKU
	p.AllowAnyKeyUsage = p.AllowAnyKeyUsage || c.allowAnyKU
	p.UserHint = hint
	return p, err
}

// scannedCard is one open card and what the policy says of its certificates.
type scannedCard struct {
	card     *card.CachedCard
	id       card.ID
	verdicts []logon.Verdict
}

// selectionRequest is the card selection the flags and krb5.conf describe:
// the backend, --reader, the certificate cache unless --no-cert-cache, and
// --cert.
func (c *cardFlags) selectionRequest(conf *krb5conf.Config, pol logon.Policy, trace func(string, ...any)) (selection.Request, error) {
	prov, _, err := c.provider(conf)
	if err != nil {
		return selection.Request{}, err
	}
	var cache *card.Cache
	if !c.noCache {
		cache, _ = card.DefaultCache() // no cache directory only costs speed
	}
	return selection.Request{Provider: prov, Reader: c.reader, Cache: cache, Policy: pol, Pick: c.cert, Trace: trace}, nil
}

// scanCards opens the card in --reader, or every card, and checks its
// certificates. The caller closes the cards.
func scanCards(cf *cardFlags, conf *krb5conf.Config, pol logon.Policy) ([]*scannedCard, error) {
	req, err := cf.selectionRequest(conf, pol, nil)
	if err != nil {
		return nil, err
	}
	cards, err := selection.Scan(req)
	if err != nil {
		return nil, err
	}
	out := make([]*scannedCard, 0, len(cards))
	for _, c := range cards {
		out = append(out, &scannedCard{card: c.Card, id: c.ID, verdicts: c.Verdicts})
	}
	return out, nil
}

type certsJSON struct {
	Reader       string     `json:"reader"`
	ID           string     `json:"card_id,omitempty"`
	Certificates []certJSON `json:"certificates"`
}

type certJSON struct {
	Slot       string            `json:"slot"`
	SlotName   string            `json:"slot_name"`
	Label      string            `json:"label"`
	Subject    string            `json:"subject"`
	Issuer     string            `json:"issuer"`
	NotAfter   time.Time         `json:"not_after"`
	SHA256     string            `json:"sha256"`
	Usable     bool              `json:"usable"`
	Rejections []logon.Rejection `json:"rejections,omitempty"`
}

func runCerts(ctx context.Context, s stdio, args []string) int {
	var cf cardFlags
	var asJSON bool
	var tokenID string
	fs := flag.NewFlagSet("sclogon certs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf.register(fs, true)
	fs.BoolVar(&asJSON, "json", false, "")
	fs.StringVar(&tokenID, "identity", "", "")
	fs.Func("X", "", func(v string) error {
		k, id, _ := strings.Cut(v, "=")
		if k != "X509_user_identity" {
			return fmt.Errorf("-X %s: sclogon certs reads X509_user_identity", k)
		}
		tokenID = id
		return nil
	})
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(s.out, strings.TrimLeft(certsHelp, "\n"))
			return exitOK
		}
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon certs [flags]; 'sclogon help certs' lists them\n", err)
		return exitUsage
	}
	conf, err := loadKrb5Conf()
	if err != nil {
		return cardFail(s, err)
	}
	pol, err := listingPolicy(&cf, conf)
	if err != nil {
		return cardFail(s, err)
	}
	scanned, err := scanAll(&cf, conf, pol, tokenID)
	if err != nil {
		return cardFail(s, err)
	}
	out := certsListing(scanned)
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return cardFail(s, err)
		}
		return exitOK
	}
	s.out.Write(certsText(out))
	return exitOK
}

// listingPolicy is the logon policy of the default realm, for a listing.
func listingPolicy(cf *cardFlags, conf *krb5conf.Config) (logon.Policy, error) {
	pol, err := cf.logonPolicy(conf, conf.DefaultRealm(), "")
	if err != nil {
		return pol, err
	}
	// A listing shows what a user-name hint would allow.
	pol.UserHint = "(any)"
	if !cf.allowNoUPN && !conf.RealmBool(conf.DefaultRealm(), "sclogon_allow_no_upn", false) {
		pol.UserHint = ""
	}
	return pol, nil
}

// certsListing closes the scanned cards and describes them and their
// certificates' verdicts.
func certsListing(scanned []*scannedCard) []certsJSON {
	var out []certsJSON
	for _, sc := range scanned {
		sc.card.Close()
		cj := certsJSON{Reader: sc.card.Reader(), ID: sc.id.String(), Certificates: []certJSON{}}
		if sc.id.IsZero() {
			cj.ID = ""
		}
		for _, v := range sc.verdicts {
			cj.Certificates = append(cj.Certificates, certJSON{
				Slot: v.Slot.String(), SlotName: v.Slot.Name(), Label: v.Label, Subject: v.Cert.Subject.String(),
				Issuer: v.Cert.Issuer.String(), NotAfter: v.Cert.NotAfter.UTC(), SHA256: v.Fingerprint,
				Usable: v.Usable(), Rejections: v.Rejections,
			})
		}
		out = append(out, cj)
	}
	return out
}

// certsText renders the listing for a person.
func certsText(out []certsJSON) []byte {
	var b bytes.Buffer
	for i, cj := range out {
		if i > 0 {
			b.WriteString("\n")
		}
		id := cj.ID
		if id == "" {
			id = "no identity"
		}
		fmt.Fprintf(&b, "%s (%s)\n", cj.Reader, id)
		if len(cj.Certificates) == 0 {
			b.WriteString("  no certificates\n")
		}
		for _, c := range cj.Certificates {
			state := "usable for logon"
			if !c.Usable {
				state = "not usable"
			}
			fmt.Fprintf(&b, "  %s  %-30s %s\n", c.Slot, c.Label, state)
			fmt.Fprintf(&b, "      subject %s\n      issuer  %s\n      expires %s  SHA-256 %s\n", c.Subject, c.Issuer, c.NotAfter.Format(time.DateOnly), c.SHA256)
			for _, r := range c.Rejections {
				fmt.Fprintf(&b, "      rejected (%s): %s", r.Rule, r.Reason)
				if r.Switch != "" {
					fmt.Fprintf(&b, " [allow: %s]", r.Switch)
				}
				b.WriteString("\n")
			}
		}
	}
	return b.Bytes()
}

// scanAll is the token --identity names; without one, every card and the
// present tokens among krb5.conf's pkinit_identities.
func scanAll(cf *cardFlags, conf *krb5conf.Config, pol logon.Policy, tokenID string) ([]*scannedCard, error) {
	if tokenID != "" {
		if !identity.IsPKCS11(tokenID) {
			return nil, usageError{fmt.Errorf("--identity %q: sclogon certs lists PKCS11: tokens and cards, not files", tokenID)}
		}
		return scanTokens([]string{tokenID}, pol, false)
	}
	specs := configIdentities(conf, conf.DefaultRealm())
	if len(specs) == 0 {
		return scanCards(cf, conf, pol)
	}
	tokens, err := scanTokens(specs, pol, true)
	if err != nil {
		return nil, err
	}
	cards, err := scanCards(cf, conf, pol)
	if err != nil && (len(tokens) == 0 || !selection.Absent(err)) {
		for _, t := range tokens {
			t.card.Close()
		}
		return nil, err
	}
	return append(cards, tokens...), nil
}

// cardFail prints a card error and its hint.
func cardFail(s stdio, err error) int { return report(s, err, "") }

// report prints err as a sentence and a hint (STYLE rule 7) and returns the
// exit code: exitUsage, with the usage line when one is given, for a usage
// error, exitFail for everything else.
func report(s stdio, err error, usage string) int {
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", u.err)
		if usage != "" {
			fmt.Fprintln(s.errOut, usage)
		}
		return exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(s.errOut, interruptedText(err))
		return exitInterrupted
	}
	msg, hint := explainKinit(err)
	fmt.Fprintf(s.errOut, "sclogon: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(s.errOut, "sclogon: hint: %s\n", hint)
	}
	return exitFail
}

// explainCard turns card and selection errors into a sentence and a hint;
// ok is false for other errors.
func explainCard(err error) (msg, hint string, ok bool) {
	var pe *card.PINError
	var amb *logon.AmbiguousError
	var nm *logon.NoMatchError
	var nu *selection.NoUsableError
	var re *selection.ReaderError
	var pcErr *pcsc.Error
	var nf *pcsc.CardNotFoundError
	switch {
	case errors.As(err, &pe) && pe.PUK:
		return pinRefused(pe), fmt.Sprintf("the PUK was not retried; after %d more wrong tries it is blocked and the card must be reset", pe.Retries), true
	case errors.As(err, &pe) && pe.Retries == 0:
		return pinRefused(pe), "the PIN is now blocked; unblock it with 'sclogon pin unblock' (it needs the PUK)", true
	case errors.As(err, &pe):
		return pinRefused(pe), fmt.Sprintf("the PIN was not retried; after %d more wrong tries it is blocked, and only 'sclogon pin unblock' with the PUK frees it", pe.Retries), true
	case errors.Is(err, card.ErrPINBlocked):
		return "the card's PIN is blocked (no PIN was sent to the card)", "unblock it with 'sclogon pin unblock' (it needs the PUK)", true
	case errors.Is(err, card.ErrPUKBlocked):
		return "the card's PUK is blocked", "the PIV application must be reset by the card's administrator (ykman piv reset for a YubiKey)", true
	case errors.As(err, &nf):
		return "no smart card found: " + cardNotFound(nf), "insert that card, or name another with --card (its CHUID GUID or serial, as 'sclogon certs' shows)", true
	case errors.Is(err, pcsc.ErrWaitEnded):
		return "no smart card found: none was inserted while sclogon waited", "insert the card and run the command again, or wait longer with --wait DURATION (--wait alone waits until it comes)", true
	case errors.Is(err, card.ErrNoCard):
		return "no smart card found", "insert the card; check that pcscd runs ('pcsc_scan' lists the readers) or name one with --reader", true
	case errors.Is(err, card.ErrNotPIV):
		return "the card has no PIV application", "sclogon reads PIV cards (YubiKey, CAC, PIV)", true
	case errors.As(err, &re):
		return re.Err.Error(), "check that pcscd runs and the reader name (--reader); for a card piv-go cannot open use --card-backend generic", true
	case errors.As(err, &pcErr), errors.Is(err, pcsc.ErrUnavailable), errors.Is(err, piv.ErrNotYubiKey):
		return err.Error(), "check that pcscd runs and the reader name (--reader); for a card piv-go cannot open use --card-backend generic", true
	case errors.Is(err, errCardKey):
		return errCardKey.Error(), "run 'sclogon certs --no-cert-cache' to read the card afresh; the card may have been re-provisioned", true
	case errors.As(err, &nu), errors.Is(err, logon.ErrNoUsable):
		return "no certificate on the card may log on", "'sclogon certs' shows why each one was rejected and the switch that allows it", true
	case errors.As(err, &amb):
		return amb.Error(), "", true
	case errors.As(err, &nm):
		return nm.Error(), "'sclogon certs' lists the certificates with their slots and SHA-256 fingerprints", true
	case errors.Is(err, selection.ErrChanged):
		return err.Error(), "the card changed while sclogon read it; run the command again", true
	case errors.Is(err, selection.ErrHint):
		return err.Error(), "a hint is a user name (alice), DOMAIN\\user or user@suffix", true
	}
	return "", "", false
}

// cardNotFound says which card --card asked for and which are in.
func cardNotFound(e *pcsc.CardNotFoundError) string {
	if len(e.Present) == 0 {
		return fmt.Sprintf("the card %s is in no reader, and no card is inserted", e.Want)
	}
	ids := make([]string, len(e.Present))
	for i, id := range e.Present {
		ids[i] = id.String()
	}
	return fmt.Sprintf("the card %s is in no reader (cards present: %s)", e.Want, strings.Join(ids, ", "))
}

// pinRefused is the sentence for a refused PIN or PUK, from its fields.
func pinRefused(e *card.PINError) string {
	what := "PIN"
	if e.PUK {
		what = "PUK"
	}
	return fmt.Sprintf("the card refused the %s (%s)", what, card.TriesLeft(e.Retries))
}

// askChoice offers a numbered choice on the terminal; nil when there is no
// terminal to ask on.
func askChoice(enabled bool) func([]logon.Verdict) (int, error) {
	if !enabled {
		return nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	tty.Close()
	return func(choices []logon.Verdict) (int, error) {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return 0, err
		}
		defer tty.Close()
		fmt.Fprintln(tty, "Several certificates may log on:")
		for i, v := range choices {
			fmt.Fprintf(tty, "  %d) %s (slot %s, expires %s)\n", i+1, v.Label, v.Slot, v.Cert.NotAfter.Format(time.DateOnly))
		}
		fmt.Fprintf(tty, "Certificate [1-%d]: ", len(choices))
		line, err := bufio.NewReader(tty).ReadString('\n')
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return 0, fmt.Errorf("choice %q is not a number", strings.TrimSpace(line))
		}
		return n - 1, nil
	}
}
