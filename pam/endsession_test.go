package pam_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/sclogon/sclogon/kinit/ccache"
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
		if destroyed, err := pam.EndSession(cfg, a, other); destroyed != "" || err != nil || !exists() {
			t.Errorf("KRB5CCNAME=%q: destroyed %v, %v; want the ccache left alone", other, destroyed, err)
		}
	}
	if destroyed, err := pam.EndSession(load("retain_after_close = true"), a, "FILE:"+path); destroyed != "" || err != nil || !exists() {
		t.Errorf("retain_after_close: destroyed %v, %v", destroyed, err)
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); destroyed != path || err != nil || exists() {
		t.Errorf("the session's ccache: destroyed %v, %v, still there %v", destroyed, err, exists())
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); destroyed != "" || err != nil {
		t.Errorf("no ccache left: destroyed %v, %v", destroyed, err)
	}

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+path); destroyed != "" || !errors.Is(err, pam.ErrNoSession) {
		t.Errorf("a symlink at the ccache's path: destroyed %v, %v; want ErrNoSession", destroyed, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
}

// With no ccache configured each session has its own ccache, as under
// pam_krb5: close_session destroys the session's and leaves the user's
// other sessions theirs; a name outside the per-session pattern of the
// account (the shared default, another uid's, a longer suffix) is not
// this module's, and a symlink with a session's name is left alone.
func TestEndSessionPerSession(t *testing.T) {
	f := getFixture(t)
	a := pam.Account{Name: f.user.name, UID: os.Getuid(), GID: os.Getgid()}
	cfg, err := pam.LoadConfig(f.writeConfig(t, "127.0.0.1:88", "/nonexistent", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.PerSessionCCache {
		t.Fatal("no ccache configured, yet PerSessionCCache is false")
	}
	cc := &ccache.CCache{Principal: ccache.Principal{NameType: 1, Components: []string{a.Name}, Realm: realm}}
	var sessions [2]string
	for i := range sessions {
		if sessions[i], err = pam.CreateSessionCCache(cfg, a, cc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pam.DestroyCCache(sessions[i]) })
	}
	pattern := regexp.MustCompile(`^/tmp/krb5cc_` + strconv.Itoa(a.UID) + `_[A-Za-z0-9]{6}$`)
	for _, p := range sessions {
		st, err := os.Lstat(p)
		if err != nil || !pattern.MatchString(p) || st.Mode().Perm() != 0o600 || int(st.Sys().(*syscall.Stat_t).Uid) != a.UID {
			t.Fatalf("session ccache %s: %v, want a 0600 file of uid %d matching %s", p, err, a.UID, pattern)
		}
		if got, err := ccache.ReadFile(p); err != nil || got.Principal.String() != a.Name+"@"+realm {
			t.Errorf("session ccache %s: %v, %v", p, got, err)
		}
	}
	if sessions[0] == sessions[1] {
		t.Fatalf("two sessions share the ccache %s", sessions[0])
	}

	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	for _, other := range []string{"FILE:" + cfg.CCachePath(a), "FILE:" + sessions[1] + "x", sessions[1],
		"FILE:/tmp/krb5cc_" + strconv.Itoa(a.UID+1) + sessions[1][len(cfg.CCachePath(a)):], "FILE:" + cfg.CCachePath(a) + "_../../x"} {
		if destroyed, err := pam.EndSession(cfg, a, other); destroyed != "" || err != nil || !exists(sessions[1]) {
			t.Errorf("KRB5CCNAME=%q: destroyed %q, %v; want nothing touched", other, destroyed, err)
		}
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+sessions[0]); destroyed != sessions[0] || err != nil || exists(sessions[0]) {
		t.Errorf("closing session 1: destroyed %q, %v, still there %v", destroyed, err, exists(sessions[0]))
	}
	if !exists(sessions[1]) {
		t.Errorf("closing session 1 destroyed session 2's ccache %s", sessions[1])
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := sessions[0] // gone: a session-shaped name, planted as a symlink
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if destroyed, err := pam.EndSession(cfg, a, "FILE:"+link); destroyed != "" || !errors.Is(err, pam.ErrNoSession) {
		t.Errorf("a symlink with a session's name: destroyed %q, %v; want ErrNoSession", destroyed, err)
	}
	os.Remove(link)
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
}

// TestReauthRefreshesSessionCCache: a session that authenticates again (a
// screen unlock) and names its own per-session ccache gets that ccache
// refreshed, with no new file beside it; a name that is not the account's
// own session ccache (another uid's, the shared path, a gone session, a
// symlink planted under a session's name) gets a new ccache instead, and
// the symlink's target is left alone.
func TestReauthRefreshesSessionCCache(t *testing.T) {
	f := getFixture(t)
	a := pam.Account{Name: f.user.name, UID: os.Getuid(), GID: os.Getgid()}
	cfg, err := pam.LoadConfig(f.writeConfig(t, "127.0.0.1:88", "/nonexistent", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := &ccache.CCache{Principal: ccache.Principal{NameType: 1, Components: []string{a.Name}, Realm: realm}}
	session, err := pam.CreateSessionCCache(cfg, a, first)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pam.DestroyCCache(session) })
	sessions := func() []string {
		m, _ := filepath.Glob(cfg.CCachePath(a) + "_*")
		return m
	}
	before := len(sessions())

	again := &ccache.CCache{Principal: ccache.Principal{NameType: 1, Components: []string{a.Name, "again"}, Realm: realm}}
	l := &pam.Logon{Config: cfg, PerSession: true, SessionCCache: "FILE:" + session}
	got, err := l.WriteCCache(again, a)
	if err != nil || got != session {
		t.Fatalf("re-authentication wrote %q (%v), want the session's %s", got, err, session)
	}
	if cc, err := ccache.ReadFile(session); err != nil || cc.Principal.String() != again.Principal.String() {
		t.Fatalf("the session's ccache holds %v (%v), want the new tickets", cc, err)
	}
	if n := len(sessions()); n != before {
		t.Fatalf("%d session ccaches after re-authentication, want %d", n, before)
	}
	if st, err := os.Lstat(session); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("refreshed ccache: %v, %v", st, err)
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := cfg.CCachePath(a) + "_Link00" // a session-shaped name, planted as a symlink
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })
	for _, other := range []string{"", "FILE:" + cfg.CCachePath(a), "FILE:" + cfg.CCachePath(a) + "_Gone00",
		"FILE:/tmp/krb5cc_" + strconv.Itoa(a.UID+1) + session[len(cfg.CCachePath(a)):], "FILE:" + link} {
		l := &pam.Logon{Config: cfg, PerSession: true, SessionCCache: other}
		got, err := l.WriteCCache(again, a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pam.DestroyCCache(got) })
		if got == session || "FILE:"+got == other {
			t.Errorf("KRB5CCNAME=%q: wrote %s, want a new session ccache", other, got)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
}
