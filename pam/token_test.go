//go:build cgo

package pam_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/internal/softhsm"
	"github.com/sclogon/sclogon/pam"
)

// TestLogonWithToken: identity = PKCS11:… logs the PAM user on with the
// token's certificate that names them (another user's comes first), the
// authtok as the token's PIN; a wrong authtok is one C_Login, not retried.
func TestLogonWithToken(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	tok := softhsm.New(t, "pam-token")
	tok.Import(t, []byte{1}, "other", f.other.key, f.other.cert)
	tok.Import(t, []byte{2}, "user", f.user.key, f.user.cert)
	shim := tok.NewShim(t, 0)
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	cfg, err := pam.LoadConfig(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	acct := pam.Account{Name: f.user.name, UID: os.Getuid(), GID: os.Getgid()}
	src := pam.TokenSource{Spec: "PKCS11:module_name=" + shim.Module + ":token=pam-token"}
	l := &pam.Logon{Config: cfg, Identities: src, Trace: func(format string, a ...any) { t.Logf("trace: "+format, a...) }}
	var pe *card.PINError
	if _, err := l.Run(context.Background(), pam.Request{Account: acct, Authtok: pam.NewAuthtok([]byte("999999"))}); !errors.As(err, &pe) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n := shim.Logins(t); n != 1 {
		t.Fatalf("%d C_Login calls for one wrong PIN", n)
	}
	res, err := l.Run(context.Background(), pam.Request{Account: acct, Authtok: pam.NewAuthtok([]byte(tok.PIN))})
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal.String() != f.user.name+"@"+realm {
		t.Fatalf("result %+v", res)
	}
}

// TestPamtesterToken: the PAM helper under pam_exec, driven by the real
// pamtester, with identity = PKCS11:… in [pam]: a wrong PIN is one C_Login
// and leaves no ccache; the right PIN writes the user's ccache, owned by
// them. SoftHSM finds its tokens through SOFTHSM2_CONF, which pam_exec does
// not pass on, so the service runs the helper under env(1) with it (and the
// shim's variables) set, as a system's /etc/softhsm/softhsm2.conf would.
func TestPamtesterToken(t *testing.T) {
	f := getFixture(t)
	harness.Require(t, "pamtester", "pamtester")
	envBin := harness.Require(t, "env", "coreutils")
	bin := buildSclogon(t)
	acct := unixUser(t, f.user.name)
	k := f.startKDC(t)
	tok := softhsm.New(t, "pam-token")
	tok.Import(t, []byte{1}, "other", f.other.key, f.other.cert)
	tok.Import(t, []byte{2}, "user", f.user.key, f.user.cert)
	shim := tok.NewShim(t, 0)

	dir := t.TempDir()
	ccPath := filepath.Join(dir, "krb5cc_"+strconv.Itoa(acct.UID))
	logFile := filepath.Join(dir, "pam.log")
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(dir, "krb5cc_%{uid}"), "identity = PKCS11:module_name="+shim.Module+":token=pam-token")
	helper := strings.Join(append(append([]string{envBin}, append(tok.Env(), shim.Env()...)...), bin), " ")
	svc := f.user.name + "-token"
	pamService(t, svc, helper, conf, logFile)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("sclogon pam log:\n%s", log)
		}
	})

	if out, err := pamtester(t, svc, acct.Name, "999999"); err == nil {
		t.Fatalf("pamtester succeeded with a wrong PIN:\n%s", out)
	}
	if n := shim.Logins(t); n != 1 {
		t.Errorf("%d C_Login calls for one wrong PIN", n)
	}
	if _, err := os.Stat(ccPath); !os.IsNotExist(err) {
		t.Errorf("a ccache exists after a wrong PIN: %v", err)
	}
	assertLog(t, logFile, `logon refused: token "pam-token" refused the PIN (tries left: low)`)

	out, err := pamtester(t, svc, acct.Name, tok.PIN)
	if err != nil || !strings.Contains(out, "successfully authenticated") {
		t.Fatalf("pamtester: %v\n%s", err, out)
	}
	st, err := os.Stat(ccPath)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != acct.UID || st.Mode().Perm() != 0o600 {
		t.Errorf("ccache owner %d mode %04o, want %d 0600", sys.Uid, st.Mode().Perm(), acct.UID)
	}
	if err := pam.CheckCCache(ccPath, acct, realm, time.Now()); err != nil {
		t.Error(err)
	}
	assertLog(t, logFile, "logged on as "+acct.Name+"@"+realm)
	if log, _ := os.ReadFile(logFile); bytes.Contains(log, []byte(tok.PIN)) || bytes.Contains(log, []byte("999999")) {
		t.Error("the log contains a PIN")
	}
}
