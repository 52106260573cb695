package pki

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// Exit codes of [Main].
const (
	ExitOK    = 0
	ExitError = 1 // the command failed; the message says why
	ExitUsage = 2 // bad flags or arguments
)

const usage = `usage: sclogon pki <command> [flags]

The test PKI: a CA directory that issues the certificates AD issues for
smart-card logon, and an OCSP responder for it.

commands:
  init           create a CA (root, optional issuing intermediate, NTAuth file)
  issue user     issue a smart-card logon certificate (UPN, PKINIT SAN, SID)
  issue kdc      issue a KDC certificate (id-pkinit-KPKdc, krbtgt SAN, dNSName)
  issue ocsp     issue a delegated OCSP responder certificate
  revoke SERIAL  revoke an issued certificate
  ocsp           run the OCSP responder
  enroll         generate a key on a PIV card and write its certificate into a slot

Every command takes --dir DIR (default ./pki). 'sclogon pki <command> -h'
lists its flags.

examples:
  sclogon pki init --dir lab/pki --intermediate --ocsp-url http://127.0.0.1:2560/
  sclogon pki issue user --dir lab/pki --upn alice@example.com --principal alice@EXAMPLE.COM --sid S-1-5-21-1-2-3-1104
  sclogon pki issue kdc --dir lab/pki --realm EXAMPLE.COM --dns kdc.example.com
  sclogon pki revoke --dir lab/pki 1000 --reason keyCompromise
  sclogon pki ocsp --dir lab/pki --listen 127.0.0.1:2560

exit codes: 0 success, 1 failure, 2 usage error
`

// Main runs `sclogon pki` with args (after "pki"), writing data to stdout
// and messages for people to stderr, and returns the exit code. The ocsp
// command runs until SIGINT or SIGTERM.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	case "init":
		err = c.init(args[1:])
	case "issue":
		err = c.issue(args[1:])
	case "revoke":
		err = c.revoke(args[1:])
	case "ocsp":
		err = c.ocsp(args[1:])
	default:
		fmt.Fprintf(stderr, "sclogon: error: unknown pki command %q\n%s", args[0], usage)
		return ExitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sclogon: error: %v\nsclogon: hint: run 'sclogon pki %s -h' for the flags\n", ue.err, ue.cmd)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "sclogon: error: %v\n", err)
		return ExitError
	}
}

type usageError struct {
	cmd string
	err error
}

func (u usageError) Error() string { return u.err.Error() }

