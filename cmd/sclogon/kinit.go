package main

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

const kinitHelp = `
usage: sclogon kinit [flags] [principal]

Obtains a Kerberos TGT with PKINIT (RFC 4556) and stores it in an MIT FILE
credential cache that klist, kvno, ssh and GSSAPI use.

The principal is "name" (in the default realm) or "name@REALM". Without one it
comes from the certificate: its id-pkinit-san, else its UPN (sent as an
enterprise name when the UPN's suffix is not the realm).

Settings come from krb5.conf (KRB5_CONFIG, else /etc/krb5.conf), as MIT kinit
reads them: [realms] kdc, [domain_realm], dns_lookup_kdc, [libdefaults]
ticket_lifetime, renew_lifetime, forwardable and proxiable, and the PKINIT
options pkinit_anchors, pkinit_pool, pkinit_eku_checking, pkinit_kdc_hostname,
pkinit_dh_min_bits and pkinit_cert_match. Flags override them.

identity (default: the first present of krb5.conf's pkinit_identities, as MIT
reads them, else the smart card):
  --reader NAME        the card in this reader (default: every card present)
  --cert PICK          the certificate: a slot (9a), a UPN, or a SHA-256 fingerprint;
                       without it a single usable certificate is taken, several are
                       offered as a numbered choice on the terminal
  --slot SLOT          the same as --cert SLOT
  --card GUID          the card whose CHUID GUID (or serial number) this is
  --wait [DURATION]    wait for the card when none is in (alone: until it is
                       inserted); krb5.conf sclogon_card_wait. Without it kinit
                       fails at once when no card is in
  --no-pin-pad         type the PIN on the computer even when the reader has a
                       PIN pad (default: the reader's pad; krb5.conf sclogon_pin_pad)
  --card-backend B     generic (default: any PIV card through PC/SC; few APDUs) or
                       piv-go (YubiKeys only); krb5.conf sclogon_card_backend
  --no-cert-cache      read every certificate from the card, not from the cache
  --identity ID        a software identity instead: FILE:cert.pem[,key.pem] or PKCS12:file.p12,
                       or a PKCS #11 token in MIT's syntax, PKCS11:ATTR=VALUE:…, with
                       module_name=LIB.so (default p11-kit-proxy.so), slotid=N,
                       token=LABEL, certid=HEX and certlabel=LABEL, each optional
  -X X509_user_identity=ID   the same, in MIT's syntax
                       A token with a PIN pad or a fingerprint reader is not asked
                       for a PIN: enter it on the device when sclogon says so.
  --pin-stdin          read the card PIN (or the PKCS #12 password) from the first
                       line of stdin instead of asking on the terminal
  --hint NAME          the user name the KDC maps the certificate to, as Windows'
                       X509HintsNeeded hint: alice, EXAMPLE\alice or alice@example.com
                       (an enterprise name when the suffix is not the realm's), in
                       place of the principal argument; a certificate that maps to
                       another account is refused by the KDC
  --pin-cache POLICY   how long the PIN is kept (krb5.conf sclogon_pin_cache):
                       normal (once per logon, the default), timed:300s (asked
                       again after 300 s), none (asked for every use of the key)
                       or always-prompt (the same, and the card forgets it after
                       each use). A key the card marks PIN "always" (the
                       signature slot 9c by default) is asked for at every use
                       whatever the policy; a "never" key (9e) is not asked for.
                       Ctrl-C at a PIN or password prompt ends kinit with exit
                       130 and sends nothing to the card.

certificate selection (Windows' rules; each switch also in krb5.conf, [realms]
REALM or [libdefaults], default false; 'sclogon certs' shows what each rejects):
  --allow-time-invalid    expired or not-yet-valid certificates (sclogon_allow_time_invalid;
                          Windows AllowTimeInvalidCertificates)
  --allow-signature-keys  the signature-only slot 9c (sclogon_allow_signature_keys;
                          Windows AllowSignatureOnlyKeys)
  --allow-no-upn          certificates without a UPN, when the principal is named
                          (sclogon_allow_no_upn; Windows AllowCertificatesWithNoUPN +
                          X509HintsNeeded)
  --allow-no-eku          certificates without an EKU or with any-purpose only
                          (sclogon_allow_no_eku; Windows AllowCertificatesWithNoEKU)
  --allow-any-key-usage   certificates without digitalSignature (sclogon_allow_any_key_usage)
  pkinit_cert_match       MIT's rules (<SUBJECT>, <ISSUER>, <SAN>, <EKU>, <KU>, &&, ||)

key exchange (default DH-2048, or pkinit_dh_min_bits):
  --dh BITS            MODP Diffie-Hellman group: 2048, 4096 or 8192
  --ecdh CURVE         elliptic-curve Diffie-Hellman: P-256 or P-384
  --rsa-key-transport  the KDC encrypts the reply key to the certificate's RSA key

the KDC:
  --kdc HOST:PORT      ask this KDC (repeatable); default [realms] kdc or DNS SRV
  --timeout D          per-KDC timeout (default 3s)
  --anchors FILE       trust anchors for the KDC certificate (repeatable; pkinit_anchors)
  --kdc-hostname NAME  accept a KDC certificate with this dNSName (pkinit_kdc_hostname)
  --kdc-eku MODE       kpKDC (default), kpServerAuth or none (pkinit_eku_checking)
  --dh-min-bits N      smallest DH group accepted (pkinit_dh_min_bits, default 2048)
  --kdc-ocsp MODE      stapled (check a stapled response, the default), require
                       (ask the OCSP responder when none is stapled) or off
  --allow-sha1         accept a reply the KDC signed with SHA-1 (pkinit_allow_sha1,
                       default false), from an old KDC that ignores the
                       supportedCMSTypes sclogon sends

MIT kinit's options, with MIT's meanings (flags may follow the principal; give
each letter on its own: -f -p, not -fp):
  -l LIFETIME          ticket lifetime (krb5.conf ticket_lifetime; MIT's default 1d);
                       the KDC grants at most the realm's maximum
  -r RENEW_LIFE        a renewable ticket, renewable for this long (renew_lifetime;
                       default: not renewable)
  -R                   renew the ticket in the cache through the KDC (no card
                       needed); the cache then holds the renewed ticket only
  -v                   validate the postdated ticket in the cache (one obtained with
                       -s) once its start time has come
  -f / -F              forwardable / not forwardable (krb5.conf forwardable; default not)
  -p / -P              proxiable / not proxiable (krb5.conf proxiable; default not)
  -s START             a postdated ticket, valid from START: a duration from now, or a
                       time (2006-01-02T15:04:05)
  -E                   the principal is an enterprise name (alice@example.com, sent as
                       NT-ENTERPRISE to the default realm; name@REALM after it picks
                       another realm)
  -C                   ask the KDC to canonicalize the principal name
  -S SERVICE           get the initial ticket for SERVICE (e.g. kadmin/admin) instead
                       of a TGT, krbtgt/REALM
  -c CCACHE            credential cache (default KRB5CCNAME, else /tmp/krb5cc_UID)
  -V                   trace each step on stderr
  -X ATTR=VALUE        X509_user_identity=ID, X509_anchors=FILE:ca.pem,
                       flag_RSA_PROTOCOL=yes (see identity, above)
  Durations are MIT's: 10h, 7d, 1d2h30m, 90s, 1:30 (h:m[:s]) or a number of seconds.
  Addresses are never put in tickets (MIT's default, noaddresses = true).
  krb5.conf's ticket_lifetime, renew_lifetime, forwardable and proxiable are read
  from [libdefaults] REALM = { … }, then [libdefaults], as MIT reads them; the flags
  override them.

output:
  --service-ticket SERVICE  with the TGT, also obtain a ticket for SERVICE, e.g.
                       host/server.example.com (repeatable), as kvno would
  --json               print what was obtained as JSON on stdout
  KRB5_TRACE=FILE      also write the trace to FILE (or /dev/stderr) in MIT's form,
                       "[pid] seconds.microseconds: message"

examples:
  sclogon kinit
  sclogon kinit -r 7d -f -l 2h
  sclogon kinit -R
  sclogon kinit --cert 9a --service-ticket host/db.example.com
  sclogon kinit --hint alice@partner.example.com
  sclogon kinit --identity FILE:alice.pem,alice.key alice@EXAMPLE.COM
  sclogon kinit -X X509_user_identity=PKCS12:alice.p12 -E alice@example.com
  sclogon kinit -X X509_user_identity=PKCS11:token=alice-token alice@EXAMPLE.COM
  sclogon kinit --identity FILE:alice.pem,alice.key --dh 4096 --json

Exit codes: 0 the ticket is stored (or renewed, validated), 1 it could not be
obtained, 2 usage error, 130 interrupted (Ctrl-C).
`

