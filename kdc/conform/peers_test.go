package conform

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

// runPeer runs the table against a peer's kinit and checks what is ours to
// check: the control logs on and every fault has its row. What the peer
// accepts is a finding about the peer, logged for the README, not a failure.
func runPeer(t *testing.T, f *fixture, clients ...string) *Report {
	t.Helper()
	rep, err := f.driver(clients...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("\n%s", text.String())
	if got, want := len(rep.Results), len(Faults())-1+len(clients); got != want {
		t.Fatalf("%d rows, want %d", got, want)
	}
	for _, res := range rep.Results {
		if res.Expected == Accepted && res.Observed != Accepted {
			t.Errorf("control with %q did not log on: %s\nthe conformance KDC's log:\n%s", res.Client, res.ClientError, f.log.String())
		}
		if res.Observed == KDCFailed || res.Observed == NoRequest {
			t.Errorf("%s: %s (%s)", res.Fault, res.Observed, res.Note)
		}
	}
	return rep
}

// TestConformMITKinit runs the table against MIT kinit (Debian's krb5-user,
// 1.20): MODP DH and RSA key transport (1.20 has no ECDH).
func TestConformMITKinit(t *testing.T) {
	kinit := harness.Require(t, "kinit", "krb5-user")
	f := newFixture(t)
	id := " -X X509_user_identity=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem"
	runPeer(t, f,
		kinit+id+" alice@"+testRealm,
		kinit+id+" -X flag_RSA_PROTOCOL=yes alice@"+testRealm)
}

// TestConformHeimdalKinit runs the table against Heimdal 7.8's kinit, with
// MODP group 14 (pkinit_dh_min_bits = 1536; its default is group 2) and
// RSA key transport (--pk-use-enckey).
func TestConformHeimdalKinit(t *testing.T) {
	root := harness.HeimdalRoot(t)
	kinit := root + "/usr/bin/kinit.heimdal"
	if _, err := exec.LookPath(kinit); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "pkinit_dh_min_bits = 1536")
	id := " --pk-user=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem"
	runPeer(t, f,
		kinit+id+" alice@"+testRealm,
		kinit+id+" --pk-use-enckey alice@"+testRealm)
}
