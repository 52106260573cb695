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

// TestKDCRollover: `sclogon kdc rollover` gives krbtgt a new kvno in the
// configuration's key store, keeps the one it replaced until the longest
// ticket issued under it ends, and says so on stdout (tab lines or JSON);
// a principal without keys is refused with a hint.
func TestKDCRollover(t *testing.T) {
	dir := t.TempDir()
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
	if err := os.WriteFile(filepath.Join(dir, "users.ldif"), []byte("dn: cn=x,dc=example,dc=com\nobjectClass: user\ncn: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "kdc.conf")
	text := fmt.Sprintf("[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = %s\n ntauth = %s\n ticket_lifetime = 10h\n renew_lifetime = 1d\n max_skew = 5m\n[directory]\n ldif = users.ldif\n",
		ca.RootPath(), ca.NTAuthPath())
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := kdc.OpenKeyStore(filepath.Join(dir, "state"), rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	const krbtgt = "krbtgt/EXAMPLE.COM@EXAMPLE.COM"
	if err := ks.Ensure(krbtgt); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	out := sclogon(t, "kdc", "rollover", "--config", conf)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "principal\t"+krbtgt || lines[1] != "kvno\t2" || !strings.HasPrefix(lines[2], "retired\t1\t") {
		t.Fatalf("rollover printed:\n%s", out)
	}
	until, err := time.Parse(time.RFC3339, strings.Split(lines[2], "\t")[2])
	if err != nil {
		t.Fatal(err)
	}
	// kvno 1 lives as long as a ticket issued just before: 10h + 1d + 5m.
	if keep := until.Sub(before); keep < 34*time.Hour+4*time.Minute || keep > 34*time.Hour+6*time.Minute {
		t.Fatalf("kvno 1 kept %v", keep)
	}
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k, _ := ks.Key(krbtgt, 0); k.KVNO != 2 {
		t.Fatalf("the store's current kvno is %d after the rollover", k.KVNO)
	}

	var rolled struct {
		Principal string `json:"principal"`
		KVNO      uint32 `json:"kvno"`
		Retired   []struct {
			KVNO     uint32    `json:"kvno"`
			NotAfter time.Time `json:"not_after"`
		} `json:"retired"`
	}
	if err := json.Unmarshal([]byte(sclogon(t, "kdc", "rollover", "--config", conf, "--principal", "krbtgt/EXAMPLE.COM", "--json")), &rolled); err != nil {
		t.Fatal(err)
	}
	if rolled.Principal != krbtgt || rolled.KVNO != 3 || len(rolled.Retired) != 2 || rolled.Retired[0].KVNO != 1 || rolled.Retired[1].KVNO != 2 {
		t.Fatalf("rollover --json: %+v", rolled)
	}

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), stdio{in: strings.NewReader(""), out: &stdout, errOut: &stderr},
		[]string{"kdc", "rollover", "--config", conf, "--principal", "host/nowhere"})
	if code != exitFail || !strings.Contains(stderr.String(), "no keys for host/nowhere@EXAMPLE.COM") || !strings.Contains(stderr.String(), "hint:") {
		t.Fatalf("rolling over a principal without keys: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &stdout, errOut: &stderr}, []string{"kdc", "rollover"}); code != exitUsage {
		t.Fatalf("rollover without --config: exit %d", code)
	}
}
