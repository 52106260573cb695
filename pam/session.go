package pam

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/kinit/ccache"
)

// ErrNoSession: the account has no usable ccache from a card logon.
var ErrNoSession = errors.New("pam: no valid ccache for the session")

// CheckCCache is the open_session check: the ccache at path is a regular
// file owned by the account, mode 0600, whose default principal is the
// account's in realm and whose TGT has not expired at now.
func CheckCCache(path string, a Account, realm string, now time.Time) error {
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok {
		return fmt.Errorf("%w: %s is not a regular file", ErrNoSession, path)
	}
	if int(sys.Uid) != a.UID || st.Mode().Perm() != 0o600 {
		return fmt.Errorf("%w: %s is owned by uid %d with mode %04o; want uid %d, 0600", ErrNoSession, path, sys.Uid, st.Mode().Perm(), a.UID)
	}
	cc, err := ccache.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	// A plain account name is the principal's; a DOMAIN\user or
	// user@suffix name went to the KDC as a hint and came back as the
	// account's own name, so only the realm and the file's owner bind it.
	plain := !strings.ContainsAny(a.Name, `\@`)
	if cc.Principal.Realm != realm || plain && !slices.Equal(cc.Principal.Components, []string{a.Name}) {
		return fmt.Errorf("%w: %s holds tickets for %s, not %s@%s", ErrNoSession, path, cc.Principal, a.Name, realm)
	}
	for _, c := range cc.Credentials {
		if c.Server.Realm == realm && slices.Equal(c.Server.Components, []string{"krbtgt", realm}) && now.Before(c.EndTime) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s has no unexpired TGT for %s", ErrNoSession, path, realm)
}

// EndSession is the close_session stage: as pam_krb5 does, it destroys the
// ccache the session was given (krb5ccname, the session's KRB5CCNAME),
// overwriting it first. Only the account's ccache of a card logon is
// touched: krb5ccname must name the configured ccache of the account
// (FILE:path) and the file must be a regular file the account owns; any
// other value is not this module's, and destroyed is false. With
// retain_after_close set nothing is destroyed.
func EndSession(cfg *Config, a Account, krb5ccname string) (destroyed bool, err error) {
	path := cfg.CCachePath(a)
	if cfg.RetainAfterClose || krb5ccname != "FILE:"+path {
		return false, nil
	}
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pam: close_session: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok || int(sys.Uid) != a.UID {
		return false, fmt.Errorf("%w: %s is not a regular file owned by uid %d; left alone", ErrNoSession, path, a.UID)
	}
	if err := DestroyCCache(path); err != nil {
		return false, err
	}
	return true, nil
}
