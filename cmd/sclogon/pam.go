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
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pam"
)

const pamHelp = `
usage: sclogon pam [--config FILE] [-V]

The PAM helper, run by pam_exec(8) with expose_authtok: PAM asks for the PIN,
sclogon reads it from stdin, obtains a TGT for PAM_USER@REALM with the card's
certificate that names that user, validates it by getting a ticket for
host/<this host's FQDN> and decrypting it with the host keytab (a KDC without
the host key cannot log anyone in), and writes the user's credential cache,
owned by the user, mode 0600. It logs to syslog (LOG_AUTHPRIV), never the PIN.

/etc/pam.d lines (before the other auth modules):

  auth     [success=done default=ignore]  pam_exec.so quiet expose_authtok /usr/bin/sclogon pam
  session  optional                       pam_exec.so quiet /usr/bin/sclogon pam

PAM_TYPE decides what it does:
  auth           the logon above
  open_session   checks the user's ccache is there, theirs, 0600 and unexpired
  account, close_session   nothing (exit 0): the KDC judged the account
  password       refuses (exit 1): change the PIN with 'sclogon pin change'

The ccache (default FILE:/tmp/krb5cc_%{uid}) is MIT's default name, so the
session needs no KRB5CCNAME. For another path, set KRB5CCNAME with pam_env,
e.g. in /etc/security/pam_env.conf:
  KRB5CCNAME DEFAULT=FILE:/tmp/krb5cc_@{PAM_USER}
with ccache = FILE:/tmp/krb5cc_%{username} in pam.conf.

Configuration (default /etc/sclogon/pam.conf), a krb5.conf-style file:

  [pam]
      realm = EXAMPLE.COM              # default: krb5.conf default_realm
      krb5_config = /etc/krb5.conf     # [realms] kdc, pkinit_anchors, pkinit_kdc_hostname…
      keytab = FILE:/etc/krb5.keytab
      host_principal = host/ws1.example.com   # default: host/<FQDN>
      ccache = FILE:/tmp/krb5cc_%{uid} # %{uid}, %{gid}, %{username}
      identity = card                  # FILE:cert.pem,key.pem or PKCS12:file.p12 for tests
      reader = Virtual PCD 00 00       # default: the only reader with a card
      kdc = 127.0.0.1:88               # repeatable; default from krb5.conf or DNS
      timeout = 3s
      lifetime = 10h

Environment (set by pam_exec): PAM_TYPE, PAM_USER, PAM_SERVICE, PAM_RHOST.

flags:
  --config FILE   the configuration (default /etc/sclogon/pam.conf)
  -V              trace each step to the log

Exit codes (pam_exec turns any non-zero status into PAM_SYSTEM_ERR and logs
it): 0 success, 1 the logon was refused (wrong PIN, blocked card, no
certificate for the user, the KDC refused, validation failed), 2 usage (not
run by pam_exec, bad flags), 3 configuration or system error (config file,
keytab, unknown account, no card reader, KDC unreachable).

Example, by hand:
  printf '123456\0' | PAM_TYPE=auth PAM_USER=alice sclogon pam --config pam.conf
`

const exitSystem = 3

func init() {
	register(&command{
		name:    "pam",
		summary: "the PAM helper: smart-card logon through pam_exec",
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
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(s.out, strings.TrimLeft(pamHelp, "\n"))
			return exitOK
		}
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon pam [--config FILE] [-V]\n", err)
		return exitUsage
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
	log.printf(syslog.LOG_INFO, "logged on as %s with %s (KDC %s); ccache %s valid until %s",
		res.Principal, res.Identity, res.KDC, res.CCache, res.EndTime.UTC().Format(time.RFC3339))
	return exitOK
}

// identitySource is the card unless the configuration names a PKCS #11
// token or a software identity (tests).
func identitySource(cfg *pam.Config) pam.IdentitySource {
	if cfg.Identity == "" || cfg.Identity == pam.DefaultIdentity {
		return pam.CardSource{Provider: pcsc.Provider{}, Reader: cfg.Reader, Profile: cfg.Profile}
	}
	if identity.IsPKCS11(cfg.Identity) {
		return pam.TokenSource{Spec: cfg.Identity, Profile: cfg.Profile}
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
	switch {
	case errors.As(err, &kerr) && kerr.Code == krberror.ClientNameMismatch:
		return "the KDC says the certificate does not belong to this account", "a user logs on with a card whose certificate maps to their account"
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
	case errors.Is(err, pam.ErrNoCertificate), errors.Is(err, pam.ErrWrongClient):
		return strings.TrimPrefix(err.Error(), "pam: "), "a user logs on with a card whose certificate names them"
	case errors.Is(err, pam.ErrNotValidated):
		return strings.TrimPrefix(err.Error(), "pam: "), "the answer did not come from the realm's KDC, or the host keytab is stale; export it again with 'sclogon kdc keytab'"
	}
	return explainKinit(err)
}
