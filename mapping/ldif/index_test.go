package ldif

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/mapping"
)

// scanUsers is what the Find methods mean, read off every entry in turn:
// the user entries with a value of attr that match.
func scanUsers(entries []mapping.Entry, attr string, match func([]byte) bool) []mapping.Entry {
	var out []mapping.Entry
	for _, e := range entries {
		if !hasClass(e, "user") {
			continue
		}
		if slices.ContainsFunc(e.Get(attr), match) {
			out = append(out, e)
		}
	}
	return out
}

// scanGroups is what GroupsOf means: the group entries with a member that
// parses as a DN equal to dn, case ignored.
func scanGroups(entries []mapping.Entry, dn string) ([]mapping.Entry, bool) {
	target, err := goldap.ParseDN(dn)
	if err != nil {
		return nil, false
	}
	var out []mapping.Entry
	for _, e := range entries {
		if !hasClass(e, "group") {
			continue
		}
		if slices.ContainsFunc(e.Get(mapping.AttrMember), func(v []byte) bool {
			m, err := goldap.ParseDN(string(v))
			return err == nil && m.EqualFold(target)
		}) {
			out = append(out, e)
		}
	}
	return out, true
}

func folded(want string) func([]byte) bool {
	return func(v []byte) bool { return mapping.FoldValue(string(v)) == mapping.FoldValue(want) }
}

func sameDNs(a, b []mapping.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y mapping.Entry) bool { return x.DN == y.DN })
}

// checkAgainstScan asks d every lookup with each of queries, and each
// value and DN its entries hold, and compares the answers with a scan.
func checkAgainstScan(t *testing.T, d *Directory, queries []string) {
	t.Helper()
	ctx := context.Background()
	qs := slices.Clone(queries)
	for _, e := range d.Entries() {
		qs = append(qs, e.DN)
		for _, vs := range e.Attrs {
			for _, v := range vs {
				qs = append(qs, string(v))
			}
		}
	}
	for _, q := range qs {
		for attr, find := range map[string]func(context.Context, string) ([]mapping.Entry, error){
			mapping.AttrUPN: d.FindByUPN, mapping.AttrSAMAccountName: d.FindBySAMAccountName,
		} {
			if got, err := find(ctx, q); err != nil || !sameDNs(got, scanUsers(d.Entries(), attr, folded(q))) {
				t.Errorf("by %s %q: %v, %v; a scan finds %v", attr, q, got, err, scanUsers(d.Entries(), attr, folded(q)))
			}
		}
		values := []string{q, strings.ToUpper(q), "  " + q}
		got, err := d.FindByAltSecID(ctx, values)
		want := scanUsers(d.Entries(), mapping.AttrAltSecurityIDs, func(v []byte) bool {
			return slices.ContainsFunc(values, func(q string) bool { return folded(q)(v) })
		})
		if err != nil || !sameDNs(got, want) {
			t.Errorf("by altSecurityIdentities %q: %v, %v; a scan finds %v", values, got, err, want)
		}
		if sid, err := certs.UnmarshalSID([]byte(q)); err == nil {
			got, err := d.FindBySID(ctx, sid)
			want := scanUsers(d.Entries(), mapping.AttrObjectSID, func(v []byte) bool { return bytes.Equal(v, sid.Marshal()) })
			if err != nil || !sameDNs(got, want) {
				t.Errorf("by objectSid %s: %v, %v; a scan finds %v", sid, got, err, want)
			}
		}
		want, ok := scanGroups(d.Entries(), q)
		if got, err := d.GroupsOf(ctx, q); (err == nil) != ok || !sameDNs(got, want) {
			t.Errorf("groups of %q: %v, %v; a scan finds %v", q, got, err, want)
		}
	}
}

// TestIndexAgreesWithScan: the indexes find what a scan of every entry
// finds, in the same order, under each matching rule: values folded
// (case, outer and repeated spaces, non-ASCII), SIDs as octets, member DNs
// parsed (escapes, spaces, attribute order in an RDN, case).
func TestIndexAgreesWithScan(t *testing.T) {
	sid := func(rid uint32) string {
		s, err := certs.NewSID(5, 21, 1, 2, 3, rid)
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Marshal())
	}
	user := func(dn string, attrs ...string) mapping.Entry {
		e := mapping.Entry{DN: dn, Attrs: map[string][][]byte{"objectclass": {[]byte("top"), []byte(" User ")}}}
		for i := 0; i < len(attrs); i += 2 {
			k := strings.ToLower(attrs[i])
			e.Attrs[k] = append(e.Attrs[k], []byte(attrs[i+1]))
		}
		return e
	}
	group := func(dn string, members ...string) mapping.Entry {
		e := mapping.Entry{DN: dn, Attrs: map[string][][]byte{"objectclass": {[]byte("group")}}}
		for _, m := range members {
			e.Attrs["member"] = append(e.Attrs["member"], []byte(m))
		}
		return e
	}
	entries := []mapping.Entry{
		user("CN=Alice,DC=Example,DC=com", "userPrincipalName", "Alice@Example.COM", "sAMAccountName", "alice",
			"objectSid", sid(1), "altSecurityIdentities", "X509:<I>DC=com,CN=CA<SR>0102", "altSecurityIdentities", "x509:<i>dc=com,cn=ca<sr>0102"),
		user("cn=bob  smith,dc=example,dc=com", "userPrincipalName", "  bob  smith@example.com ", "sAMAccountName", "BOB",
			"objectSid", sid(2), "altSecurityIdentities", "X509:<SKI>0A0B"),
		user("cn=Zoë,dc=example,dc=com", "userPrincipalName", "ZOË@example.com", "sAMAccountName", "\u212aate", "objectSid", sid(1)),
		user("cn=dup,dc=example,dc=com", "userPrincipalName", "alice@example.com", "sAMAccountName", "kate"),
		{DN: "cn=contact,dc=example,dc=com", Attrs: map[string][][]byte{"objectclass": {[]byte("contact")}, "userprincipalname": {[]byte("alice@example.com")}}},
		group("cn=staff,dc=example,dc=com", "CN=alice, DC=example, DC=COM", "cn=bob  smith,dc=example,dc=com", "not a dn"),
		group("cn=multi,dc=example,dc=com", "cn=a+sn=b,dc=example,dc=com", "cn=a\\,b,dc=example,dc=com", "cn=\u212a,dc=x"),
		group("cn=nested,dc=example,dc=com", "cn=staff,dc=example,dc=com", "cn=staff,dc=example,dc=com"),
		{DN: "cn=both,dc=example,dc=com", Attrs: map[string][][]byte{"objectclass": {[]byte("user"), []byte("group")},
			"samaccountname": {[]byte("both")}, "member": {[]byte("cn=alice,dc=example,dc=com")}}},
	}
	d := New(entries)
	checkAgainstScan(t, d, []string{"ALICE@example.com", "alice", "Kate", "k", "K", "\u212a",
		"sn=b+cn=a,dc=example,dc=com", "CN=A\\2Cb,DC=example,DC=com", "cn=K,dc=x", "cn=k,dc=x",
		"cn=alice,dc=example,dc=com", "cn=nobody,dc=example,dc=com", "not a dn", "", " "})
	if got, _ := d.GroupsOf(context.Background(), "cn=alice,dc=example,dc=com"); len(got) != 2 {
		t.Errorf("alice is in %v, want staff and both", got)
	}
}
