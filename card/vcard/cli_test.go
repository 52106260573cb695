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

// TestMainInitGenerateWithPolicy: init generates keys on the card with a
// PIN policy per slot, prints their public keys, gives the card a global
// PIN; GET METADATA then reports each key's policy, and VERIFY on key
// reference 00 takes the global PIN.
func TestMainInitGenerateWithPolicy(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.json")
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"init", "--state", state,
		"--slot", "9a", "--generate", "p256", "--pin-policy", "always",
		"--slot", "9c", "--generate", "p384", "--pin-policy", "never",
		"--global-pin", "13572468", "--global-primary"}, strings.NewReader(""), &out, &errOut)
	if code != 0 || strings.Count(out.String(), "-----BEGIN PUBLIC KEY-----") != 2 {
		t.Fatalf("init: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	st, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCard{t: t, c: New(st, Options{}), st: st}
	tc.expect(0x9000)(tc.raw(append(h("00A4040005"), pivAIDFull[:5]...)))
	for slot, want := range map[byte]PINPolicy{0x9A: PINPolicyAlways, 0x9C: PINPolicyNever} {
		resp, sw := tc.raw([]byte{0x00, 0xF7, 0x00, slot})
		vals, _, ok := parseTLVs(resp)
		if sw != 0x9000 || !ok || len(vals[0x02]) != 2 || PINPolicy(vals[0x02][0]) != want || vals[0x03][0] != originGenerated {
			t.Errorf("slot %02x metadata %X %04X, want PIN policy %d, generated", slot, resp, sw, want)
		}
	}
	tc.expect(0x63C3)(tc.raw(h("00200000")))
	tc.expect(0x9000)(tc.raw(append(h("0020000008"), padSlice("13572468")...)))
	tc.expect(0x9000)(tc.raw(h("00200000")))
	tc.expect(0x63C3)(tc.raw(h("00200081"))) // the PUK's tries, by an empty VERIFY
	if code := Main(context.Background(), []string{"init", "--state", state, "--force", "--slot", "9a", "--slot", "9c", "--pin-policy", "once"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("one --pin-policy for two slots: exit %d", code)
	}
	if code := Main(context.Background(), []string{"init", "--state", state, "--force", "--slot", "9a", "--slot", "9c", "--slot", "9d", "--pin-policy", "once", "--pin-policy", "never"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Fatalf("two --pin-policy for three slots: exit %d, want 2", code)
	}
}