func (c *cli) flags(cmd, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("sclogon pki "+cmd, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: sclogon pki %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before and after positional arguments
// ("revoke 1000 --reason keyCompromise").
func parse(cmd string, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{cmd, err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseValidity accepts Go durations and a whole number of days ("365d").
func parseValidity(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("validity %q: want a positive number of days like 365d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("validity %q: want a duration like 8760h or 365d", s)
	}
	return v, nil
}

var ekuNames = map[string]asn1.ObjectIdentifier{
	"smartcardlogon": certs.OIDExtKeyUsageSmartCardLogon,
	"pkinitclient":   certs.OIDExtKeyUsagePKINITClientAuth,
	"pkinitkdc":      certs.OIDExtKeyUsagePKINITKDC,
	"kdcauth":        certs.OIDExtKeyUsageMSKDCAuthentication,
	"clientauth":     certs.OIDExtKeyUsageClientAuth,
	"serverauth":     certs.OIDExtKeyUsageServerAuth,
	"ocspsigning":    certs.OIDExtKeyUsageOCSPSigning,
}

const ekuHelp = "comma-separated EKUs: smartcardlogon, pkinitclient, pkinitkdc, kdcauth, clientauth, serverauth, ocspsigning, a dotted OID, or none"

func parseEKUs(s string) ([]asn1.ObjectIdentifier, error) {
	if s == "" {
		return nil, nil
	}
	if s == "none" {
		return []asn1.ObjectIdentifier{}, nil
	}
	var out []asn1.ObjectIdentifier
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if oid, ok := ekuNames[strings.ToLower(f)]; ok {
			out = append(out, oid)
			continue
		}
		var oid asn1.ObjectIdentifier
		for _, p := range strings.Split(f, ".") {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("unknown EKU %q (%s)", f, ekuHelp)
			}
			oid = append(oid, n)
		}
		if len(oid) < 2 {
			return nil, fmt.Errorf("unknown EKU %q (%s)", f, ekuHelp)
		}
		out = append(out, oid)
	}
	return out, nil
}

var kuNames = map[string]x509.KeyUsage{
	"digitalsignature": x509.KeyUsageDigitalSignature,
	"nonrepudiation":   x509.KeyUsageContentCommitment,
	"keyencipherment":  x509.KeyUsageKeyEncipherment,
	"dataencipherment": x509.KeyUsageDataEncipherment,
	"keyagreement":     x509.KeyUsageKeyAgreement,
}

const kuHelp = "comma-separated key usages: digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement (default: digitalSignature, plus keyEncipherment for RSA)"

func parseKU(s string) (x509.KeyUsage, error) {
	var ku x509.KeyUsage
	if s == "" {
		return 0, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, ok := kuNames[strings.ToLower(strings.TrimSpace(f))]
		if !ok {
			return 0, fmt.Errorf("unknown key usage %q (%s)", f, kuHelp)
		}
		ku |= v
	}
	return ku, nil
}

func (c *cli) init(args []string) error {
	fs := c.flags("init", "init [--dir DIR] [--intermediate] [--ocsp-url URL] [--crl-url URL]")
	dir := fs.String("dir", "pki", "CA directory to create")
	inter := fs.Bool("intermediate", false, "issue from an intermediate CA under the root, as AD CS does")
	name := fs.String("name", "sclogon Test Root CA", "common name of the root CA")
	kt := fs.String("key-type", "rsa2048", "CA key: rsa2048, rsa3072, rsa4096, p256, p384")
	val := fs.String("validity", "3650d", "CA certificate validity")
	ocspURL := fs.String("ocsp-url", "http://127.0.0.1:2560/", "OCSP URL written into issued certificates (AIA); empty for none")
	crlURL := fs.String("crl-url", "http://127.0.0.1:2560/crl", "CRL distribution point written into issued certificates; empty for none")
	if pos, err := parse("init", fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"init", fmt.Errorf("unexpected argument %q", pos[0])}
	}
	keyType, err := ParseKeyType(*kt)
	if err != nil {
		return usageError{"init", err}
	}
	v, err := parseValidity(*val)
	if err != nil {
		return usageError{"init", err}
	}
	ca, err := Init(*dir, InitOptions{Name: *name, Intermediate: *inter, KeyType: keyType, Validity: v, OCSPURL: *ocspURL, CRLURL: *crlURL})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "root\t%s\n", ca.RootPath())
	if *inter {
		fmt.Fprintf(c.stdout, "issuer\t%s\n", ca.IssuerPath())
	}
	fmt.Fprintf(c.stdout, "ntauth\t%s\n", ca.NTAuthPath())
	return nil
}

// issueSynopses are the synopses of what issue issues.
var issueSynopses = map[string]string{
	"user": "issue user --upn UPN [--principal NAME@REALM] [--sid S-1-5-…] [--eku LIST] [--ku LIST] [--key-type T] [--validity D] [--out PREFIX]",
	"kdc":  "issue kdc --realm REALM --dns HOST [--key-type T] [--validity D] [--out PREFIX]",
	"ocsp": "issue ocsp [--name CN] [--key-type T] [--validity D] [--out PREFIX]",
}

// issueFlags are the flags of one kind of issue: each kind sets its own.
type issueFlags struct {
	upn, sid, cn, realm, name, eku, ku *string
	principals, emails, dns            stringList
}

