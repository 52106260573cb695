package vcard

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs"
)

func TestMainInit(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	key := testKey(t, "p256")
	other := testKey(t, "p384")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certFile := write("alice.pem", certPEM(ca.issue(t, "alice", key.Public(), certs.SAN{UPNs: []string{"alice@example.com"}})))
	keyFile := write("alice.key", keyPEM(t, key))
	otherFile := write("other.key", keyPEM(t, other))
	state := filepath.Join(dir, "card.json")
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	if code, _, e := run("", "init", "--state", state, "--slot", "9a", "--cert", certFile, "--key", otherFile); code != 1 || !strings.Contains(e, "is not the key of the certificate") {
		t.Fatalf("mismatched key: exit %d, %s", code, e)
	}
	if code, _, e := run("", "init", "--state", state, "--slot", "9b", "--cert", certFile); code != 2 {
		t.Fatalf("slot 9b: exit %d, %s", code, e)
	}
	code, out, e := run("24681357\n87654321\n000102030405060708090a0b0c0d0e0f\n",
		"init", "--state", state, "--slot", "9a", "--cert", certFile, "--key", keyFile, "--slot", "9d", "--cert", "-", "--key", otherFile, "--secrets-stdin")
	if code != 0 || !strings.Contains(out, "2 key(s)") {
		t.Fatalf("init: exit %d, %s %s", code, out, e)
	}
	if code, _, e := run("", "init", "--state", state); code != 1 || !strings.Contains(e, "--force") {
		t.Fatalf("init over an existing state: exit %d, %s", code, e)
	}
	fi, _ := os.Stat(state)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode())
	}
	st, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if !st.matchPIN(padSlice("24681357")) || !st.matchPUK(padSlice("87654321")) || st.mgmAlg != ManagementKeyAES128 {
		t.Error("secrets from stdin not in the state")
	}
	if _, ok := st.Certificate(0x9A); !ok {
		t.Error("no certificate in 9A")
	}
	if _, ok := st.PublicKey(0x9D); !ok {
		t.Error("no key in 9D")
	}
	for _, s := range []string{"24681357", "87654321", "000102030405060708090a0b0c0d0e0f"} {
		if strings.Contains(out+e, s) {
			t.Errorf("init printed secret %s", s)
		}
	}
	if code, _, e := run("", "--state", filepath.Join(dir, "missing.json")); code != 1 || !strings.Contains(e, "vcard init") {
		t.Fatalf("missing state: exit %d, %s", code, e)
	}
	if code, _, _ := run("", "--bogus"); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
	// Running until the context ends exits 0.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errOut bytes.Buffer
	if code := Main(ctx, []string{"--state", state, "--connect", "127.0.0.1:1"}, strings.NewReader(""), &bytes.Buffer{}, &errOut); code != 0 {
		t.Fatalf("run with a cancelled context: exit %d, %s", code, errOut.String())
	}
}
