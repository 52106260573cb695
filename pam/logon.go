package pam

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/pam/offline"
)

// IdentitySource opens the identity a logon signs with: the card in
// production ([CardSource]), a software identity in tests ([SoftwareSource]).
type IdentitySource interface {
	// Open returns an identity for the user hint names; it asks conv for
	// the PIN when the key is first used (presented once, so a wrong one
	// costs exactly one try). release ends the card session; it is never
	// nil when err is nil.
	Open(ctx context.Context, hint selection.Hint, conv Conversation) (id kinit.Identity, release func(), err error)
}

// SoftwareSource is a FILE: or PKCS12: identity. The secret asked for is
// the PKCS #12 file's password; a FILE: key has none, so nothing checks the
// PIN: use it for tests only.
type SoftwareSource struct {
	Spec string // MIT X509_user_identity syntax
}

// Open reads the identity.
func (s SoftwareSource) Open(_ context.Context, hint selection.Hint, conv Conversation) (kinit.Identity, func(), error) {
	id, err := identity.Parse(s.Spec, identity.Options{Password: func(string) ([]byte, error) {
		return conv.Secret(hint.Principal.String(), -1)
	}})
	if err != nil {
		return nil, nil, err
	}
	return id, func() {}, nil
}

// Logon is one smart-card logon: its configuration and injected dependencies.
type Logon struct {
	Config     *Config
	Identities IdentitySource
	// Keytab is the host keytab; nil reads Config.Keytab.
	Keytab *Keytab
	// Transport carries the KDC exchanges (default: a transport.Client with
	// Config.Timeout).
	Transport kinit.Exchanger
	Now       func() time.Time
	// Trace, if set, receives each step (never the PIN).
	Trace func(format string, args ...any)
	// Offline is the offline logon's store when Config.Offline is set
	// (default: Config.OfflineDir, see offlinelogon.go).
	Offline *offline.Store
	// PerSession writes a new ccache for this logon's session when
	// Config.PerSessionCCache is set (pam_sclogon.so, which hands its
	// name to the session as KRB5CCNAME); otherwise, and always under
	// pam_exec, the account's ccache at Config.CCachePath is written.
	PerSession bool
	// SessionCCache is the KRB5CCNAME of the session that authenticates
	// again (a screen unlock: the locker's environment). When it names
	// this account's own per-session ccache, an existing regular file of
	// the account's, that ccache is refreshed in place, as pam_krb5
	// refreshes a session's credentials, instead of a new one being made
	// beside it at every unlock.
	SessionCCache string
}

// Request is the PAM side of a logon.
type Request struct {
	Account Account // PAM_USER, looked up
	// Conversation reaches the person (the PAM module's conversation);
	// nil uses Authtok (pam_exec's expose_authtok).
	Conversation Conversation
	Authtok      *Authtok
}

func (r Request) conversation() Conversation {
	if r.Conversation != nil {
		return r.Conversation
	}
	return r.Authtok
}

// Result is a completed logon.
type Result struct {
	Principal ccache.Principal
	CCache    string // path of the user's ccache
	EndTime   time.Time
	KDC       string
	Identity  string // the identity's label, e.g. "card slot 9a"
	// Offline: no KDC answered and package pam/offline let the user on;
	// there is no ticket and no ccache (CCache is empty).
	Offline bool
}

func (l *Logon) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Logon) trace(format string, args ...any) {
	if l.Trace != nil {
		l.Trace(format, args...)
	}
}

