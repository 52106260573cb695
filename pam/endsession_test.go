package pam_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sclogon/sclogon/pam"
)

// close_session destroys the ccache the module gave the session, and
// nothing else: not another KRB5CCNAME, not with retain_after_close, not a
// symlink planted at the ccache's path.
func TestEndSession(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	a := pam.Account{Name: f.user.name, UID: os.Getuid(), GID: os.Getgid()}
	load := func(extra ...string) *pam.Config {
		cfg, err := pam.LoadConfig(f.writeConfig(t, "127.0.0.1:88", "/nonexistent", filepath.Join(dir, "krb5cc_%{uid}"), extra...), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := load()
	path := cfg.CCachePath(a)
	put := func() {
		t.Helper()
		if err := os.WriteFile(path, []byte("tickets"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exists := func() bool { _, err := os.Lstat(path); return err == nil }

	put()
	for _, other := range []string{"", "FILE:/tmp/krb5cc_elsewhere", "KEYRING:persistent:1000", path} {
		if destroyed, err := pam.EndSession(cfg, a, other); destroyed || err != nil || !exists() {
			t.Errorf("KRB5CCNAME=%q: destroyed %v, %v; want the ccache left alone", other, destroyed, err)
		}
	}
	if destroyed, err := pam.EndSession(load("retain_after_close = true"), a, "FILE:"+path); destroyed || err != nil || !exists() {
		t.Errorf("retain_after_close: destroyed %v, %v", destroyed, err)
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); !destroyed || err != nil || exists() {
		t.Errorf("the session's ccache: destroyed %v, %v, still there %v", destroyed, err, exists())
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); destroyed || err != nil {
		t.Errorf("no ccache left: destroyed %v, %v", destroyed, err)
	}

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); destroyed || !errors.Is(err, pam.ErrNoSession) {
		t.Errorf("a symlink at the ccache's path: destroyed %v, %v; want ErrNoSession", destroyed, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
}
