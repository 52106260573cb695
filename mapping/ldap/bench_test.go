package ldap_test

import (
	"context"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

// BenchmarkSearch is the KDC's two searches of a logon (the account by
// UPN, then its groups) against the harness's slapd, one at a time: through
// this package, and through go-ldap (which it used before internal/ldapwire)
// with the same requests. The time includes slapd's; the allocations are
// the client's alone.
//
//	go test -run '^$' -bench '^BenchmarkSearch$' -benchmem -cpu 1 ./mapping/ldap
func BenchmarkSearch(b *testing.B) {
	f := mappingtest.NewFixture(b)
	l, dir := startDirectory(b, f, 5*time.Second)
	ctx := context.Background()
	b.Run("ldapwire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			es, err := dir.FindByUPN(ctx, "alice@example.com")
			if err != nil || len(es) != 1 {
				b.Fatal(len(es), err)
			}
			if _, err := dir.GroupsOf(ctx, es[0].DN); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-ldap", func(b *testing.B) {
		c, err := goldap.DialURL(l.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(l.BindDN, l.Password); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.Search(goldap.NewSearchRequest(l.Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 100, 6, false,
				"(&(objectClass=user)(userPrincipalName="+goldap.EscapeFilter("alice@example.com")+"))", mapping.AccountAttributes, nil))
			if err != nil || len(res.Entries) != 1 {
				b.Fatal(err)
			}
			if _, err := c.SearchWithPaging(goldap.NewSearchRequest(l.Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 6, false,
				"(&(objectClass=group)(member="+goldap.EscapeFilter(res.Entries[0].DN)+"))",
				[]string{mapping.AttrObjectSID, mapping.AttrSAMAccountName}, nil), 500); err != nil {
				b.Fatal(err)
			}
		}
	})
}
