package kinit_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// TestTicketFlagsReachTheCCache: the flags the KDC grants (initial,
// pre-authenticated) are in the ccache as MIT klist -f shows them, for the TGT
// and for a service ticket. The decoder aliases BIT STRINGs into the
// plaintext the client wipes; a wipe before the copy lost them once.
func TestTicketFlagsReachTheCCache(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t, kdc.Addr)
	svc, err := kinit.ServiceName("host/svc.example.com", realm)
	if err != nil {
		t.Fatal(err)
	}
	req.Services = []ccache.Principal{svc}
	res, err := run(t, newClient(t), req)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cc")
	if err := ccache.WriteFile(path, res.CCache()); err != nil {
		t.Fatal(err)
	}
	out := harness.Run(t, kdc.Client(t, harness.MITClientConfig{}).Command(t, "klist", "-f", "-c", "FILE:"+path))
	var flags []string
	for _, line := range strings.Split(out, "\n") {
		if _, f, ok := strings.Cut(line, "Flags: "); ok {
			flags = append(flags, strings.TrimSpace(f))
		}
	}
	if len(flags) != 2 || !strings.Contains(flags[0], "I") || !strings.Contains(flags[0], "A") || !strings.Contains(flags[1], "A") {
		t.Fatalf("klist -f flags %q (TGT must be initial and pre-authenticated):\n%s", flags, out)
	}
}