func (c *cli) issue(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(c.stderr, "usage: sclogon pki issue user|kdc|ocsp [flags]\n")
			return flag.ErrHelp
		}
		return usageError{"issue", errors.New("say what to issue: user, kdc or ocsp")}
	}
	kind, args := args[0], args[1:]
	cmd := "issue " + kind
	synopsis, ok := issueSynopses[kind]
	if !ok {
		return usageError{"issue", fmt.Errorf("cannot issue %q: want user, kdc or ocsp", kind)}
	}
	fs := c.flags(cmd, synopsis)
	dir := fs.String("dir", "pki", "CA directory")
	kt := fs.String("key-type", "rsa2048", "key: rsa2048, rsa3072, rsa4096, p256, p384")
	val := fs.String("validity", "365d", "certificate validity (8760h or 365d)")
	out := fs.String("out", "", "write PREFIX.pem and PREFIX.key (default DIR/issued/SERIAL)")
	f := defineIssueFlags(fs, kind)
	if pos, err := parse(cmd, fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{cmd, fmt.Errorf("unexpected argument %q", pos[0])}
	}
	keyType, err := ParseKeyType(*kt)
	if err != nil {
		return usageError{cmd, err}
	}
	validity, err := parseValidity(*val)
	if err != nil {
		return usageError{cmd, err}
	}
	p, err := f.profile(cmd, kind, validity)
	if err != nil {
		return err
	}
	return c.writeIssued(*dir, *out, keyType, p)
}

// defineIssueFlags defines on fs the flags of kind.
func defineIssueFlags(fs *flag.FlagSet, kind string) *issueFlags {
	f := &issueFlags{}
	switch kind {
	case "user":
		f.upn = fs.String("upn", "", "user principal name for the MS UPN SAN (alice@example.com)")
		fs.Var(&f.principals, "principal", "id-pkinit-san principal (alice@EXAMPLE.COM); repeatable")
		f.sid = fs.String("sid", "", "account SID for the KB5014754 SID extension (S-1-5-21-…)")
		f.cn = fs.String("cn", "", "subject common name (default: the UPN's user part)")
		fs.Var(&f.emails, "email", "rfc822Name SAN; repeatable")
		f.eku = fs.String("eku", "clientauth,smartcardlogon", ekuHelp)
		f.ku = fs.String("ku", "", kuHelp)
	case "kdc":
		f.realm = fs.String("realm", "", "Kerberos realm; the SAN gets krbtgt/REALM@REALM")
		fs.Var(&f.dns, "dns", "KDC host name for a dNSName SAN; repeatable")
		f.eku = fs.String("eku", "pkinitkdc,serverauth", ekuHelp)
		f.ku = fs.String("ku", "", kuHelp)
	case "ocsp":
		f.name = fs.String("name", "sclogon OCSP Responder", "subject common name")
	}
	return f
}

// profile is the certificate profile the flags of kind ask for; a flag's
// error is a usage error of cmd.
func (f *issueFlags) profile(cmd, kind string, validity time.Duration) (Profile, error) {
	switch kind {
	case "user":
		return f.userProfile(cmd, validity)
	case "kdc":
		k := KDC{Realm: *f.realm, DNSNames: f.dns, Validity: validity}
		if k.Realm == "" {
			return Profile{}, usageError{cmd, errors.New("give --realm")}
		}
		var err error
		if k.ExtKeyUsage, err = parseEKUs(*f.eku); err != nil {
			return Profile{}, usageError{cmd, err}
		}
		if k.KeyUsage, err = parseKU(*f.ku); err != nil {
			return Profile{}, usageError{cmd, err}
		}
		return KDCProfile(k)
	}
	return OCSPResponderProfile(*f.name, validity), nil
}

func (f *issueFlags) userProfile(cmd string, validity time.Duration) (Profile, error) {
	u := User{UPN: *f.upn, CommonName: *f.cn, Emails: f.emails, Validity: validity}
	for _, s := range f.principals {
		pn, err := certs.ParsePrincipalName(s)
		if err != nil {
			return Profile{}, usageError{cmd, err}
		}
		u.Principals = append(u.Principals, pn)
	}
	var err error
	if *f.sid != "" {
		if u.SID, err = certs.ParseSID(*f.sid); err != nil {
			return Profile{}, usageError{cmd, err}
		}
	}
	if u.ExtKeyUsage, err = parseEKUs(*f.eku); err != nil {
		return Profile{}, usageError{cmd, err}
	}
	if u.KeyUsage, err = parseKU(*f.ku); err != nil {
		return Profile{}, usageError{cmd, err}
	}
	if u.UPN == "" && len(u.Principals) == 0 {
		return Profile{}, usageError{cmd, errors.New("give --upn and/or --principal")}
	}
	return UserProfile(u)
}

