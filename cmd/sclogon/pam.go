package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pam"
)

const pamHelp = `
usage: sclogon pam [--config FILE] [-V] [--module]

The PAM helper, run by pam_sclogon.so (--module, recommended) or by
pam_exec(8) with expose_authtok (the fallback).

Under pam_sclogon.so the helper asks for the PIN itself, through the
module's PAM conversation ("PIN for alice@EXAMPLE.COM (2 tries left): "),
says "Insert your smart card" and waits when card_wait is set, says "Enter
the PIN on the reader" for a reader with a PIN pad (the PIN never crosses the
host), offers a choice when several certificates may log on, sets KRB5CCNAME
in the session, destroys that ccache at close_session (as pam_krb5 does),
and returns the PAM codes a display manager expects: PAM_AUTHINFO_UNAVAIL
without a card, reader or KDC (the stack falls through to a password),
PAM_MAXTRIES on a blocked PIN, PAM_AUTH_ERR on a wrong PIN or a refusal by
the KDC, PAM_CRED_INSUFFICIENT when no certificate may log on. The PIN typed
is the logon's one PIN (pin_cache = normal); pin_cache = timed:300s, none or
always-prompt asks again as 'sclogon kinit --pin-cache' does. A key whose own
PIN policy is "always" (slot 9c, or set at key generation) is asked for again
at each use, a "never" key not at all.

Under pam_exec, PAM asks for the PIN ("Password:") and sclogon reads it from
stdin; it can neither ask again nor show messages nor set KRB5CCNAME, and a
key that wants its PIN at each use is refused rather than given the same PIN
unasked.

Either way the helper obtains a TGT for the user with the card's
certificate, validates it by getting a ticket for host/<this host's FQDN>
and decrypting it with the host keytab (a KDC without the host key cannot log
anyone in), and writes the user's credential cache, owned by the user, mode
0600. It logs to syslog (LOG_AUTHPRIV), never the PIN.

The PAM user name is the logon's name hint, as Windows' X509HintsNeeded:
"alice" asks for alice@REALM, EXAMPLE\alice the same, "alice@example.com" an
enterprise name when the suffix is not the realm's. The KDC maps the
certificate (UPN, altSecurityIdentities, the SID extension) and refuses one
that does not belong to that account; the helper does not guess.

/etc/pam.d lines (before the other auth modules), with the module:

  auth     [success=done authinfo_unavail=ignore default=die]  pam_sclogon.so
  account  [success=ok ignore=ignore default=bad]              pam_sclogon.so
  session  optional                                            pam_sclogon.so

  module options: helper=/usr/bin/sclogon config=/etc/sclogon/pam.conf
  log=FILE (the helper's stderr, appended) debug (-V)

or with pam_exec:

  auth     [success=done default=ignore]  pam_exec.so quiet expose_authtok /usr/bin/sclogon pam
  session  optional                       pam_exec.so quiet /usr/bin/sclogon pam

PAM_TYPE decides what it does:
  auth           the logon above
  account        pam_sclogon.so: success when the card logon left the user's
                 ccache, else PAM_IGNORE; pam_exec: nothing (exit 0)
  open_session   checks the user's ccache is there, theirs, 0600 and
                 unexpired; pam_sclogon.so sets KRB5CCNAME to it
  close_session  pam_sclogon.so: destroys (zeroes, removes) the ccache whose
                 KRB5CCNAME it gave the session (a regular file the user owns,
                 of this session's name), unless retain_after_close;
                 pam_exec: nothing (exit 0)
  password       refused: change the PIN with 'sclogon pin change'

Under pam_sclogon.so with no ccache in pam.conf, each session gets its own
ccache, as with pam_krb5: /tmp/krb5cc_%{uid}_ and six random letters or
digits (a new name, 0600, the user's), named in the session's KRB5CCNAME; close_session destroys that one
only, so logging out of one session leaves the user's other sessions their
tickets. With ccache set, every session of the user shares that file.

Under pam_exec the ccache (default FILE:/tmp/krb5cc_%{uid}) is MIT's default
name, so a pam_exec session needs no KRB5CCNAME. For another path, set KRB5CCNAME with
pam_env, e.g. in /etc/security/pam_env.conf:
  KRB5CCNAME DEFAULT=FILE:/tmp/krb5cc_@{PAM_USER}
with ccache = FILE:/tmp/krb5cc_%{username} in pam.conf.

Configuration (default /etc/sclogon/pam.conf), a krb5.conf-style file:

  [pam]
      realm = EXAMPLE.COM              # default: krb5.conf default_realm
      krb5_config = /etc/krb5.conf     # [realms] kdc, pkinit_anchors, pkinit_kdc_hostname…
      keytab = FILE:/etc/krb5.keytab
      host_principal = host/ws1.example.com   # default: host/<FQDN>
      ccache = FILE:/tmp/krb5cc_%{uid} # %{uid}, %{gid}, %{username}; unset: one per session (above)
      identity = card                  # or PKCS11:…; FILE:cert.pem,key.pem or PKCS12:file.p12 for tests
      reader = Virtual PCD 00 00       # default: every reader with a card
      cert_cache = /var/cache/sclogon/cards   # certificates of cards seen before; "none": read each card in full
      card_wait = 30s                  # pam_sclogon.so: "Insert your smart card", wait this long (default: no wait)
      pin_cache = normal               # or timed:300s, none, always-prompt (as kinit --pin-cache)
      retain_after_close = false       # pam_sclogon.so: keep the ccache at close_session
      offline = false                  # log on when no KDC answers, for a user seen online before
      offline_dir = /var/lib/sclogon/offline  # the records of online logons (root's, 0700)
      offline_max_status_age = 24h     # the recorded OCSP answer's age, from its thisUpdate
      kdc = 127.0.0.1:88               # repeatable; default from krb5.conf or DNS
      timeout = 3s
      lifetime = 10h

An offline logon writes no ccache and sets no KRB5CCNAME: the conversation
says "Offline logon: no Kerberos ticket", and each attempt is audited.

Environment (set by pam_exec or pam_sclogon.so): PAM_TYPE, PAM_USER,
PAM_SERVICE, PAM_RHOST, PAM_TTY; KRB5CCNAME, the session's (read at
account, open_session and close_session).

flags:
  --config FILE   the configuration (default /etc/sclogon/pam.conf)
  -V              trace each step to the log
  --module        speak pam_sclogon.so's protocol on stdin and stdout

Exit codes under pam_exec (which turns any non-zero status into
PAM_SYSTEM_ERR and logs it): 0 success, 1 the logon was refused (wrong PIN,
blocked card, no certificate for the user, the KDC refused, validation
failed), 2 usage (not run by pam_exec, bad flags), 3 configuration or system
error (config file, keytab, unknown account, no card reader, KDC
unreachable). Under pam_sclogon.so the outcome is the PAM code above.

Example, by hand:
  printf '123456\0' | PAM_TYPE=auth PAM_USER=alice sclogon pam --config pam.conf
`

