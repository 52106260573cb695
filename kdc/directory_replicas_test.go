package kdc_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping/ldap"
)

// TestDirectoryReplicas: a KDC given two LDAP URLs (one url key with both,
// or the key twice) asks the first, and goes on with the second when the
// first dies: logons do not fail.
func TestDirectoryReplicas(t *testing.T) {
	f := getFixture(t)
	ldif := fmt.Sprintf(`dn: cn=kdc,dc=example,dc=com
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: kdc
userPassword: kdc-secret

dn: cn=alice,dc=example,dc=com
objectClass: user
cn: alice
sn: alice
sAMAccountName: alice
userPrincipalName: alice@example.com
objectSid:: %s
userAccountControl: 512
primaryGroupID: 513
`, base64.StdEncoding.EncodeToString(domainSID(1104).Marshal()))
	// The same entries in both, as replication would have them.
	l1 := harness.StartSlapd(t, harness.SlapdConfig{LDIF: ldif})
	l2 := harness.StartSlapd(t, harness.SlapdConfig{LDIF: ldif})
	dir := configDir(t, f)
	if err := os.WriteFile(filepath.Join(dir, "ldap.secret"), []byte("kdc-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	head := "[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ntauth = issuing.pem\n ocsp = off\n" +
		"[mapping]\n sid_trusted_ca = issuing.pem\n" +
		"[directory]\n base_dn = dc=example,dc=com\n bind_dn = cn=kdc,dc=example,dc=com\n password_file = ldap.secret\n timeout = 5s\n"
	want := []string{l1.URL, l2.URL}
	var fc *kdc.FileConfig
	for _, urls := range []string{
		fmt.Sprintf(" url = %s %s\n", l1.URL, l2.URL),
		fmt.Sprintf(" url = %s\n url = %s\n", l1.URL, l2.URL),
	} {
		path := filepath.Join(dir, "kdc.conf")
		if err := os.WriteFile(path, []byte(head+urls), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if fc, err = kdc.LoadConfig(path); err != nil {
			t.Fatal(err)
		}
		d, ok := fc.Directory.(*ldap.Directory)
		if !ok {
			t.Fatalf("%q: directory %T, want *ldap.Directory", urls, fc.Directory)
		}
		var got []string
		for _, s := range d.Servers() {
			got = append(got, s.URL)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: servers %v, want %v", urls, got, want)
		}
	}

	k := startKDC(t, fc.Config, kdc.Options{})
	logon := func(when string) {
		t.Helper()
		asRequest{user: f.users["alice"]}.build(t).asOK(t, k.addr)
		if rec := lastAS(t, k); rec.Account != "alice" {
			t.Fatalf("%s: audit record %+v", when, rec)
		}
	}
	logon("both up")
	l1.Kill()
	logon("first server dead")
	logon("first server dead, again")
	if st := fc.Directory.(*ldap.Directory).Servers(); st[0].Failures == 0 || st[1].Failures != 0 {
		t.Fatalf("servers %+v: want the first failing, the second not", st)
	}
}
