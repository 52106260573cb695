package kdc_test

import (
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
)

// heimdalClient is Heimdal 7.8's kinit/kgetcred/klist configured for a KDC of
// ours. dhMinBits is its [libdefaults] pkinit_dh_min_bits: 0 keeps Heimdal's
// default, which offers the 1024-bit MODP group 2; 1536 selects group 14.
func heimdalClient(t *testing.T, f *pkiFixture, k *runningKDC, dhMinBits int) *harness.HeimdalClient {
	t.Helper()
	return harness.NewHeimdalClient(t, harness.HeimdalClientConfig{
		Realm:      realm,
		KDCs:       []string{k.addr},
		AnchorsPEM: pki.CertPEM(f.ca.Root()),
		DHMinBits:  dhMinBits,
	})
}

// lastRecord is the audit record of the KDC's latest attempt of typ ("AS"
// or "TGS").
func lastRecord(t *testing.T, k *runningKDC, typ string) kdc.AuditRecord {
	t.Helper()
	recs := auditRecords(t, k)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == typ {
			return recs[i]
		}
	}
	t.Fatalf("no %s record in the audit log", typ)
	return kdc.AuditRecord{}
}

// TestHeimdalKinitGetsTGT: Heimdal's kinit logs alice on at our KDC with DH
// in MODP group 14 (pkinit_dh_min_bits = 1536) and with RSA key transport
// (--pk-use-enckey); heimtools klist lists the TGT; kgetcred gets a service
// ticket with it, asking till = 19700101000000Z ("no limit", RFC 4120 §5.4.1)
// as Heimdal's krb5_get_creds always does.
func TestHeimdalKinitGetsTGT(t *testing.T) {
	harness.HeimdalRoot(t)
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	alice := f.users["alice"]
	for _, tc := range []struct {
		name      string
		dhMinBits int
		extra     []string
		keyExch   string
	}{
		{"dh-2048", 1536, nil, "dh-group14"},
		{"rsa-key-transport", 0, []string{"--pk-use-enckey"}, "rsa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := heimdalClient(t, f, k, tc.dhMinBits)
			out, err := harness.RunErr(c.Kinit(t, alice.certPath, alice.keyPath, "alice@"+realm, tc.extra...))
			if err != nil {
				t.Fatalf("kinit.heimdal: %v\n%s\nour KDC's last AS record: %+v", err, out, lastRecord(t, k, "AS"))
			}
			rec := lastRecord(t, k, "AS")
			if rec.Result != "ok" || rec.KeyExch != tc.keyExch || rec.Account != "alice" {
				t.Errorf("audit record of the logon %+v, want ok by %s for alice", rec, tc.keyExch)
			}
			list := harness.Run(t, c.Command(t, "klist"))
			if !strings.Contains(list, "Principal: alice@"+realm) || !strings.Contains(list, "krbtgt/"+realm+"@"+realm) {
				t.Fatalf("heimtools klist:\n%s", list)
			}
			t.Run("kgetcred", func(t *testing.T) {
				out, err := harness.RunErr(c.Command(t, "kgetcred", "host/ws1.example.com@"+realm))
				if err != nil {
					t.Fatalf("kgetcred: %v\n%s\nour KDC's last TGS record: %+v", err, out, lastRecord(t, k, "TGS"))
				}
				if rec := lastRecord(t, k, "TGS"); rec.Result != "ok" {
					t.Errorf("audit record of the TGS exchange %+v", rec)
				}
				list := harness.Run(t, c.Command(t, "klist"))
				if !strings.Contains(list, "host/ws1.example.com@"+realm) {
					t.Fatalf("heimtools klist after kgetcred:\n%s", list)
				}
			})
		})
	}
}

// TestHeimdalDefaultGroupRefused: Heimdal's kinit offers the 1024-bit MODP
// group 2 by default and never retries another group. Our KDC refuses it with
// KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED, and the e-text it sends, which
// Heimdal prints, names the cause and the setting to change.
func TestHeimdalDefaultGroupRefused(t *testing.T) {
	harness.HeimdalRoot(t)
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	alice := f.users["alice"]
	c := heimdalClient(t, f, k, 0)
	out, err := harness.RunErr(c.Kinit(t, alice.certPath, alice.keyPath, "alice@"+realm))
	if err == nil {
		t.Fatalf("kinit.heimdal with MODP group 2 got a TGT:\n%s", out)
	}
	t.Logf("kinit.heimdal says: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "pkinit_dh_min_bits") {
		t.Errorf("kinit.heimdal's output does not say what to change (pkinit_dh_min_bits):\n%s", out)
	}
	rec := lastRecord(t, k, "AS")
	if krberror.Code(rec.Code) != krberror.DHKeyParametersNotAccepted {
		t.Errorf("audit record %+v, want code %d (KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED)", rec, krberror.DHKeyParametersNotAccepted)
	}
}
