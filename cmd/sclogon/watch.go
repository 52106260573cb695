package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/pam"
)

const watchHelp = `
usage: sclogon watch [--lock | --logout] [--on-remove CMD] [--destroy-ccache [-c CCACHE]] [--reader NAME | --identity PKCS11:…] [--once]

Watches the smart card and acts when it is taken out: locks the session
(loginctl lock-session), ends it (loginctl terminate-session), runs CMD
(through /bin/sh -c, with SCLOGON_READER set to the reader's name) and/or
destroys the credential cache (overwritten with zeros, then removed, as
kdestroy does). It follows the first card it sees, waits for one if none is
in, and after a removal follows the next card. It watches the card, not the
reader: a card swapped for another, however fast, counts as removed (the
card's CHUID GUID or serial and pcscd's count of insertions and removals
tell it). It waits on pcscd's card events (SCardGetStatusChange) and does
not poll. If the PC/SC daemon cannot be reached, the card counts as
removed.

With --identity PKCS11:… (MIT's syntax, as for kinit) it watches a PKCS #11
token instead: the first slot of the module holding a token that fits
slotid= and token=, named "LABEL (PKCS #11 slot N)" in SCLOGON_READER. The
module is asked at every interval (C_GetSlotList, C_GetTokenInfo); a module
that fails to answer counts as the token removed.

Run it in the user's session, e.g. from the desktop's autostart or a
systemd user unit:
  sclogon watch --on-remove 'loginctl lock-session' --destroy-ccache

flags:
  --lock             lock the session on removal (loginctl lock-session)
  --logout           end the session on removal (loginctl terminate-session
                     $XDG_SESSION_ID)
  --on-remove CMD    command to run on removal
  --destroy-ccache   destroy the ccache on removal
  -c CCACHE          the ccache (default KRB5CCNAME, else /tmp/krb5cc_UID)
  --reader NAME      watch only the reader NAME names: its exact name, else
                     readers whose name contains NAME (as for kinit)
  --identity PKCS11:…  watch this PKCS #11 token instead of the card readers
                     (also -X X509_user_identity=PKCS11:…)
  --once             exit after the first removal
  --interval D       how often to ask a PKCS #11 module (default 250ms); a
                     card reader is not polled

Exit codes: 0 stopped (signal, or --once after a removal), 1 an action
failed with --once or the PKCS #11 module could not be loaded, 2 usage error.

examples:
  sclogon watch --lock --destroy-ccache
  sclogon watch --logout --reader Yubico
  sclogon watch --on-remove 'notify-send "card removed"'
  sclogon watch --destroy-ccache --identity PKCS11:module_name=opensc-pkcs11.so:token=alice
`

func init() {
	register(&command{
		name:    "watch",
		summary: "lock the session and/or destroy the ccache when the card is removed",
		help:    watchHelp,
		run:     runWatch,
	})
}

// watchOptions are the parsed flags of 'sclogon watch'.
type watchOptions struct {
	lock     bool // loginctl lock-session
	logout   bool // loginctl terminate-session
	onRemove string
	destroy  bool
	ccName   string
	reader   string
	once     bool
	interval time.Duration
	tokenID  string
}

