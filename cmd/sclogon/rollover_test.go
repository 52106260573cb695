package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kdc"
)

// TestKDCRollover: `sclogon kdc rollover` gives krbtgt a new kvno in the
// configuration's key store, keeps the one it replaced until the longest
// ticket issued under it ends, and says so on stdout (tab lines or JSON);
// a principal without keys is refused with a hint.
func TestKDCRollover(t *testing.T) {
	dir := t.TempDir()
	conf := smallKDCConfig(t, dir, " ticket_lifetime = 10h\n renew_lifetime = 1d\n max_skew = 5m\n")
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
