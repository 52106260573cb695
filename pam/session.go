package pam

import (
	"crypto/rand"
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
// overwriting it first, and returns its path. Only the account's ccache of
// a card logon is touched: krb5ccname must name, as FILE:path, the
// session's own ccache of the account (see [Config.SessionCCache]) and
// the file must be a regular file the account owns, not a symlink; any
// other value is not this module's, and path is "". With
// retain_after_close set nothing is destroyed.
func EndSession(cfg *Config, a Account, krb5ccname string) (path string, err error) {
	path, ok := cfg.SessionCCache(a, krb5ccname)
	if cfg.RetainAfterClose || !ok {
		return "", nil
	}
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pam: close_session: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok || int(sys.Uid) != a.UID {
		return "", fmt.Errorf("%w: %s is not a regular file owned by uid %d; left alone", ErrNoSession, path, a.UID)
	}
	if err := DestroyCCache(path); err != nil {
		return "", err
	}
	return path, nil
}

// sessionSuffix is the length of a per-session ccache's unique suffix.
const sessionSuffix = 6

const sessionAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// SessionCCache reads krb5ccname, a session's KRB5CCNAME, as the path of
// the account's ccache that this module gave the session. With a ccache
// configured that is the configured one; without
// ([Config.PerSessionCCache]) it is a per-session ccache of the account:
// the account's default path, "_" and six letters or digits
// (/tmp/krb5cc_1000_Xy3abc). ok is false for any other name.
func (c *Config) SessionCCache(a Account, krb5ccname string) (path string, ok bool) {
	path, ok = strings.CutPrefix(krb5ccname, "FILE:")
	if !ok {
		return "", false
	}
	if !c.PerSessionCCache {
		if path != c.CCachePath(a) {
			return "", false
		}
		return path, true
	}
	suffix, ok := strings.CutPrefix(path, c.CCachePath(a)+"_")
	if !ok || len(suffix) != sessionSuffix || strings.Trim(suffix, sessionAlphabet) != "" {
		return "", false
	}
	return path, true
}

// createSessionCCache writes cc to a new per-session ccache of the account
// (see [Config.SessionCCache]): a name that did not exist (O_EXCL, never
// through a symlink), mode 0600, handed to the account before the
// tickets are written into it.
func createSessionCCache(c *Config, a Account, cc *ccache.CCache) (string, error) {
	data, err := cc.Marshal()
	if err != nil {
		return "", err
	}
	defer clear(data)
	for range 100 {
		b := make([]byte, sessionSuffix)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("pam: per-session ccache name: %w", err)
		}
		for i := range b {
			b[i] = sessionAlphabet[int(b[i])%len(sessionAlphabet)]
		}
		path := c.CCachePath(a) + "_" + string(b)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("pam: write the ccache of %s: %w", a.Name, err)
		}
		if err := fillOwned(f, data, a); err != nil {
			os.Remove(path)
			return "", fmt.Errorf("pam: write the ccache of %s: %w", a.Name, err)
		}
		return path, nil
	}
	return "", fmt.Errorf("pam: write the ccache of %s: no unused name beside %s", a.Name, c.CCachePath(a))
}

// fillOwned hands f to the account (mode 0600), writes data, syncs and
// closes it.
func fillOwned(f *os.File, data []byte, a Account) error {
	err := f.Chown(a.UID, a.GID)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
