package kdc_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
)

const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestMITKinitThroughOpenSC: MIT kinit logs alice on at our KDC with her key
// on the software PIV card, under the real pcscd, through OpenSC's PKCS#11
// module; klist lists the TGT and kvno gets a service ticket from our KDC.
func TestMITKinitThroughOpenSC(t *testing.T) {
	harness.Require(t, "kinit", "krb5-user")
	if _, err := os.Stat(openscModule); err != nil {
		harness.Missing(t, "kdc: "+openscModule+" is missing: install the Debian package opensc-pkcs11")
	}
	f := getFixture(t)
	alice := f.users["alice"]
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(vcard.SlotAuthentication, alice.key, vcard.PINPolicyDefault); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(vcard.SlotAuthentication, alice.cert.Raw); err != nil {
		t.Fatal(err)
	}
	p := harness.StartPCSCD(t)
	seen := p.CardEvents()
	card := vcard.New(st, vcard.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = card.ServeVPCD(ctx, p.CardAddrs[0], nil) }()
	t.Cleanup(func() { cancel(); <-done })
	p.WaitForCard(t, seen, 10*time.Second)

	k := startKDC(t, f.config(t), kdc.Options{})
	keytab := filepath.Join(t.TempDir(), "host.keytab")
	kt, err := k.Keys().Keytab("host/ws1.example.com@" + realm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keytab, kt, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mitClient(t, f, k)
	kinit := c.Command(t, "kinit", "-X", "X509_user_identity=PKCS11:module_name="+openscModule, "alice@"+realm)
	kinit.Env = append(kinit.Env, "OPENSC_CONF="+conf)
	kinit.Stdin = strings.NewReader(vcard.DefaultPIN + "\n")
	out := harness.Run(t, kinit)
	list := harness.Run(t, c.Command(t, "klist"))
	if !strings.Contains(list, "krbtgt/"+realm+"@"+realm) || !strings.Contains(list, "alice@"+realm) {
		t.Fatalf("no TGT for alice after kinit (%s):\n%s", out, list)
	}
	harness.Run(t, c.Command(t, "kvno", "-k", keytab, "host/ws1.example.com@"+realm))
	if card.APDUs() == 0 {
		t.Error("the card saw no APDU")
	}
	if rec := lastAS(t, k); rec.Result != "ok" || rec.Account != "alice" || rec.SHA256 == "" {
		t.Errorf("audit record %+v", rec)
	}
}