// Run logs the account on: TGT with the identity, validation against the
// host keytab, then the ccache, owned by the account, mode 0600. Nothing is
// written unless every check passed.
func (l *Logon) Run(ctx context.Context, req Request) (*Result, error) {
	cfg := l.Config
	hint, err := cfg.Hint(req.Account.Name)
	if err != nil {
		return nil, err
	}
	kt := l.Keytab
	if kt == nil {
		// Read before the card is touched: a host that cannot validate
		// must not spend a PIN try.
		if kt, err = ReadKeytab(cfg.Keytab); err != nil {
			return nil, err
		}
	}
	pol, err := kinit.PolicyFromConfig(cfg.Profile, cfg.Realm)
	if err != nil {
		return nil, err
	}
	kdcs := cfg.KDCs
	if len(kdcs) == 0 {
		// With offline logon on, no KDC found is no KDC answering: the
		// exchange below fails with transport.ErrNoKDC.
		if kdcs, err = transport.Locate(ctx, cfg.Profile, cfg.Realm, net.DefaultResolver); err != nil && !cfg.Offline {
			return nil, err
		}
	}
	tr := l.Transport
	if tr == nil {
		tr = &transport.Client{Timeout: cfg.Timeout, Trace: l.Trace}
	}
	id, release, err := l.Identities.Open(ctx, hint, req.conversation())
	if err != nil {
		return nil, err
	}
	defer release()
	l.trace("identity %s for %s", id.Label(), hint.Principal)
	c := &kinit.Client{Transport: tr, Now: l.Now, Trace: l.Trace}
	res, err := c.Run(ctx, kinit.Request{
		Client: hint.Principal, Identity: id, Options: kinit.TicketOptions{Lifetime: cfg.Lifetime},
		Services: []ccache.Principal{cfg.HostPrincipal}, Policy: pol, KDCs: kdcs,
	})
	if err != nil {
		return l.noTicket(ctx, req, hint, id, pol, err)
	}
	defer wipeCredentials(res)
	out, err := l.finish(res, hint, kt, req.Account, id)
	if s := l.offlineStore(); err == nil && s != nil {
		l.recordOnline(ctx, s, req.Account.Name, id, pol, false)
	}
	return out, err
}

// finish checks the KDC's answer (the client it names, the host ticket
// against the keytab) and writes the ccache.
func (l *Logon) finish(res *kinit.Result, hint selection.Hint, kt *Keytab, a Account, id kinit.Identity) (*Result, error) {
	cfg := l.Config
	if err := checkClient(res, hint); err != nil {
		return nil, err
	}
	client := res.Client // the account's own name, for an enterprise hint
	if len(res.Services) != 1 {
		return nil, fmt.Errorf("%w: the KDC issued no ticket for %s", ErrNotValidated, cfg.HostPrincipal)
	}
	if err := Validate(res.Services[0], cfg.HostPrincipal, client, kt, l.now()); err != nil {
		return nil, err
	}
	l.trace("the ticket for %s decrypts with the host keytab", cfg.HostPrincipal)
	// The TGT only: the host ticket served its purpose.
	cc := &ccache.CCache{Principal: res.Client, Credentials: []ccache.Credential{res.TGT}}
	path, err := l.writeCCache(cc, a)
	if err != nil {
		return nil, err
	}
	return &Result{Principal: res.Client, CCache: path, EndTime: res.TGT.EndTime, KDC: res.KDC, Identity: id.Label()}, nil
}

// writeCCache writes the logon's ccache: a new per-session one, or the
// account's at its configured path.
func (l *Logon) writeCCache(cc *ccache.CCache, a Account) (string, error) {
	if l.PerSession && l.Config.PerSessionCCache {
		if path, ok := l.sessionToRefresh(a); ok {
			l.trace("refreshing the session's ccache %s", path)
			return path, writeOwned(path, cc, a)
		}
		return createSessionCCache(l.Config, a, cc)
	}
	path := l.Config.CCachePath(a)
	return path, writeOwned(path, cc, a)
}

// sessionToRefresh is the ccache of the session re-authenticating: the
// account's per-session ccache that SessionCCache names, when it is a
// regular file (not a symlink) the account owns. The ccache is then
// replaced by a rename, which never follows a link put in its place.
func (l *Logon) sessionToRefresh(a Account) (string, bool) {
	path, ok := l.Config.SessionCCache(a, l.SessionCCache)
	if !ok {
		return "", false
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return path, ok && int(st.Uid) == a.UID
}

// writeOwned writes the ccache atomically (0600), already the account's when
// it appears under its name.
func writeOwned(path string, cc *ccache.CCache, a Account) error {
	if err := ccache.WriteFileOwned(path, cc, a.UID, a.GID); err != nil {
		return fmt.Errorf("pam: write the ccache of %s: %w", a.Name, err)
	}
	return nil
}

func wipeCredentials(res *kinit.Result) {
	clear(res.TGT.Key.Value)
	for _, s := range res.Services {
		clear(s.Key.Value)
	}
}

// DestroyCCache overwrites the FILE ccache at path with zeros and removes it,
// as MIT kdestroy does. A missing file is no error.
func DestroyCCache(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pam: destroy ccache: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		_, _ = f.Write(make([]byte, st.Size()))
		_ = f.Sync()
	}
	f.Close()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pam: destroy ccache: %w", err)
	}
	return nil
}
