package harness

import (
	"strings"
	"testing"
)

// The private slapd is configured as Debian's package configures one: no
// stats logging (which, without /dev/log, costs slapd a socket per line)
// and member indexed; an index a caller asks for again is not repeated,
// which slapadd would refuse.
func TestSlapdConfigAsDebian(t *testing.T) {
	l := &LDAP{Dir: "/d", Suffix: "dc=example,dc=com", BindDN: "cn=admin,dc=example,dc=com", Password: "p",
		cfg: SlapdConfig{Indexes: []string{"member eq", "cn eq"}}}
	conf := l.configLDIF("/schema.ldif")
	for _, want := range []string{"olcLogLevel: none\n", "olcDbIndex: member eq\n", "olcDbIndex: cn eq\n", "olcDbIndex: userPrincipalName eq\n"} {
		if n := strings.Count(conf, want); n != 1 {
			t.Errorf("%q appears %d times in the configuration, want once", strings.TrimSpace(want), n)
		}
	}
}
