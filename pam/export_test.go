package pam

import "github.com/sclogon/sclogon/kinit/ccache"

// CreateSessionCCache is createSessionCCache, for package pam_test.
var CreateSessionCCache = createSessionCCache

// WriteCCache is writeCCache, for package pam_test.
func (l *Logon) WriteCCache(cc *ccache.CCache, a Account) (string, error) {
	return l.writeCCache(cc, a)
}
