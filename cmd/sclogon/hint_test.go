package main

import (
	"encoding/asn1"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// TestKinitHint: a certificate without a UPN, mapped by its SID extension,
// logs on with --hint naming the account (as Windows' X509HintsNeeded
// hint); a hint naming an account the certificate does not map to is
// refused by the KDC, not guessed around by the client.
func TestKinitHint(t *testing.T) {
	e := startSIDKDC(t)
	key, cert := issueFor(t, e.ca, pki.UserProfile, pki.User{
		CommonName: "Alice Smith", SID: e.sid,
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
	})
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := pki.WriteKeyAndCert(keyPath, certPath, key, cert); err != nil {
		t.Fatal(err)
	}
	id := "FILE:" + certPath + "," + keyPath
	for _, hint := range []string{"alice", `EXAMPLE\alice`, "alice@example.com"} {
		cc := filepath.Join(dir, "cc-"+strings.NewReplacer(`\`, "_", "@", "_").Replace(hint))
		code, _, stderr := runKinitCmd(t, "", "--identity", id, "--hint", hint, "-c", "FILE:"+cc)
		if code != exitOK {
			t.Fatalf("--hint %s: exit %d:\n%s", hint, code, stderr)
		}
		got, err := ccache.ReadFile(cc)
		if err != nil || got.Principal.String() != "alice@EXAMPLE.COM" {
			t.Errorf("--hint %s: ccache for %v (%v)", hint, got.Principal, err)
		}
	}
	// Without a hint there is no name to ask for.
	if code, _, stderr := runKinitCmd(t, "", "--identity", id, "-c", "FILE:"+filepath.Join(dir, "none")); code != exitFail || !strings.Contains(stderr, "names no principal") {
		t.Errorf("no hint: exit %d:\n%s", code, stderr)
	}
	// A hint naming nobody the certificate maps to: the KDC's refusal.
	code, _, stderr := runKinitCmd(t, "", "--identity", id, "--hint", "bob", "-c", "FILE:"+filepath.Join(dir, "bob"))
	if code != exitFail || !strings.Contains(stderr, "the KDC has no account for this principal") {
		t.Errorf("--hint bob: exit %d:\n%s", code, stderr)
	}
	for _, args := range [][]string{{"--hint", "alice", "alice"}, {"--hint", "alice", "-E"}, {"--hint", `OTHER\alice`}} {
		if code, _, stderr := runKinitCmd(t, "", append([]string{"--identity", id}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want a usage error:\n%s", args, code, stderr)
		}
	}
}