func runWatch(ctx context.Context, s stdio, args []string) int {
	o, code, ok := parseWatchArgs(s, args)
	if !ok {
		return code
	}
	var cache ccache.Cache
	if o.destroy {
		var err error
		if cache, err = watchedCache(o.ccName); err != nil {
			fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
			return exitUsage
		}
	}
	presence, done, err := watchPresence(o.tokenID)
	if err != nil {
		return cardFail(s, err)
	}
	defer done()
	failed := false
	w := &pam.Watch{
		Presence: presence,
		Reader:   o.reader,
		Interval: o.interval,
		Once:     o.once,
		Log:      func(format string, a ...any) { fmt.Fprintf(s.errOut, "sclogon watch: "+format+"\n", a...) },
		OnRemove: func(ctx context.Context, r string) error {
			err := onCardRemoved(ctx, s, cache, o, r)
			failed = err != nil
			return err
		},
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	if o.once && failed {
		return exitFail
	}
	return exitOK
}

// parseWatchArgs parses and checks the flags of 'sclogon watch'. When ok
// is false the help or a usage error has been printed and code is the exit
// code.
func parseWatchArgs(s stdio, args []string) (o watchOptions, code int, ok bool) {
	fs := flag.NewFlagSet("sclogon watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.lock, "lock", false, "")
	fs.BoolVar(&o.logout, "logout", false, "")
	fs.StringVar(&o.onRemove, "on-remove", "", "")
	fs.BoolVar(&o.destroy, "destroy-ccache", false, "")
	fs.StringVar(&o.ccName, "c", "", "")
	fs.StringVar(&o.reader, "reader", "", "")
	fs.BoolVar(&o.once, "once", false, "")
	fs.DurationVar(&o.interval, "interval", pam.DefaultWatchInterval, "")
	fs.StringVar(&o.tokenID, "identity", "", "")
	fs.Func("X", "", func(v string) error {
		k, id, _ := strings.Cut(v, "=")
		if k != "X509_user_identity" {
			return fmt.Errorf("-X %s: sclogon watch reads X509_user_identity", k)
		}
		o.tokenID = id
		return nil
	})
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && o.tokenID != "" && !identity.IsPKCS11(o.tokenID) {
		err = fmt.Errorf("--identity %q: sclogon watch follows PKCS11: tokens (a file identity cannot be taken out)", o.tokenID)
	}
	if err == nil && o.tokenID != "" && o.reader != "" {
		err = errors.New("give --reader for a card or --identity for a token, not both")
	}
	if err == nil && o.lock && o.logout {
		err = errors.New("give --lock or --logout, not both")
	}
	if err == nil && o.onRemove == "" && !o.destroy && !o.lock && !o.logout {
		err = errors.New("nothing to do: give --lock, --logout, --on-remove CMD and/or --destroy-ccache")
	}
	if err == nil && o.interval <= 0 {
		err = errors.New("--interval must be positive")
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(s.out, strings.TrimLeft(watchHelp, "\n"))
			return o, exitOK, false
		}
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nusage: sclogon watch [--lock | --logout] [--on-remove CMD] [--destroy-ccache] [-c CCACHE] [--reader NAME | --identity PKCS11:…] [--once]\n", err)
		return o, exitUsage, false
	}
	return o, 0, true
}

// onCardRemoved destroys cache (when not nil), runs the --on-remove
// command (when not empty) for the card taken out of reader r, and locks or
// ends the session. The session goes last: the ccache is gone before the
// screen locks.
func onCardRemoved(ctx context.Context, s stdio, cache ccache.Cache, o watchOptions, r string) error {
	var errs []error
	if cache != nil {
		if err := destroyCache(cache); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(s.errOut, "sclogon watch: destroyed %s\n", cache.Name())
		}
	}
	if o.onRemove != "" {
		if err := runRemoveCommand(ctx, o.onRemove, r, s); err != nil {
			errs = append(errs, err)
		}
	}
	if o.lock || o.logout {
		if err := sessionAction(ctx, s, o.logout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sessionAction locks the session (loginctl lock-session: the caller's
// session, or XDG_SESSION_ID's) or, with logout, ends it (loginctl
// terminate-session XDG_SESSION_ID).
func sessionAction(ctx context.Context, s stdio, logout bool) error {
	verb, flag := "lock-session", "--lock"
	if logout {
		verb, flag = "terminate-session", "--logout"
	}
	args := []string{verb}
	if id := os.Getenv("XDG_SESSION_ID"); id != "" {
		args = append(args, id)
	} else if logout {
		return errors.New("--logout: XDG_SESSION_ID is not set, so the session to end is unknown; run sclogon watch inside the session")
	}
	loginctl, err := exec.LookPath("loginctl")
	if err != nil {
		return fmt.Errorf("%s: loginctl (systemd) not found: %w", flag, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, loginctl, args...)
	cmd.Stdout, cmd.Stderr = s.errOut, s.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: loginctl %s: %w", flag, strings.Join(args, " "), err)
	}
	fmt.Fprintf(s.errOut, "sclogon watch: loginctl %s\n", strings.Join(args, " "))
	return nil
}

// watchPresence is what the watch asks: the PC/SC readers, or the slots of
// the PKCS #11 module that hold the token a PKCS11: identity names.
func watchPresence(spec string) (pam.Presence, func(), error) {
	if spec == "" {
		w, err := pcsc.Provider{}.NewWatcher()
		if err != nil {
			return nil, nil, err
		}
		return w, func() { w.Close() }, nil
	}
	sp, err := identity.ParsePKCS11(spec)
	if err != nil {
		return nil, nil, err
	}
	p, err := pkcs11.NewPresence(sp.Config())
	if err != nil {
		return nil, nil, err
	}
	return p, func() { p.Close() }, nil
}

func runRemoveCommand(ctx context.Context, command, reader string, s stdio) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "SCLOGON_READER="+reader)
	cmd.Stdout, cmd.Stderr = s.errOut, s.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("--on-remove %q: %w", command, err)
	}
	return nil
}

// watchedCache is the cache --destroy-ccache removes: -c, else the default
// cache MIT's tools use (KRB5CCNAME, default_ccache_name, FILE:/tmp/krb5cc_UID).
func watchedCache(name string) (ccache.Cache, error) {
	conf, err := loadKrb5Conf()
	if err != nil {
		return nil, err
	}
	env := ccache.Environment(conf)
	if name == "" {
		if name, err = ccache.DefaultName(env); err != nil {
			return nil, err
		}
	}
	return ccache.Open(name, env)
}

// destroyCache removes a cache; a FILE cache is overwritten first, as MIT's
// kdestroy does.
func destroyCache(c ccache.Cache) error {
	if path, err := ccache.Locate(c.Name(), os.Getuid()); err == nil {
		return pam.DestroyCCache(path)
	}
	return c.Destroy()
}
