package ldap_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/mapping/ldap"
)

// TestWrite: Add makes an entry and refuses a second one of the same DN;
// Modify that deletes the values read and adds new ones succeeds once, and
// the same Modify again conflicts; Children lists an entry's children with
// binary values intact, and a missing base is ErrNoSuchEntry.
func TestWrite(t *testing.T) {
	l := harness.StartSlapd(t, harness.SlapdConfig{})
	dir, err := ldap.New(ldap.Config{URL: l.URL, BindDN: l.BindDN, Password: l.Password, BaseDN: l.Suffix})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()
	ou := "ou=Kerberos," + l.Suffix
	if got := dir.BaseDN(); got != l.Suffix {
		t.Fatalf("BaseDN %q", got)
	}
	if _, err := dir.Children(ctx, ou, ldap.Present("objectClass"), nil); !errors.Is(err, ldap.ErrNoSuchEntry) {
		t.Fatalf("children of a missing entry: %v", err)
	}
	container := []ldap.Attribute{
		{Name: "objectClass", Values: [][]byte{[]byte("organizationalUnit")}},
		{Name: "ou", Values: [][]byte{[]byte("Kerberos")}},
	}
	if err := dir.Add(ctx, ou, container); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(ctx, ou, container); !errors.Is(err, ldap.ErrEntryExists) {
		t.Fatalf("adding an entry twice: %v", err)
	}
	v1 := []byte{0x00, 0xff, 0x80, 'a', 0x00}
	v2 := []byte{0x01, 0xfe, 0x00}
	dn := `sclogonPrincipalName=krbtgt/EXAMPLE.COM@EXAMPLE.COM,` + ou
	entry := []ldap.Attribute{
		{Name: "objectClass", Values: [][]byte{[]byte("sclogonKerberosPrincipal")}},
		{Name: "sclogonPrincipalName", Values: [][]byte{[]byte("krbtgt/EXAMPLE.COM@EXAMPLE.COM")}},
		{Name: "sclogonPrincipalKey", Values: [][]byte{v1}},
	}
	if err := dir.Add(ctx, dn, entry); err != nil {
		t.Fatal(err)
	}
	swap := []ldap.Change{
		{Op: ldap.DeleteValues, Attribute: ldap.Attribute{Name: "sclogonPrincipalKey", Values: [][]byte{v1}}},
		{Op: ldap.AddValues, Attribute: ldap.Attribute{Name: "sclogonPrincipalKey", Values: [][]byte{v2}}},
	}
	if err := dir.Modify(ctx, dn, swap); err != nil {
		t.Fatal(err)
	}
	if err := dir.Modify(ctx, dn, swap); !errors.Is(err, ldap.ErrValueConflict) {
		t.Fatalf("the same swap twice: %v", err)
	}
	if err := dir.Modify(ctx, "cn=nobody,"+ou, swap); !errors.Is(err, ldap.ErrNoSuchEntry) {
		t.Fatalf("modifying a missing entry: %v", err)
	}
	es, err := dir.Children(ctx, ou, ldap.Equal("objectClass", "sclogonKerberosPrincipal"), []string{"sclogonPrincipalKey"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || !slices.EqualFunc(es[0].Get("sclogonPrincipalKey"), [][]byte{v2}, slices.Equal) {
		t.Fatalf("children: %+v", es)
	}
	replace := []ldap.Change{{Op: ldap.ReplaceValues, Attribute: ldap.Attribute{Name: "sclogonPrincipalKey", Values: [][]byte{v1, v2}}}}
	if err := dir.Modify(ctx, dn, replace); err != nil {
		t.Fatal(err)
	}
	if es, err := dir.Children(ctx, ou, ldap.Present("objectClass"), []string{"sclogonPrincipalKey"}); err != nil || len(es) != 1 || len(es[0].Get("sclogonPrincipalKey")) != 2 {
		t.Fatalf("after replace: %+v %v", es, err)
	}
}
