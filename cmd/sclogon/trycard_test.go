package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

// TestTrySoftwareCard runs the README's one command for a card logon with no
// hardware, integration/try-software-card, as written: pcscd with the vpcd
// reader, the software card inserted, our KDC, then certs, kinit and klist.
func TestTrySoftwareCard(t *testing.T) {
	harness.Require(t, "pcscd", "pcscd")
	harness.Require(t, "klist", "krb5-user")
	bin := filepath.Join(t.TempDir(), "sclogon")
	harness.Run(t, exec.Command("go", "build", "-o", bin, "."))
	cmd := exec.Command(filepath.Join("..", "..", "integration", "try-software-card"))
	cmd.Env = append(cmd.Environ(), "SCLOGON="+bin, "KDC_PORT="+strconv.Itoa(harness.FreePort(t)))
	out := harness.Run(t, cmd)
	for _, want := range []string{
		"usable for logon",
		"sclogon: ticket for alice@EXAMPLE.COM stored in",
		"Default principal: alice@EXAMPLE.COM",
		"krbtgt/EXAMPLE.COM@EXAMPLE.COM",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