// writeIssued issues p to a new key of keyType from the CA in dir and
// writes both under out (default DIR/issued/SERIAL), never over a key.
func (c *cli) writeIssued(dir, out string, keyType KeyType, p Profile) error {
	ca, err := Open(dir, Options{})
	if err != nil {
		return err
	}
	if out != "" {
		if _, err := os.Stat(out + ".key"); err == nil {
			return fmt.Errorf("%s.key already exists; choose another --out or remove it", out)
		}
	}
	key, err := GenerateKey(keyType, ca.opts.rand())
	if err != nil {
		return err
	}
	cert, err := ca.Issue(key.Public(), p)
	if err != nil {
		return err
	}
	prefix := out
	if prefix == "" {
		prefix = filepath.Join(ca.Dir(), "issued", serialHex(cert.SerialNumber))
	}
	if err := WriteKeyAndCert(prefix+".key", prefix+".pem", key, cert); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "serial\t%s\ncert\t%s\nkey\t%s\n", serialHex(cert.SerialNumber), prefix+".pem", prefix+".key")
	return nil
}

func (c *cli) revoke(args []string) error {
	fs := c.flags("revoke", "revoke SERIAL [--reason REASON] [--dir DIR]")
	dir := fs.String("dir", "pki", "CA directory")
	reason := fs.String("reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, CACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, AACompromise")
	pos, err := parse("revoke", fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"revoke", errors.New("give exactly one SERIAL (hex, as 'sclogon pki issue' printed it)")}
	}
	serial, err := ParseSerial(pos[0])
	if err != nil {
		return usageError{"revoke", err}
	}
	r, err := ParseReason(*reason)
	if err != nil {
		return usageError{"revoke", err}
	}
	ca, err := Open(*dir, Options{})
	if err != nil {
		return err
	}
	rec, err := ca.Revoke(serial, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked\t%s\t%s\t%s\n", rec.Serial, rec.Reason, rec.RevokedAt.Format(time.RFC3339))
	return nil
}

func (c *cli) ocsp(args []string) error {
	fs := c.flags("ocsp", "ocsp --listen ADDR [--cert FILE --key FILE] [--dir DIR]")
	dir := fs.String("dir", "pki", "CA directory")
	listen := fs.String("listen", "127.0.0.1:2560", "address to listen on")
	certFile := fs.String("cert", "", "delegated responder certificate (from 'sclogon pki issue ocsp'); default: sign with the CA key")
	keyFile := fs.String("key", "", "delegated responder key")
	val := fs.String("validity", "1h", "nextUpdate - thisUpdate of each response")
	if pos, err := parse("ocsp", fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"ocsp", fmt.Errorf("unexpected argument %q", pos[0])}
	}
	validity, err := parseValidity(*val)
	if err != nil {
		return usageError{"ocsp", err}
	}
	ca, err := Open(*dir, Options{})
	if err != nil {
		return err
	}
	o := ResponderOptions{Validity: validity}
	if (*certFile == "") != (*keyFile == "") {
		return usageError{"ocsp", errors.New("give both --cert and --key, or neither")}
	}
	if *certFile != "" {
		if o.Cert, o.Key, err = loadPair(*certFile, *keyFile); err != nil {
			return err
		}
	}
	r, err := NewResponder(ca, o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *listen, err)
	}
	fmt.Fprintf(c.stderr, "sclogon: OCSP responder for %s listening on http://%s/\n", ca.Issuer().Subject, ln.Addr())
	return r.Serve(c.ctx, ln)
}