const exitSystem = 3

func init() {
	register(&command{
		name:    "pam",
		summary: "the PAM helper: smart-card logon through pam_sclogon.so or pam_exec",
		help:    pamHelp,
		run:     runPAM,
	})
}

// pamLog writes to syslog (LOG_AUTHPRIV) or, without a syslog socket, to
// stderr (which pam_exec's log= option captures).
type pamLog struct {
	sys  *syslog.Writer
	err  io.Writer
	tags string
}

func newPAMLog(stderr io.Writer, tags string) *pamLog {
	l := &pamLog{err: stderr, tags: tags}
	if w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "sclogon-pam"); err == nil {
		l.sys = w
	}
	return l
}

func (l *pamLog) printf(level syslog.Priority, format string, a ...any) {
	msg := l.tags + fmt.Sprintf(format, a...)
	if l.sys == nil {
		fmt.Fprintf(l.err, "sclogon pam: %s\n", msg)
		return
	}
	switch level {
	case syslog.LOG_ERR:
		_ = l.sys.Err(msg)
	case syslog.LOG_WARNING:
		_ = l.sys.Warning(msg)
	case syslog.LOG_NOTICE:
		_ = l.sys.Notice(msg)
	case syslog.LOG_DEBUG:
		_ = l.sys.Debug(msg)
	default:
		_ = l.sys.Info(msg)
	}
}

