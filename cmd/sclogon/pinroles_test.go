//go:build cgo

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/integration/harness"
)

// TestPINRolesUnderPCSCD: `sclogon pin status` lists the PIV PIN, the
// global PIN and the PUK with their tries (the PUK's from an empty VERIFY on
// key reference 81); `pin change --puk` changes the PUK, a wrong PUK costing
// exactly one PUK try; `pin change --global` changes the global PIN.
func TestPINRolesUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	t.Setenv("KRB5_CONFIG", writeEmptyConf(t))
	st := cardtest.NewState(t)
	if err := st.SetGlobalPIN("24682468", false); err != nil {
		t.Fatal(err)
	}
	soft := vcard.New(st, vcard.Options{Generic: true})
	serveSoftCard(t, soft, p.CardAddrs[0])
	pin := func(stdin string, args ...string) (int, string) {
		t.Helper()
		var out, errOut strings.Builder
		args = append(append([]string{"pin"}, args...), "--reader", p.Readers[0], "--pin-stdin")
		code := run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, errOut: &errOut}, args)
		return code, out.String() + errOut.String()
	}
	status := func(want ...string) {
		t.Helper()
		code, out := pin("", "status")
		if code != exitOK {
			t.Fatalf("pin status: exit %d:\n%s", code, out)
		}
		for _, w := range want {
			if !strings.Contains(out, p.Readers[0]+": "+w+"\n") {
				t.Errorf("pin status lacks %q:\n%s", w, out)
			}
		}
	}
	status("3 PIN tries left", "3 global PIN tries left", "3 PUK tries left")

	// A wrong PUK: one PUK try, a sentence, nothing changed.
	code, out := pin("87654321\n11223344\n", "change", "--puk")
	if code != exitFail || !strings.Contains(out, "the card refused the PUK (2 tries left)") {
		t.Fatalf("wrong PUK: exit %d:\n%s", code, out)
	}
	if snap, _ := soft.Snapshot(); snap.PUKTriesLeft() != 2 {
		t.Fatalf("the card counts %d PUK tries after one wrong PUK, want 2", snap.PUKTriesLeft())
	}
	status("3 PIN tries left", "2 PUK tries left")
	if code, out := pin(vcard.DefaultPUK+"\n11223344\n", "change", "--puk"); code != exitOK || !strings.Contains(out, "the PUK of the card in") {
		t.Fatalf("pin change --puk: exit %d:\n%s", code, out)
	}
	status("3 PUK tries left")
	// The new PUK unblocks; the old one no longer does.
	if code, out := pin("11223344\n"+vcard.DefaultPIN+"\n", "unblock"); code != exitOK {
		t.Fatalf("unblock with the new PUK: exit %d:\n%s", code, out)
	}
	if code, out := pin("24682468\n13571357\n", "change", "--global"); code != exitOK || !strings.Contains(out, "the global PIN of the card in") {
		t.Fatalf("pin change --global: exit %d:\n%s", code, out)
	}
	if snap, _ := soft.Snapshot(); snap.GlobalPINTriesLeft() != 3 {
		t.Fatalf("global PIN tries %d after the change", snap.GlobalPINTriesLeft())
	}
	if code, _ := pin("", "status", "--puk"); code != exitUsage {
		t.Errorf("pin status --puk: exit %d, want usage error", code)
	}
}

// writeEmptyConf is an empty krb5.conf: sclogon pin reads it for the card
// backend.
func writeEmptyConf(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
