package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
)

// TestKinitCacheTypes: `sclogon kinit` stores its ticket where MIT's tools
// look on the host as it is: in the cache default_ccache_name names when
// KRB5CCNAME is unset (plain MIT klist finds it), and in DIR:, KEYRING: and
// KCM: caches named with -c (SSSD's sssd-kcm, started here).
func TestKinitCacheTypes(t *testing.T) {
	e := newKinitEnv(t)
	anchor, err := os.ReadFile(e.anchor)
	if err != nil {
		t.Fatal(err)
	}
	kcm := harness.StartKCM(t)
	dir := filepath.Join(t.TempDir(), "cc")
	mit := e.kdc.Client(t, harness.MITClientConfig{
		AnchorsPEM:  anchor,
		Libdefaults: append([]string{"default_ccache_name = DIR:" + dir}, kcm.Libdefaults()...),
	})
	t.Setenv("KRB5_CONFIG", mit.Config)
	keyring := fmt.Sprintf("KEYRING:session:sclogon-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command("kdestroy", "-c", keyring).Run() })
	// klist runs with KRB5CCNAME unset, as on a host where krb5.conf alone
	// says where tickets live.
	klist := func(args ...string) string {
		cmd := mit.Command(t, "klist", args...)
		cmd.Env = withoutCCName(cmd.Env)
		return harness.Run(t, cmd)
	}
	for _, tc := range []struct {
		name string
		args []string // -c, or none for the default
		list []string
	}{
		{"default_ccache_name", nil, nil},
		{"KCM", []string{"-c", "KCM:"}, []string{"-c", "KCM:"}},
		{"KEYRING", []string{"-c", keyring}, []string{"-c", keyring}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KRB5CCNAME", "")
			os.Unsetenv("KRB5CCNAME")
			code, _, stderr := runKinitCmd(t, "", append(tc.args, "--identity", "FILE:"+e.cert+","+e.key)...)
			if code != exitOK {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			out := klist(tc.list...)
			if !strings.Contains(out, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Fatalf("MIT klist %v:\n%s\nsclogon said: %s", tc.list, out, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "primary")); err != nil {
		t.Errorf("the DIR: collection has no primary: %v", err)
	}
}

func withoutCCName(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KRB5CCNAME=") {
			out = append(out, kv)
		}
	}
	return out
}
