//go:build cgo

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/internal/softhsm"
)

// TestWatchPKCS11: 'sclogon watch --identity PKCS11:…' waits for the token,
// follows it while it is in, and when it is taken out runs --on-remove
// (SCLOGON_READER naming the token's slot) and destroys the ccache, as for
// a card.
func TestWatchPKCS11(t *testing.T) {
	tok := softhsm.New(t, "alice-token")
	shim := tok.NewShim(t, 0)
	shim.Remove(t)
	dir := t.TempDir()
	t.Setenv("KRB5_CONFIG", filepath.Join(dir, "krb5.conf"))
	if err := os.WriteFile(filepath.Join(dir, "krb5.conf"), []byte("[libdefaults]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, marker := filepath.Join(dir, "krb5cc"), filepath.Join(dir, "removed")
	if err := os.WriteFile(cc, []byte("tickets"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr harness.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), stdio{in: strings.NewReader(""), out: &stderr, errOut: &stderr}, []string{
			"watch", "--once", "--interval", "20ms", "--destroy-ccache", "-c", "FILE:" + cc,
			"-X", "X509_user_identity=PKCS11:module_name=" + shim.Module + ":token=alice-token",
			"--on-remove", `echo "$SCLOGON_READER" > ` + marker,
		})
	}()
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(stderr.String(), "present") {
		t.Fatalf("a token seen while it is out:\n%s", stderr.String())
	}
	shim.Insert(t)
	waitFor(t, &stderr, `present in "alice-token (PKCS #11 slot `)
	if _, err := os.Stat(cc); err != nil {
		t.Fatalf("the ccache went while the token is in: %v\n%s", err, stderr.String())
	}
	shim.Remove(t)
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no removal seen:\n%s", stderr.String())
	}
	if _, err := os.Stat(cc); !os.IsNotExist(err) {
		t.Errorf("the ccache is still there: %v", err)
	}
	if b, err := os.ReadFile(marker); err != nil || !strings.HasPrefix(string(b), "alice-token (PKCS #11 slot ") {
		t.Errorf("--on-remove: %q, %v\n%s", b, err, stderr.String())
	}
}

// TestWatchIdentityUsage: a watch identity is a PKCS11: token, alone; an
// absent module is a sentence with a hint.
func TestWatchIdentityUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--identity", "FILE:a.pem,a.key"}, exitUsage, "sclogon watch follows PKCS11: tokens"},
		{[]string{"--identity", "PKCS11:token=a", "--reader", "Virtual"}, exitUsage, "not both"},
		{[]string{"-X", "X509_anchors=FILE:ca.pem"}, exitUsage, "sclogon watch reads X509_user_identity"},
		{[]string{"--identity", "PKCS11:module_name=/nonexistent.so"}, exitFail, "sclogon: hint: name the module's path"},
	} {
		code, _, stderr := runCmd(t, "", append([]string{"watch", "--on-remove", "true"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d:\n%s", tc.args, code, stderr)
		}
	}
}

func waitFor(t *testing.T, b *harness.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return
		}
	}
	t.Fatalf("no %q in:\n%s", want, b.String())
}
