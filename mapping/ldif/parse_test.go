package ldif

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/mapping"
)

func TestParse(t *testing.T) {
	in := "version: 1\r\n" +
		"# a comment\n" +
		"#  that continues\n" +
		"dn: cn=alice,dc=example,dc=com\n" +
		"objectClass: user\n" +
		"userPrincipalName: alice@exa\n" +
		" mple.com\n" +
		"objectSid:: AQUAAAAAAAUVAAAA\n" +
		"description:   leading spaces go\n" +
		"\n\n" +
		"dn:: Y249Ym9iLGRjPWV4YW1wbGUsZGM9Y29t\n" +
		"objectSid;binary:: AQI=\n"
	entries, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries", len(entries))
	}
	a := entries[0]
	if a.DN != "cn=alice,dc=example,dc=com" || string(a.Get("userprincipalname")[0]) != "alice@example.com" ||
		len(a.Get("objectSid")[0]) != 12 || string(a.Get("description")[0]) != "leading spaces go" {
		t.Fatalf("entry = %+v", a)
	}
	if entries[1].DN != "cn=bob,dc=example,dc=com" || string(entries[1].Get("objectsid")[0]) != "\x01\x02" {
		t.Fatalf("entry = %+v", entries[1])
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"objectClass: user\n",                          // no dn
		"dn: cn=a,dc=x\nno colon here\n",               // no colon
		"dn: cn=a,dc=x\nphoto:< file:///etc/passwd\n",  // URL value
		"dn: cn=a,dc=x\nchangetype: add\n",             // change record
		"dn: cn=a,dc=x\nobjectSid:: !!!\n",             // bad base64
		" continuation first\n",                        // nothing to continue
		"dn: cn=a,dc=x\n\ndn: CN=A,dc=x\n",             // duplicate dn
		"dn: not a dn\n",                               // bad dn
		"dn: cn=a,dc=x\ndn: cn=b,dc=x\n",               // two dns
		"dn: cn=a,dc=x\nbad attr: v\n",                 // bad attribute
		"version: 2\ndn: cn=a,dc=x\n",                  // version
		"dn: cn=a,dc=x\n" + strings.Repeat("a", 2<<20), // line too long
	} {
		if _, err := Parse(strings.NewReader(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%.40q: err = %v, want ErrSyntax", in, err)
		}
	}
}

func TestContextCancelled(t *testing.T) {
	d := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.FindByUPN(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("version: 1\ndn: cn=a,dc=x\nobjectClass: user\nobjectSid:: AQI=\n a\n\n# c\ndn: cn=b,dc=x\n")
	f.Add("dn:: Y249Ym9i\n")
	f.Add("dn: cn=g,dc=x\nobjectClass: group\nmember: CN=A+sn=b, DC=X\n\ndn: cn=a,dc=x\nobjectClass: user\nuserPrincipalName:  A  b@x\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		d := New(entries)
		checkAgainstScan(t, d, nil)
		ctx := context.Background()
		for _, e := range entries {
			if e.DN == "" {
				t.Fatal("entry without dn")
			}
			if _, err := d.GroupsOf(ctx, e.DN); err != nil {
				t.Fatalf("GroupsOf(%q): %v", e.DN, err)
			}
			_, _ = mapping.DecodeAccount(e)
		}
	})
}
