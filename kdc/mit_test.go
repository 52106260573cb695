package kdc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
)

// mitClient is MIT's kinit/klist/kvno configured for a KDC of ours.
func mitClient(t *testing.T, f *pkiFixture, k *runningKDC, realmLines ...string) *harness.MITClient {
	t.Helper()
	return harness.NewMITClient(t, harness.MITClientConfig{
		Realm:      realm,
		KDCs:       []string{k.addr},
		AnchorsPEM: pki.CertPEM(f.ca.Root()),
		// MIT verifies its own chain before it signs: the issuing CA.
		RealmLines: append([]string{"pkinit_pool = FILE:" + f.ca.IssuerPath()}, realmLines...),
	})
}

// auditRecords parses the KDC's audit log.
func auditRecords(t *testing.T, k *runningKDC) []kdc.AuditRecord {
	t.Helper()
	var out []kdc.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(k.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var r kdc.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestMITKinitGetsTGT: MIT's kinit, the real peer, logs alice on at our KDC
// with DH (2048 and 4096) and with RSA key transport; klist lists the TGT;
// kvno gets a service ticket for host/ws1 with it, and decrypts that ticket
// with the keytab our KDC exports.
func TestMITKinitGetsTGT(t *testing.T) {
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	keytab := filepath.Join(t.TempDir(), "host.keytab")
	kt, err := k.Keys().Keytab("host/ws1.example.com@" + realm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keytab, kt, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		user    string
		extra   []string
		realm   []string
		keyExch string
	}{
		{"dh-2048", "alice", nil, nil, "dh-group14"},
		{"dh-4096", "alice", nil, []string{"pkinit_dh_min_bits = 4096"}, "dh-group16"},
		{"rsa-key-transport", "alice", []string{"-X", "flag_RSA_PROTOCOL=yes"}, nil, "rsa"},
		// MIT signs with an ECDSA key but labels it sha256WithRSAEncryption.
		{"ecdsa-client-key", "erin", nil, nil, "dh-group14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := f.users[tc.user]
			c := mitClient(t, f, k, tc.realm...)
			args := append([]string{"-X", "X509_user_identity=FILE:" + u.certPath + "," + u.keyPath}, tc.extra...)
			args = append(args, tc.user+"@"+realm)
			out, err := harness.RunErr(c.Command(t, "kinit", args...))
			if err != nil {
				t.Fatalf("kinit: %v\n%s", err, out)
			}
			list := harness.Run(t, c.Command(t, "klist"))
			if !strings.Contains(list, "Default principal: "+tc.user+"@"+realm) || !strings.Contains(list, "krbtgt/"+realm+"@"+realm) {
				t.Fatalf("klist:\n%s", list)
			}
			harness.Run(t, c.Command(t, "kvno", "-k", keytab, "host/ws1.example.com@"+realm))
			var as *kdc.AuditRecord
			recs := auditRecords(t, k)
			for i := len(recs) - 1; i >= 0; i-- {
				if recs[i].Type == "AS" && recs[i].Result == "ok" {
					as = &recs[i]
					break
				}
			}
			if as == nil || as.KeyExch != tc.keyExch || as.Account != tc.user || as.Mapping != "sid-extension" {
				t.Fatalf("audit record of the logon: %+v", as)
			}
		})
	}
}

// TestMITKvnoUnknownService: MIT's kvno for a service the KDC does not know
// reports that service, since every KRB-ERROR names the server asked for
// (RFC 4120 §5.9.1); it used to say "Server krbtgt/EXAMPLE.COM@EXAMPLE.COM
// not found".
func TestMITKvnoUnknownService(t *testing.T) {
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	u := f.users["alice"]
	c := mitClient(t, f, k)
	if out, err := harness.RunErr(c.Command(t, "kinit", "-X", "X509_user_identity=FILE:"+u.certPath+","+u.keyPath, "alice@"+realm)); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	out, err := harness.RunErr(c.Command(t, "kvno", "HTTP/unknown.example.com"))
	if err == nil {
		t.Fatalf("kvno succeeded:\n%s", out)
	}
	if !strings.Contains(out, "HTTP/unknown.example.com@"+realm+" not found") || strings.Contains(out, "krbtgt/") {
		t.Fatalf("kvno says %q, want it to name HTTP/unknown.example.com", strings.TrimSpace(out))
	}
}
