package main

import (
	"context"
	"errors"
	"log/syslog"
	"os"
	"time"

	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/pam"
)

// runPAMModule is `sclogon pam --module`: the helper of pam_sclogon.so,
// speaking its protocol on stdin and stdout (see pam.ModuleConv). Every
// outcome is a PAM code in the last frame; the exit status only says
// whether that frame could be sent.
func runPAMModule(ctx context.Context, s stdio, configPath string, verbose bool) int {
	conv := pam.NewModuleConv(s.in, s.out)
	typ, user := os.Getenv("PAM_TYPE"), os.Getenv("PAM_USER")
	log := newPAMLog(s.errOut, pamLogTags(typ, user)+": ")
	defer log.close()
	code := pamModuleStage(ctx, conv, configPath, typ, user, log, verbose)
	if err := conv.Result(code); err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return exitSystem
	}
	return exitOK
}

// pamModuleStage runs the stage PAM_TYPE names and returns its PAM code.
func pamModuleStage(ctx context.Context, conv *pam.ModuleConv, configPath, typ, user string, log *pamLog, verbose bool) pam.Code {
	if typ == "" || user == "" {
		log.printf(syslog.LOG_ERR, "PAM_TYPE and PAM_USER are not set: run me from pam_sclogon.so ('sclogon help pam')")
		return pam.SystemErr
	}
	switch typ {
	case "close_session":
		if os.Getenv("KRB5CCNAME") == "" {
			return pam.Ignore // no ccache was given to the session
		}
	case "password":
		return pam.Ignore // the PIN changes with 'sclogon pin change'
	case "auth", "account", "open_session":
	default:
		log.printf(syslog.LOG_ERR, "unknown PAM_TYPE %q", typ)
		return pam.SystemErr
	}
	cfg, err := pam.LoadConfig(configPath, nil)
	if err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return pam.SystemErr
	}
	account, err := pam.LookupAccount(user)
	if err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return pam.UserUnknown
	}
	switch typ {
	case "auth":
		return pamModuleAuth(ctx, conv, cfg, account, log, verbose)
	case "close_session":
		return pamModuleClose(cfg, account, log)
	}
	// account and open_session: this module's business only when the card
	// logon left the account's ccache (per session: the one the auth
	// stage named in KRB5CCNAME); a password logon is left alone.
	path := cfg.CCachePath(account)
	if cfg.PerSessionCCache {
		p, ok := cfg.SessionCCache(account, os.Getenv("KRB5CCNAME"))
		if !ok {
			if verbose {
				log.printf(syslog.LOG_DEBUG, "KRB5CCNAME %q is not a session ccache of %s", os.Getenv("KRB5CCNAME"), account.Name)
			}
			return pam.Ignore
		}
		path = p
	}
	if err := pam.CheckCCache(path, account, cfg.Realm, time.Now()); err != nil {
		if verbose {
			log.printf(syslog.LOG_DEBUG, "%v", err)
		}
		return pam.Ignore
	}
	if typ == "open_session" {
		if err := conv.Putenv("KRB5CCNAME", "FILE:"+path); err != nil {
			log.printf(syslog.LOG_ERR, "%v", err)
			return pam.SystemErr
		}
	}
	return pam.Success
}

// pamModuleAuth logs account on, asking through the module's conversation.
func pamModuleAuth(ctx context.Context, conv *pam.ModuleConv, cfg *pam.Config, account pam.Account, log *pamLog, verbose bool) pam.Code {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+cfg.CardWait)
	defer cancel()
	src := identitySource(cfg)
	if cs, ok := src.(pam.CardSource); ok && cfg.CardWait > 0 {
		cs.Provider = pcsc.Provider{Wait: cfg.CardWait, Context: ctx, Reader: cfg.Reader, Waiting: func() {
			log.printf(syslog.LOG_INFO, "no card in a reader: asking for one and waiting up to %s", cfg.CardWait)
			conv.Info(pam.InsertCard)
		}}
		src = cs
	}
	// A session that authenticates again (a screen unlock) hands its own
	// KRB5CCNAME: that ccache is refreshed rather than a new one made.
	l := &pam.Logon{Config: cfg, Identities: src, PerSession: true, SessionCCache: os.Getenv("KRB5CCNAME")}
	if verbose {
		l.Trace = func(format string, a ...any) { log.printf(syslog.LOG_DEBUG, format, a...) }
	}
	res, err := l.Run(ctx, pam.Request{Account: account, Conversation: conv})
	code := pam.ResultCode(err)
	if err != nil {
		msg, hint := explainPAM(err)
		if hint != "" {
			msg += "; " + hint
		}
		log.printf(syslog.LOG_WARNING, "logon refused (PAM_%s): %s", code, msg)
		if code == pam.MaxTries {
			conv.Error("The card's PIN is blocked")
		}
		return code
	}
	return pamModuleLoggedOn(conv, log, res)
}

// pamModuleLoggedOn logs a completed logon and points the session at its
// ccache. An offline logon has no ticket and no ccache: the session gets
// no KRB5CCNAME (an empty FILE: name would send Kerberos clients to the
// current directory).
func pamModuleLoggedOn(conv *pam.ModuleConv, log *pamLog, res *pam.Result) pam.Code {
	logResult(log, res)
	if res.Offline {
		return pam.Success
	}
	if err := conv.Putenv("KRB5CCNAME", "FILE:"+res.CCache); err != nil {
		log.printf(syslog.LOG_ERR, "%v", err)
		return pam.SystemErr
	}
	return pam.Success
}

// pamModuleClose destroys the ccache the session was given, as pam_krb5
// does at close_session (unless retain_after_close is set): with no
// ccache configured that is the session's own, so the user's other
// sessions keep theirs. A KRB5CCNAME that is not this module's is left
// alone.
func pamModuleClose(cfg *pam.Config, account pam.Account, log *pamLog) pam.Code {
	destroyed, err := pam.EndSession(cfg, account, os.Getenv("KRB5CCNAME"))
	switch {
	case errors.Is(err, pam.ErrNoSession):
		log.printf(syslog.LOG_WARNING, "%v", err)
		return pam.Ignore
	case err != nil:
		log.printf(syslog.LOG_ERR, "%v", err)
		return pam.SystemErr
	case destroyed == "":
		return pam.Ignore
	}
	log.printf(syslog.LOG_INFO, "session closed: ccache %s destroyed", destroyed)
	return pam.Success
}
