package harness

import (
	"strings"
	"testing"
)

// TestKCMStarts starts sssd-kcm and has MIT klist talk to it: an empty
// collection answers "not found" from the daemon, not "no KCM server".
func TestKCMStarts(t *testing.T) {
	kcm := StartKCM(t)
	c := NewMITClient(t, MITClientConfig{Realm: "EXAMPLE.COM", Libdefaults: kcm.Libdefaults()})
	cmd := c.Command(t, "klist")
	cmd.Env = append(cmd.Env, "KRB5CCNAME=KCM:")
	out, err := RunErr(cmd)
	if err == nil {
		t.Fatalf("klist on an empty KCM succeeded:\n%s", out)
	}
	if !strings.Contains(out, "KCM:0") || !strings.Contains(out, "not found") {
		t.Fatalf("klist did not reach the daemon:\n%s", out)
	}
}