func (l *pamLog) close() {
	if l.sys != nil {
		l.sys.Close()
	}
}

func runPAM(ctx context.Context, s stdio, args []string) int {
	fs := flag.NewFlagSet("sclogon pam", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", pam.DefaultConfigPath, "")
	verbose := fs.Bool("V", false, "")
	module := fs.Bool("module", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(s.out, strings.TrimLeft(pamHelp, "\n"))
			return exitOK
		}
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pam [--config FILE] [-V] [--module]\n", err)
		return exitUsage
	}
	if *module {
		return runPAMModule(ctx, s, *configPath, *verbose)
	}
	typ, user := os.Getenv("PAM_TYPE"), os.Getenv("PAM_USER")
	log := newPAMLog(s.errOut, pamLogTags(typ, user)+": ")
	defer log.close()
	if typ == "" || user == "" {
		log.printf(syslog.LOG_ERR, "PAM_TYPE and PAM_USER are not set: run me from pam_exec.so ('sclogon help pam')")
		return exitUsage
	}
	switch typ {
	case "account", "close_session":
		return exitOK
	case "password":
		log.printf(syslog.LOG_ERR, "PIN changes do not go through PAM; use 'sclogon pin change'")
		return exitFail
	case "auth", "open_session":
	default:
		log.printf(syslog.LOG_ERR, "unknown PAM_TYPE %q", typ)
		return exitUsage
	}
	cfg, err := pam.LoadConfig(*configPath, nil)
	if err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return exitSystem
	}
	account, err := pam.LookupAccount(user)
	if err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return exitSystem
	}
	if typ == "open_session" {
		return pamOpenSession(cfg, account, log)
	}
	return pamAuth(ctx, s, cfg, account, log, *verbose)
}

// pamLogTags names the PAM call in every log line: its type, the user and,
// when PAM gives them, the service and remote host.
func pamLogTags(typ, user string) string {
	tags := fmt.Sprintf("%s %s", typ, user)
	if svc := os.Getenv("PAM_SERVICE"); svc != "" {
		tags += " service=" + svc
	}
	if rhost := os.Getenv("PAM_RHOST"); rhost != "" {
		tags += " rhost=" + rhost
	}
	return tags
}

// pamAuth logs account on with the authtok PAM hands over on stdin.
func pamAuth(ctx context.Context, s stdio, cfg *pam.Config, account pam.Account, log *pamLog, verbose bool) int {
	authtok, err := pam.ReadAuthtok(s.in)
	if err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return exitFail
	}
	defer authtok.Wipe()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	l := &pam.Logon{Config: cfg, Identities: identitySource(cfg)}
	if verbose {
		l.Trace = func(format string, a ...any) { log.printf(syslog.LOG_DEBUG, format, a...) }
	}
	res, err := l.Run(ctx, pam.Request{Account: account, Authtok: authtok})
	authtok.Wipe()
	if err != nil {
		code := pamExitCode(err)
		msg, hint := explainPAM(err)
		if hint != "" {
			msg += "; " + hint
		}
		log.printf(syslog.LOG_WARNING, "logon refused: %s", msg)
		return code
	}
	logResult(log, res)
	return exitOK
}

// logResult logs a completed logon.
func logResult(log *pamLog, res *pam.Result) {
	if res.Offline {
		log.printf(syslog.LOG_NOTICE, "offline logon as %s with %s: no KDC answered; no ticket, no ccache", res.Principal, res.Identity)
		return
	}
	log.printf(syslog.LOG_INFO, "logged on as %s with %s (KDC %s); ccache %s valid until %s",
		res.Principal, res.Identity, res.KDC, res.CCache, res.EndTime.UTC().Format(time.RFC3339))
}