func init() {
	register(&command{
		name:    "kinit",
		summary: "obtain a Kerberos TGT with a certificate (PKINIT)",
		help:    kinitHelp,
		run:     runKinit,
	})
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type kinitFlags struct {
	hint                                           string // --hint: the user name the KDC maps the certificate against
	identity, ccache, ecdh, kdcEKU, kdcOCSP        string
	dh, dhMinBits                                  int
	rsa, pinStdin, json, verbose, allowSHA1        bool
	timeout                                        time.Duration
	x, services, kdcs, anchors, kdcHostnames, args listFlag
	card                                           cardFlags
	mit                                            mitFlags
	pinCache                                       string // --pin-cache
	cardWait                                       cardWaitFlags
}

func parseKinitFlags(args []string) (*kinitFlags, error) {
	f := &kinitFlags{}
	fs := flag.NewFlagSet("sclogon kinit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.register(fs)
	args = f.cardWait.normalize(args)
	// Flags may follow the principal, as with MIT kinit.
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		f.args = append(f.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, f.mit.check()
}

// register declares kinit's flags on fs.
func (f *kinitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.identity, "identity", "", "")
	fs.StringVar(&f.hint, "hint", "", "")
	f.card.register(fs, true)
	f.cardWait.register(fs)
	fs.StringVar(&f.card.cert, "cert", "", "")
	fs.Func("slot", "", func(v string) error {
		if _, err := card.ParseSlot(v); err != nil {
			return err
		}
		f.card.cert = v
		return nil
	})
	fs.Var(&f.x, "X", "")
	fs.BoolVar(&f.pinStdin, "pin-stdin", false, "")
	fs.Func("pin-cache", "", func(v string) error {
		_, err := card.ParsePINCachePolicy(v)
		f.pinCache = v
		return err
	})
	fs.IntVar(&f.dh, "dh", 0, "")
	fs.StringVar(&f.ecdh, "ecdh", "", "")
	fs.BoolVar(&f.rsa, "rsa-key-transport", false, "")
	fs.Var(&f.kdcs, "kdc", "")
	fs.DurationVar(&f.timeout, "timeout", 0, "")
	fs.Var(&f.anchors, "anchors", "")
	fs.Var(&f.kdcHostnames, "kdc-hostname", "")
	fs.StringVar(&f.kdcEKU, "kdc-eku", "", "")
	fs.IntVar(&f.dhMinBits, "dh-min-bits", 0, "")
	fs.StringVar(&f.kdcOCSP, "kdc-ocsp", "", "")
	fs.BoolVar(&f.allowSHA1, "allow-sha1", false, "")
	fs.StringVar(&f.ccache, "c", "", "")
	fs.Var(&f.services, "service-ticket", "")
	f.mit.register(fs)
	fs.BoolVar(&f.json, "json", false, "")
	fs.BoolVar(&f.verbose, "V", false, "")
}

// check refuses flags that contradict each other and reads MIT's -X options.
func (f *kinitFlags) check() error {
	if len(f.args) > 1 {
		return fmt.Errorf("one principal at most, got %q", []string(f.args))
	}
	if f.hint != "" && (len(f.args) > 0 || f.mit.enterprise) {
		return errors.New("--hint names the principal: give no principal argument and no -E with it")
	}
	for _, x := range f.x {
		k, v, _ := strings.Cut(x, "=")
		switch k {
		case "X509_user_identity":
			f.identity = v
		case "X509_anchors":
			f.anchors = append(f.anchors, v)
		case "flag_RSA_PROTOCOL":
			f.rsa = v == "yes" || v == "true"
		default:
			return fmt.Errorf("-X %s: sclogon reads X509_user_identity, X509_anchors and flag_RSA_PROTOCOL", k)
		}
	}
	n := 0
	for _, chosen := range []bool{f.dh != 0, f.ecdh != "", f.rsa} {
		if chosen {
			n++
		}
	}
	if n > 1 {
		return errors.New("choose one of --dh, --ecdh and --rsa-key-transport")
	}
	return nil
}

func (f *kinitFlags) keyExchange() (kinit.KeyExchange, error) {
	switch {
	case f.rsa:
		return kinit.KeyExchange{RSA: true}, nil
	case f.ecdh != "":
		switch strings.ToUpper(f.ecdh) {
		case "P-256", "P256":
			return kinit.KeyExchange{Curve: pkinit.CurveP256}, nil
		case "P-384", "P384":
			return kinit.KeyExchange{Curve: pkinit.CurveP384}, nil
		}
		return kinit.KeyExchange{}, fmt.Errorf("--ecdh %s: want P-256 or P-384", f.ecdh)
	case f.dh != 0:
		switch f.dh {
		case 2048:
			return kinit.KeyExchange{Group: pkinit.MODPGroup14}, nil
		case 4096:
			return kinit.KeyExchange{Group: pkinit.MODPGroup16}, nil
		case 8192:
			return kinit.KeyExchange{Group: pkinit.MODPGroup18}, nil
		}
		return kinit.KeyExchange{}, fmt.Errorf("--dh %d: want 2048, 4096 or 8192", f.dh)
	}
	return kinit.KeyExchange{}, nil
}

func runKinit(ctx context.Context, s stdio, args []string) int {
	f, err := parseKinitFlags(args)
	if err == nil {
		_, err = f.keyExchange()
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(s.out, strings.TrimLeft(kinitHelp, "\n"))
			return exitOK
		}
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon kinit [flags] [principal]; 'sclogon help kinit' lists the flags\n", err)
		return exitUsage
	}
	if err := kinitMain(ctx, s, f); err != nil {
		return report(s, err, "usage: sclogon kinit [flags] [principal]; 'sclogon help kinit' lists the flags")
	}
	return exitOK
}

func kinitMain(ctx context.Context, s stdio, f *kinitFlags) error {
	f.cardWait.ctx = ctx // Ctrl-C ends a wait for the card
	trace, closeTrace, err := kinitTrace(s, f.verbose)
	if err != nil {
		return err
	}
	defer closeTrace()
	conf, err := loadKrb5Conf()
	if err != nil {
		return err
	}
	if f.mit.renew || f.mit.validate {
		return refreshMain(ctx, s, f, conf, trace)
	}
	stdin := bufio.NewReader(s.in)
	principal := ""
	if len(f.args) > 0 {
		principal = f.args[0]
	}
	id, done, err := kinitIdentity(s, f, conf, principal, stdin, trace)
	if err != nil {
		return err
	}
	defer done()
	if trace != nil {
		trace("identity %s: %q", id.Label(), id.Certificate().Subject.String())
	}
	req, err := f.request(ctx, conf, principal, id, trace)
	if err != nil {
		return err
	}
	cache, err := openCCache(f, conf)
	if err != nil {
		return err
	}
	path := cache.Name()
	c := &kinit.Client{Transport: f.transport(conf, trace), Trace: trace}
	stop := startSpinner(s.errOut, !f.verbose, "obtaining a ticket for "+req.Client.String())
	res, err := c.Run(ctx, req)
	stop()
	if err != nil {
		return err
	}
	if err := cache.Store(res.CCache()); err != nil {
		return err
	}
	if f.json {
		return printKinitJSON(s.out, path, res)
	}
	fmt.Fprintf(s.errOut, "sclogon: ticket for %s stored in %s (valid until %s%s)\n", res.Client, path, res.TGT.EndTime.Local().Format(time.DateTime), renewUntil(res.TGT))
	return nil
}

// kinitIdentity is --identity's (a PKCS #11 token or a software identity);
// without one, the first present of krb5.conf's pkinit_identities, else the
// card's logon certificate. done releases it.
func kinitIdentity(s stdio, f *kinitFlags, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	if f.identity != "" {
		return openIdentity(s, f, f.identity, conf, principal, stdin, trace)
	}
	ids := configIdentities(conf, realmOf(conf, principal))
	if len(ids) == 0 {
		return cardIdentity(s, f, conf, principal, stdin, trace)
	}
	id, done, err := configIdentity(s, f, ids, conf, principal, stdin, trace)
	if err == nil || !absent(err) {
		return id, done, err
	}
	id, done, cerr := cardIdentity(s, f, conf, principal, stdin, trace)
	if cerr != nil && selection.Absent(cerr) {
		return nil, nil, err // what krb5.conf asked for is the better story
	}
	return id, done, cerr
}

// request is the kinit.Request the flags and krb5.conf describe.
func (f *kinitFlags) request(ctx context.Context, conf *krb5conf.Config, principal string, id kinit.Identity, trace func(string, ...any)) (kinit.Request, error) {
	client, err := f.clientName(principal, id, conf)
	if err != nil {
		return kinit.Request{}, err
	}
	realm := client.Realm
	req := kinit.Request{Client: client, Identity: id}
	if req.Policy, err = f.policy(conf, realm); err != nil {
		return req, err
	}
	req.KeyExchange, _ = f.keyExchange()
	if req.Server, err = f.mit.server(realm); err != nil {
		return req, err
	}
	if req.Options, err = f.mit.ticketOptions(conf, realm); err != nil {
		return req, err
	}
	for _, sv := range f.services {
		p, err := kinit.ServiceName(sv, realm)
		if err != nil {
			return req, err
		}
		req.Services = append(req.Services, p)
	}
	req.KDCs, err = f.kdcsFor(ctx, conf, realm)
	return req, err
}

// clientName is the AS-REQ client: --hint read as Windows reads its user
// name hint (an enterprise name where the name is not the realm's), else
// the principal argument (-E: an enterprise name), else the certificate's.
func (f *kinitFlags) clientName(principal string, id kinit.Identity, conf *krb5conf.Config) (ccache.Principal, error) {
	if f.hint == "" {
		return f.mit.clientName(principal, id, conf)
	}
	h, err := selection.ParseHint(f.hint, conf, "")
	if err != nil {
		return ccache.Principal{}, usageError{err}
	}
	return h.Principal, nil
}

// policy is the realm's PKINIT policy from krb5.conf, overridden by flags.
func (f *kinitFlags) policy(conf *krb5conf.Config, realm string) (kinit.Policy, error) {
	pol, err := kinit.PolicyFromConfig(conf, realm)
	if err != nil {
		return pol, err
	}
	if len(f.anchors) > 0 {
		if pol.Anchors, err = kinit.LoadCertPool(f.anchors); err != nil {
			return pol, err
		}
	}
	if f.kdcEKU != "" {
		if pol.EKU, err = kinit.ParseEKUCheck(f.kdcEKU); err != nil {
			return pol, usageError{err}
		}
	}
	pol.KDCHostnames = append(pol.KDCHostnames, f.kdcHostnames...)
	if f.dhMinBits != 0 {
		pol.DHMinBits = f.dhMinBits
	}
	if pol.OCSP, err = kinit.ParseOCSPMode(f.kdcOCSP); err != nil {
		return pol, usageError{err}
	}
	pol.AllowSHA1 = pol.AllowSHA1 || f.allowSHA1
	return pol, nil
}

// kdcsFor is --kdc, else the realm's KDCs from krb5.conf or DNS.
func (f *kinitFlags) kdcsFor(ctx context.Context, conf *krb5conf.Config, realm string) ([]transport.KDC, error) {
	var kdcs []transport.KDC
	for _, k := range f.kdcs {
		if _, _, err := net.SplitHostPort(k); err != nil {
			k = net.JoinHostPort(k, strconv.Itoa(transport.DefaultPort))
		}
		kdcs = append(kdcs, transport.KDC{Addr: k})
	}
	if len(kdcs) > 0 {
		return kdcs, nil
	}
	return transport.Locate(ctx, conf, realm, net.DefaultResolver)
}

func (f *kinitFlags) transport(conf *krb5conf.Config, trace func(string, ...any)) *transport.Client {
	tr := &transport.Client{Timeout: f.timeout, Trace: trace}
	if v, ok := conf.Value("libdefaults", "udp_preference_limit"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			tr.UDPPreferenceLimit = n
		}
	}
	return tr
}

