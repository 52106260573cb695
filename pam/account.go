package pam

import (
	"fmt"
	"os/user"
	"strconv"
)

// Account is the local Unix account the ccache is handed to.
type Account struct {
	Name     string
	UID, GID int
}

// LookupAccount finds the local account name (NSS: passwd, LDAP, sssd…).
func LookupAccount(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, fmt.Errorf("pam: no local account %q: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Account{}, fmt.Errorf("pam: account %q has uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return Account{}, fmt.Errorf("pam: account %q has gid %q", name, u.Gid)
	}
	return Account{Name: u.Username, UID: uid, GID: gid}, nil
}
