package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kdc"
)

// keysInitConfig writes a KDC configuration with keys = file in a new
// directory (services: host/ws1) and returns its path.
func keysInitConfig(t *testing.T) string {
	t.Helper()
	return smallKDCConfig(t, t.TempDir(), " services = host/ws1.example.com\n")
}

// writeKDCIdentity makes a test CA in dir/ca and the KDC's key and
// certificate as dir/kdc.key and dir/kdc.pem.
func writeKDCIdentity(t *testing.T, dir string) *pki.CA {
	t.Helper()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{KeyType: pki.P256})
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := pki.KDCProfile(pki.KDC{Realm: "EXAMPLE.COM"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKeyAndCert(filepath.Join(dir, "kdc.key"), filepath.Join(dir, "kdc.pem"), key, cert); err != nil {
		t.Fatal(err)
	}
	return ca
}

// smallKDCConfig writes dir/kdc.conf for a KDC of EXAMPLE.COM with its keys
// in dir/state and a one-entry LDIF directory; extra lines go in [kdc].
func smallKDCConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	ca := writeKDCIdentity(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "users.ldif"), []byte("dn: cn=x,dc=example,dc=com\nobjectClass: user\ncn: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "kdc.conf")
	text := fmt.Sprintf("[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = %s\n ntauth = %s\n%s[directory]\n ldif = users.ldif\n",
		ca.RootPath(), ca.NTAuthPath(), extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestKDCKeysInit: `sclogon kdc keys init` makes krbtgt's and the services'
// first keys in the configured store; run again it changes nothing, says
// the keys exist, and exits 0; after a rollover it reports the current kvno.
func TestKDCKeysInit(t *testing.T) {
	conf := keysInitConfig(t)
	const krbtgt = "krbtgt/EXAMPLE.COM@EXAMPLE.COM"
	const host = "host/ws1.example.com@EXAMPLE.COM"

	out := sclogon(t, "kdc", "keys", "init", "--config", conf)
	if want := "made\t" + krbtgt + "\t1\nmade\t" + host + "\t1\n"; out != want {
		t.Fatalf("first keys init printed %q, want %q", out, want)
	}
	ks, err := kdc.OpenKeyStore(filepath.Join(filepath.Dir(conf), "state"), rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	first, ok := ks.Key(krbtgt, 0)
	if !ok || first.KVNO != 1 {
		t.Fatalf("the store after keys init: krbtgt %+v, %v", first.KVNO, ok)
	}

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), stdio{in: strings.NewReader(""), out: &stdout, errOut: &stderr},
		[]string{"kdc", "keys", "init", "--config", conf})
	if code != exitOK || stdout.String() != "exists\t"+krbtgt+"\t1\nexists\t"+host+"\t1\n" ||
		!strings.Contains(stderr.String(), "exist already") {
		t.Fatalf("second keys init: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again, _ := ks.Key(krbtgt, 0); again.KVNO != 1 || !bytes.Equal(again.Value, first.Value) {
		t.Fatal("a second keys init replaced krbtgt's key")
	}

	sclogon(t, "kdc", "rollover", "--config", conf)
	var done []struct {
		Principal string `json:"principal"`
		KVNO      uint32 `json:"kvno"`
		Made      bool   `json:"made"`
	}
	if err := json.Unmarshal([]byte(sclogon(t, "kdc", "keys", "init", "--config", conf, "--json")), &done); err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].Principal != krbtgt || done[0].KVNO != 2 || done[0].Made || done[1].Made {
		t.Fatalf("keys init --json after a rollover: %+v", done)
	}
}

// TestKDCKeysInitUsage: no subcommand, another one, or no --config is a
// usage error.
func TestKDCKeysInitUsage(t *testing.T) {
	for _, args := range [][]string{{"kdc", "keys"}, {"kdc", "keys", "make"}, {"kdc", "keys", "init"}, {"kdc", "keys", "init", "--config", "x", "extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &stdout, errOut: &stderr}, args); code != exitUsage {
			t.Errorf("sclogon %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitUsage, stderr.String())
		}
	}
}