func loadKrb5Conf() (*krb5conf.Config, error) {
	paths := os.Getenv("KRB5_CONFIG")
	if paths == "" {
		paths = "/etc/krb5.conf"
	}
	conf, err := krb5conf.Load(paths)
	if err != nil {
		if os.Getenv("KRB5_CONFIG") != "" {
			return nil, err
		}
		// No system krb5.conf: flags and DNS alone may do.
		return krb5conf.Parse(strings.NewReader(""), "empty")
	}
	return conf, nil
}

type kinitJSON struct {
	Client      string       `json:"client"`
	CCache      string       `json:"ccache"`
	KDC         string       `json:"kdc"`
	KeyExchange string       `json:"key_exchange"`
	KDCCert     string       `json:"kdc_certificate"`
	Tickets     []ticketJSON `json:"tickets"`
}

type ticketJSON struct {
	Server    string    `json:"server"`
	EType     int32     `json:"etype"`
	AuthTime  time.Time `json:"auth_time"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	RenewTill time.Time `json:"renew_till,omitzero"`
	Flags     string    `json:"flags"`
}

func printKinitJSON(w io.Writer, path string, res *kinit.Result) error {
	out := kinitJSON{Client: res.Client.String(), CCache: path, KDC: res.KDC, KeyExchange: res.KeyExchange.String()}
	if res.KDCCertificate != nil {
		out.KDCCert = res.KDCCertificate.Subject.String()
	}
	for _, c := range res.CCache().Credentials {
		out.Tickets = append(out.Tickets, ticketJSON{
			Server: c.Server.String(), EType: c.Key.EType, AuthTime: c.AuthTime.UTC(), StartTime: c.StartTime.UTC(),
			EndTime: c.EndTime.UTC(), RenewTill: c.RenewTill.UTC(), Flags: fmt.Sprintf("%08x", c.Flags),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// usageError marks an error in the flags found after parsing.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// readSecretLine reads one line from stdin (--pin-stdin) without keeping copies.
func readSecretLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, fmt.Errorf("reading the PIN or password from stdin: %w", err)
	}
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	return line[:n], nil
}

// errInterrupted: the person pressed Ctrl-C (or the command was stopped)
// at a prompt; nothing was sent to the card. It wraps context.Canceled, so
// the command exits with exitInterrupted.
var errInterrupted = fmt.Errorf("interrupted at the prompt; nothing was sent to the card: %w", context.Canceled)

// interruptedText is the line printed when the command was interrupted.
func interruptedText(err error) string {
	if errors.Is(err, errInterrupted) {
		return "sclogon: interrupted at the prompt; nothing was sent to the card"
	}
	return "sclogon: interrupted"
}

// interruptible is ctx, also cancelled by SIGINT and SIGTERM while a prompt
// waits: the signal ends the prompt instead of being swallowed by it.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// readSecretLineContext is readSecretLine that returns errInterrupted as
// soon as ctx ends or Ctrl-C is pressed; the line read after that, if any,
// is wiped.
func readSecretLineContext(ctx context.Context, r *bufio.Reader, unblock func()) ([]byte, error) {
	ctx, stop := interruptible(ctx)
	defer stop()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := readSecretLine(r)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if ctx.Err() != nil { // both ready: the interrupt wins
			clear(res.b)
			return nil, errInterrupted
		}
		return res.b, res.err
	case <-ctx.Done():
		if unblock != nil {
			unblock()
		}
		go func() { res := <-ch; clear(res.b) }()
		return nil, errInterrupted
	}
}

// promptTerminal asks on the controlling terminal with echo off (stty, so no
// cgo or extra dependency is needed); Ctrl-C ends it with errInterrupted.
func promptTerminal(prompt string) ([]byte, error) {
	return promptTerminalContext(context.Background(), prompt)
}

// promptTerminalContext is promptTerminal that also ends when ctx does.
func promptTerminalContext(ctx context.Context, prompt string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errInterrupted
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("no terminal to ask for the PIN or password on; use --pin-stdin")
	}
	defer tty.Close()
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = tty
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return nil, fmt.Errorf("cannot turn off echo on the terminal (%v); use --pin-stdin", err)
	}
	defer func() { _ = stty("echo"); fmt.Fprintln(tty) }()
	fmt.Fprint(tty, prompt)
	// The terminal is pollable: a past deadline wakes the blocked read.
	return readSecretLineContext(ctx, bufio.NewReader(tty), func() { _ = tty.SetReadDeadline(time.Now()) })
}

// startSpinner shows progress on a terminal while the KDC (or the card) is
// slow to answer; it stays silent when w is not a terminal.
func startSpinner(w io.Writer, enabled bool, what string) (stop func()) {
	f, ok := w.(*os.File)
	if !enabled || !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		frames := `|/-\`
		t := time.NewTicker(120 * time.Millisecond)
		defer t.Stop()
		shown := false
		for i := 0; ; i++ {
			select {
			case <-done:
				if shown {
					fmt.Fprint(f, "\r\033[K")
				}
				return
			case <-t.C:
				if i >= 3 { // only when it takes a while
					fmt.Fprintf(f, "\r%c %s", frames[i%len(frames)], what)
					shown = true
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// explainKinit turns an error into a sentence and a hint a person can act on.
func explainKinit(err error) (msg, hint string) {
	var kerr *kinit.KDCError
	var terr *transport.Error
	if msg, hint, ok := explainToken(err); ok {
		return msg, hint
	}
	if msg, hint, ok := explainCard(err); ok {
		return msg, hint
	}
	switch {
	case errors.As(err, &kerr):
		return explainKDCError(kerr)
	case errors.Is(err, kinit.ErrKDCNotTrusted):
		return "refused the KDC's reply: " + err.Error(), "trust the CA that issued the KDC's certificate: pkinit_anchors = FILE:ca.pem under [realms] in krb5.conf, or --anchors ca.pem"
	case errors.Is(err, kinit.ErrKDCEKU):
		return "refused the KDC's reply: " + err.Error(), "a KDC certificate needs the EKU id-pkinit-KPKdc; to accept serverAuth instead, set pkinit_eku_checking = kpServerAuth or pass --kdc-eku kpServerAuth"
	case errors.Is(err, kinit.ErrKDCName):
		return "refused the KDC's reply: " + err.Error(), "if the certificate names the KDC's host, set pkinit_kdc_hostname or pass --kdc-hostname HOST"
	case errors.Is(err, kinit.ErrKDCRevoked):
		return "refused the KDC's reply: " + err.Error(), "the KDC's certificate may be revoked; tell the realm's administrator, or retry with --kdc-ocsp stapled if its OCSP responder is unreachable"
	case errors.Is(err, pkinit.ErrSHA1Signature):
		return "refused the KDC's reply: " + err.Error(), "the KDC signed with SHA-1, which anyone with enough computing power can forge; ask the realm's administrator to move the KDC to SHA-256, or accept SHA-1 for this realm with pkinit_allow_sha1 = true in krb5.conf (or --allow-sha1)"
	case errors.Is(err, pkinit.ErrBadSignature), errors.Is(err, pkinit.ErrUnknownSigner):
		return "refused the KDC's reply: its signature does not verify, so it was altered on the way or does not come from the KDC", "do not trust this network path; tell the realm's administrator"
	case errors.Is(err, pkinit.ErrNonceMismatch), errors.Is(err, pkinit.ErrASChecksumMismatch), errors.Is(err, kinit.ErrReplyMismatch):
		return "refused the KDC's reply: " + err.Error(), "the reply does not belong to this request (a replay or a man in the middle); retry, and tell the realm's administrator if it persists"
	case errors.Is(err, kinit.ErrSkew):
		return err.Error(), "set this computer's clock (NTP); Kerberos allows 5 minutes of difference"
	case errors.Is(err, kinit.ErrNoPKINIT):
		return err.Error(), "the principal must be set to require pre-authentication and the KDC must have PKINIT configured"
	case errors.Is(err, kinit.ErrPolicy):
		return err.Error(), "change pkinit_dh_min_bits / pkinit_cert_match in krb5.conf, or the --dh / --ecdh / --rsa-key-transport choice"
	case errors.As(err, &terr), errors.Is(err, transport.ErrNoKDC):
		return err.Error(), "check the KDC addresses ([realms] kdc in krb5.conf, or --kdc HOST:PORT), that the KDC runs, and the network"
	case errors.Is(err, identity.ErrBadPassword):
		return err.Error(), "run the command again and type the PKCS #12 file's password"
	case errors.Is(err, identity.ErrSyntax), errors.Is(err, identity.ErrUnsupportedFile), errors.Is(err, identity.ErrKeyMismatch):
		return err.Error(), "--identity takes FILE:cert.pem,key.pem (PEM or DER), PKCS12:file.p12 or PKCS11:module_name=LIB.so:token=LABEL"
	case errors.Is(err, kinit.ErrNotRenewable):
		return err.Error(), "get a renewable ticket with 'sclogon kinit -r 7d' (or renew_lifetime in krb5.conf's [libdefaults]); the KDC caps it at the realm's maximum renewable life"
	case errors.Is(err, kinit.ErrNotPostdated):
		return err.Error(), "-v validates a ticket obtained with -s (postdated); this one can be used as it is"
	case errors.Is(err, errNoCache):
		return err.Error(), "obtain a ticket first with 'sclogon kinit', or name the cache that holds it with -c or KRB5CCNAME"
	case errors.Is(err, kinit.ErrDuration):
		return err.Error(), "write durations as MIT does: 10h, 7d, 1d2h30m, 90s, 1:30 or a number of seconds"
	case errors.Is(err, context.Canceled):
		return "interrupted", ""
	}
	return err.Error(), ""
}

func explainKDCError(e *kinit.KDCError) (string, string) {
	text := ""
	if e.Text != "" {
		text = " (" + e.Text + ")"
	}
	switch e.Code {
	case krberror.ClientNotTrusted, krberror.CantVerifyCertificate:
		return "the KDC does not trust your certificate" + text, "the KDC does not trust the CA that issued it, or cannot build its chain; ask the realm's administrator to add that CA to the KDC's anchors (pkinit_anchors, or NTAuth in Active Directory)"
	case krberror.InvalidCertificate:
		return "the KDC rejected your certificate as invalid" + text, "check its validity dates and key usage with 'openssl x509 -noout -text -in CERT'"
	case krberror.RevokedCertificate:
		return "the KDC says your certificate is revoked" + text, "ask your certificate authority for a new logon certificate"
	case krberror.ClientRevoked:
		return "the KDC refused the account: it is disabled, locked or expired" + text, "ask the realm's administrator to enable the account"
	case krberror.RevocationStatusUnknown, krberror.RevocationStatusUnavailable:
		return "the KDC could not learn whether your certificate is revoked" + text, "the CA's OCSP responder or CRL is unreachable from the KDC; try again later or tell the realm's administrator"
	case krberror.ClientNameMismatch:
		return "the KDC says your certificate does not belong to this principal" + text, "give the principal your certificate names (leave the argument out to take it from the certificate), or ask for a certificate with your UPN"
	case krberror.InconsistentKeyPurpose:
		return "the KDC says your certificate is not for logon" + text, "a logon certificate needs the EKU id-pkinit-KPClientAuth or Smart Card Logon"
	case krberror.DHKeyParametersNotAccepted:
		return "the KDC refused the key exchange" + offered(e) + text, otherKeyExchange(e)
	case krberror.PublicKeyEncryptionNotSupported:
		return "the KDC does not do this key exchange" + offered(e) + text, "leave out --rsa-key-transport / --ecdh to use Diffie-Hellman"
	case krberror.InvalidSig:
		return "the KDC could not verify your request's signature" + text, "the key may not match the certificate; check the identity"
	case krberror.DigestInSignedDataNotAccepted, krberror.DigestInCertNotAccepted:
		return "the KDC refused a digest algorithm" + text, "your certificate may be signed with SHA-1; ask for a new one"
	case krberror.CPrincipalUnknown:
		return "the KDC has no account for this principal" + text, "check the principal's spelling and realm"
	case krberror.SPrincipalUnknown:
		return "the KDC knows no such service" + text, "check the service name given to -S or --service-ticket (service/host.domain)"
	case krberror.APSkew:
		return "your clock and the KDC's differ too much" + text, "set this computer's clock (NTP); Kerberos allows 5 minutes"
	case krberror.WrongRealm:
		return "the principal belongs to another realm" + text, "give the principal as name@REALM with the right realm"
	case krberror.ETypeNoSupp:
		return "the KDC and sclogon share no encryption type" + text, "the account needs AES keys (aes256-cts or aes128-cts)"
	case krberror.Policy:
		return "the KDC's policy refused the request" + text, "ask the realm's administrator"
	case krberror.PreauthFailed:
		return "the KDC refused the PKINIT pre-authentication" + text, "the KDC's log says why; common causes are an untrusted CA or a certificate that names another principal"
	}
	msg := fmt.Sprintf("the KDC refused: %v", e.Code)
	if r := e.Code.Reason(); r != "" {
		msg += ", " + r
	}
	msg += text
	if kx := e.KeyExchange; kx != nil && (kx.RSA || kx.Curve != 0 || kx.Group != pkinit.MODPGroup14) {
		// Samba 4.17's and Heimdal 7.8's KDCs answer a key exchange they
		// lack with an unrelated code (KRB_AP_ERR_BAD_INTEGRITY for group
		// 16 and ECDH), not KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED.
		return msg + offered(e), fmt.Sprintf("the KDC may not know %s: Samba 4.17 and Heimdal 7.8 KDCs accept only DH-2048 (MODP group 14); retry with --dh 2048", kx)
	}
	return msg, "the KDC's log says more"
}

// offered names the key exchange a refused PKINIT request offered.
func offered(e *kinit.KDCError) string {
	if e.KeyExchange == nil {
		return ""
	}
	return " to " + e.KeyExchange.String()
}

// otherKeyExchange suggests the key exchange to try after a refusal.
func otherKeyExchange(e *kinit.KDCError) string {
	if kx := e.KeyExchange; kx != nil && !kx.RSA && kx.Curve == 0 && kx.Group == pkinit.MODPGroup16 {
		return "try --dh 2048, or --rsa-key-transport"
	}
	return "try --dh 4096 or --ecdh, or --rsa-key-transport"
}

// cardIdentity chooses the logon certificate on the cards present
// (selection.Select: --cert, the only usable one, or a numbered choice on
// the terminal) and returns an identity that asks for the PIN when the card
// first signs. The hint (the principal argument or --hint) lets a
// certificate without a UPN through when sclogon_allow_no_upn is set.
func cardIdentity(s stdio, f *kinitFlags, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	realm, hint := conf.DefaultRealm(), principal
	if i := strings.LastIndexByte(principal, '@'); i >= 0 && !strings.Contains(principal[i:], "\\") {
		realm = principal[i+1:]
	}
	if f.hint != "" {
		h, err := selection.ParseHint(f.hint, conf, "")
		if err != nil {
			return nil, nil, usageError{err}
		}
		realm, hint = h.Principal.Realm, h.Text
	}
	pol, err := f.card.logonPolicy(conf, realm, hint)
	if err != nil {
		return nil, nil, err
	}
	req, err := f.card.selectionRequest(conf, pol, trace)
	if err != nil {
		return nil, nil, err
	}
	if req.Provider, err = f.cardWait.provider(s, conf, realm, req.Reader, req.Provider); err != nil {
		return nil, nil, err
	}
	req.Choose = askChoice(!f.pinStdin)
	sel, err := selection.Select(req)
	if err != nil {
		return nil, nil, err
	}
	v := sel.Verdict
	opt, err := cardIdentityOptions(s, stdin, f, conf, realm)
	if err != nil {
		sel.Close()
		return nil, nil, err
	}
	id := identity.NewCard(sel.Card, v.Slot, v.Cert, v.Label, opt)
	return cardKeyIdentity{id}, func() { id.Close(); sel.Close() }, nil
}

// errCardKey: the card signed with a key that is not the chosen
// certificate's (a card re-provisioned in a way its identity object does
// not show, or a broken one).
var errCardKey = errors.New("the card's key does not belong to the certificate read for it")

// cardKeyIdentity marks a key mismatch on the card as [errCardKey], apart
// from a software identity's.
type cardKeyIdentity struct{ *identity.Card }

func (c cardKeyIdentity) Signer() crypto.Signer { return cardKeySigner{c.Card.Signer()} }

type cardKeySigner struct{ crypto.Signer }

func (s cardKeySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if errors.Is(err, identity.ErrKeyMismatch) {
		err = fmt.Errorf("%w: %w", errCardKey, err)
	}
	return sig, err
}