// identitySource is the card unless the configuration names a PKCS #11
// token or a software identity (tests).
func identitySource(cfg *pam.Config) pam.IdentitySource {
	if cfg.Identity == "" || cfg.Identity == pam.DefaultIdentity {
		src := pam.CardSource{Provider: pcsc.Provider{}, Reader: cfg.Reader, Policy: cfg.Policy, PINCache: cfg.PINCache}
		if cfg.CertCache != "" {
			src.Cache = &card.Cache{Dir: cfg.CertCache}
		}
		return src
	}
	if identity.IsPKCS11(cfg.Identity) {
		return pam.TokenSource{Spec: cfg.Identity, Policy: cfg.Policy, PINCache: cfg.PINCache}
	}
	return pam.SoftwareSource{Spec: cfg.Identity}
}

// pamOpenSession checks the ccache the auth stage left.
func pamOpenSession(cfg *pam.Config, a pam.Account, log *pamLog) int {
	path := cfg.CCachePath(a)
	if err := pam.CheckCCache(path, a, cfg.Realm, time.Now()); err != nil {
		log.printf(syslog.LOG_WARNING, "%v", err)
		return exitFail
	}
	return exitOK
}

func pamExitCode(err error) int {
	var terr *transport.Error
	switch {
	case errors.Is(err, card.ErrNoCard), errors.Is(err, pam.ErrReader), errors.Is(err, pam.ErrKeytab),
		errors.As(err, &terr), errors.Is(err, transport.ErrNoKDC), errors.Is(err, context.DeadlineExceeded):
		return exitSystem
	}
	return exitFail
}

// explainPAM is explainKinit plus the PAM-specific refusals.
func explainPAM(err error) (msg, hint string) {
	var perr *card.PINError
	var kerr *kinit.KDCError
	var terr *identity.TokenError
	var rerr *selection.ReaderError
	switch {
	case errors.As(err, &kerr) && kerr.Code == krberror.ClientNameMismatch:
		return fmt.Sprintf("the KDC says the certificate does not belong to this account (%v)", kerr.Code), "a user logs on with a card whose certificate maps to their account"
	case errors.As(err, &terr):
		// A token's tries are flags ("low"), not a count; its lock is undone with the SO PIN.
		if msg, hint, ok := explainToken(err); ok {
			return msg, hint
		}
	case errors.As(err, &perr):
		if perr.Retries == 0 {
			return "the card refused the PIN and is now blocked", "unblock it with 'sclogon pin unblock'"
		}
		return fmt.Sprintf("the card refused the PIN (%s)", card.TriesLeft(perr.Retries)), ""
	case errors.Is(err, card.ErrPINBlocked):
		return "the card's PIN is blocked", "unblock it with 'sclogon pin unblock'"
	case errors.As(err, &kerr):
		msg, hint := explainKDCError(kerr)
		return fmt.Sprintf("%s [%v]", msg, kerr.Code), hint
	case errors.Is(err, card.ErrNoCard):
		return "no smart card in a reader", "insert the card; 'reader' in [pam] names the reader to read"
	case errors.As(err, &rerr):
		return rerr.Err.Error(), "check that pcscd runs and the reader 'reader' in [pam] names"
	case errors.Is(err, pam.ErrNoCertificate):
		return err.Error(), "'sclogon certs' shows why each certificate was rejected and the switch that allows it"
	case errors.Is(err, pam.ErrWrongClient):
		return err.Error(), "a user logs on with a card whose certificate maps to their account"
	case errors.Is(err, pam.ErrNotValidated):
		return err.Error(), "the answer did not come from the realm's KDC, or the host keytab is stale; export it again with 'sclogon kdc keytab'"
	}
	return explainKinit(err)
}
