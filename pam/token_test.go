//go:build cgo

package pam_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sclogon/sclogon/card"
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
	src := pam.TokenSource{Spec: "PKCS11:module_name=" + shim.Module + ":token=pam-token", Profile: cfg.Profile}
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
