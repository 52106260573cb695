//go:build cgo

package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// openSCModule is OpenSC's PKCS #11 module on Debian (amd64).
const openSCModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestKinitOpenSCPKCS11 is issue 18's OpenSC acceptance: alice's RSA-2048
// key on the software PIV card under pcscd logs on at our KDC both through
// sclogon's own PIV client (--reader) and through OpenSC's PKCS #11 module
// (-X X509_user_identity=PKCS11:module_name=opensc-pkcs11.so), each cold
// (no cache) and warm (sclogon's certificate cache, OpenSC's file cache
// filled by the logon before), and the card's APDU counts of the four
// logons are logged side by side. `make bench` puts the same four in
// BENCHMARKS.md.
func TestKinitOpenSCPKCS11(t *testing.T) {
	if _, err := os.Stat(openSCModule); err != nil {
		harness.Missing(t, "opensc: "+openSCModule+" is missing: install the Debian package opensc-pkcs11 (integration/setup does it)")
	}
	p := harness.StartPCSCD(t) // first: the KDC's ports must not take vpcd's
	e := startSIDKDC(t)
	key, cert := issueKey(t, e.ca, pki.RSA2048, pki.User{UPN: "alice@EXAMPLE.COM", SID: e.sid})
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(vcard.SlotAuthentication, key, vcard.PINPolicyDefault); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(vcard.SlotAuthentication, cert.Raw); err != nil {
		t.Fatal(err)
	}
	seen := p.CardEvents()
	card := vcard.New(st, vcard.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = card.ServeVPCD(ctx, p.CardAddrs[0], nil) }()
	t.Cleanup(func() { cancel(); <-done })
	p.WaitForCard(t, seen, 10*time.Second)

	logon := func(name string, args ...string) uint64 {
		t.Helper()
		cc := filepath.Join(t.TempDir(), "cc")
		before := card.APDUs()
		code, stdout, stderr := runKinitCmd(t, vcard.DefaultPIN+"\n", append([]string{"--pin-stdin", "--json", "-c", "FILE:" + cc}, append(args, "alice")...)...)
		n := card.APDUs() - before
		if code != exitOK {
			t.Fatalf("%s: exit %d:\n%s", name, code, stderr)
		}
		if strings.Contains(stdout+stderr, vcard.DefaultPIN) {
			t.Fatalf("%s: the PIN leaked into the output", name)
		}
		var got kinitJSON
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Client != "alice@EXAMPLE.COM" || !strings.HasPrefix(got.KeyExchange, "DH-2048") {
			t.Fatalf("%s: %v: %+v", name, err, got)
		}
		if out := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc)); !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
			t.Fatalf("%s: klist:\n%s", name, out)
		}
		return n
	}

	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	direct := []uint64{logon("direct PIV, cold", "--reader", p.Readers[0])}
	direct = append(direct, logon("direct PIV, warm", "--reader", p.Readers[0]))

	t.Setenv("OPENSC_CONF", openSCConf(t, t.TempDir()))
	spec := "X509_user_identity=PKCS11:module_name=" + openSCModule
	viaOpenSC := []uint64{logon("OpenSC PKCS #11, cold", "-X", spec)}
	viaOpenSC = append(viaOpenSC, logon("OpenSC PKCS #11, warm", "-X", spec))

	t.Logf("APDUs per sclogon kinit (RSA-2048, DH-2048): direct PIV cold %d, warm %d; through OpenSC's PKCS #11 module cold %d, warm %d",
		direct[0], direct[1], viaOpenSC[0], viaOpenSC[1])
	if viaOpenSC[1] == 0 {
		t.Error("the card saw no APDU of the logon through OpenSC")
	}
}

// openSCConf writes an opensc.conf that caches the card's public files in
// cacheDir (use_file_caching), as the benchmark's warm logons do.
func openSCConf(t *testing.T, cacheDir string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	text := fmt.Sprintf("app default {\n  file_cache_dir = %s;\n  framework pkcs15 {\n    use_file_caching = public;\n  }\n}\n", cacheDir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}
