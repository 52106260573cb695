package pam

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
	if cc.Principal.Realm != realm || !slices.Equal(cc.Principal.Components, []string{a.Name}) {
		return fmt.Errorf("%w: %s holds tickets for %s, not %s@%s", ErrNoSession, path, cc.Principal, a.Name, realm)
	}
	for _, c := range cc.Credentials {
		if c.Server.Realm == realm && slices.Equal(c.Server.Components, []string{"krbtgt", realm}) && now.Before(c.EndTime) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s has no unexpired TGT for %s", ErrNoSession, path, realm)
}
