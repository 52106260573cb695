package pam_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pam"
)

// logon runs pam.Logon in process for the fixture's user with identity.
func logon(t *testing.T, confPath, identity string) (*pam.Result, string, error) {
	t.Helper()
	return logonAs(t, confPath, identity, getFixture(t).user.name)
}

// logonAs runs pam.Logon in process for the PAM user name with identity.
func logonAs(t *testing.T, confPath, identity, name string) (*pam.Result, string, error) {
	t.Helper()
	cfg, err := pam.LoadConfig(confPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	acct := pam.Account{Name: name, UID: os.Getuid(), GID: os.Getgid()}
	l := &pam.Logon{Config: cfg, Identities: pam.SoftwareSource{Spec: identity}, Trace: func(format string, a ...any) { t.Logf("trace: "+format, a...) }}
	res, err := l.Run(context.Background(), pam.Request{Account: acct, Authtok: pam.NewAuthtok([]byte("unused"))})
	return res, cfg.CCachePath(acct), err
}

func TestLogonWritesValidatedCCache(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	res, path, err := logon(t, conf, f.user.identity())
	if err != nil {
		t.Fatal(err)
	}
	if res.CCache != path || res.Principal.String() != f.user.name+"@"+realm {
		t.Errorf("result %+v, want ccache %s for %s@%s", res, path, f.user.name, realm)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || int(st.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
		t.Errorf("ccache mode %v uid %d", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
	cc, err := ccache.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cc.Credentials) != 1 || cc.Credentials[0].Server.String() != "krbtgt/"+realm+"@"+realm {
		t.Errorf("ccache holds %d credentials, first for %v; want the TGT only", len(cc.Credentials), cc.Credentials)
	}
	acct := pam.Account{Name: f.user.name, UID: os.Getuid(), GID: os.Getgid()}
	if err := pam.CheckCCache(path, acct, realm, time.Now()); err != nil {
		t.Errorf("open_session check: %v", err)
	}
	if err := pam.CheckCCache(path, pam.Account{Name: f.other.name, UID: os.Getuid()}, realm, time.Now()); !errors.Is(err, pam.ErrNoSession) {
		t.Errorf("another account's session check = %v, want ErrNoSession", err)
	}
}

func TestLogonRefusesAnotherUsersCertificate(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	_, path, err := logon(t, conf, f.other.identity())
	var kerr *kinit.KDCError
	if !errors.As(err, &kerr) || kerr.Code != krberror.ClientNameMismatch {
		t.Fatalf("logon with %s's certificate as %s: %v, want KDC_ERR_CLIENT_NAME_MISMATCH", f.other.name, f.user.name, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a ccache was written: %v", err)
	}
}

func TestLogonRefusesKDCWithoutTheHostKey(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	conf := f.writeConfig(t, k.addr, foreignKeytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	_, path, err := logon(t, conf, f.user.identity())
	if !errors.Is(err, pam.ErrNotValidated) {
		t.Fatalf("logon against a KDC without the host key: %v, want ErrNotValidated", err)
	}
	if !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("error %q does not say the ticket does not decrypt", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a ccache was written: %v", err)
	}
}

// A certificate without a UPN logs on for the account that maps it by
// altSecurityIdentities alone, and one for the account that maps it by its
// SID extension alone: the PAM user name is the hint, the KDC decides.
func TestLogonMappedWithoutUPN(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	for _, p := range []person{f.altsec, f.sidOnly} {
		conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
		res, path, err := logonAs(t, conf, p.identity(), p.name)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if res.Principal.String() != p.name+"@"+realm || res.CCache != path {
			t.Errorf("%s: result %+v", p.name, res)
		}
	}
	// The same certificates for each other's account: refused by the KDC.
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	_, _, err := logonAs(t, conf, f.altsec.identity(), f.sidOnly.name)
	var kerr *kinit.KDCError
	if !errors.As(err, &kerr) || kerr.Code != krberror.ClientNameMismatch {
		t.Errorf("%s's certificate for %s: %v, want KDC_ERR_CLIENT_NAME_MISMATCH", f.altsec.name, f.sidOnly.name, err)
	}
}

// A PAM user name user@suffix whose suffix is not the realm's goes as an
// enterprise name: the KDC finds the account by its UPN, checks that the
// certificate maps to it, and answers with the account's own name, which
// the ccache holds.
func TestLogonEnterpriseHint(t *testing.T) {
	f := getFixture(t)
	k := f.startKDC(t)
	conf := f.writeConfig(t, k.addr, k.keytab(t), filepath.Join(t.TempDir(), "krb5cc_%{uid}"))
	name := f.sidOnly.name + "@" + partnerSuffix
	res, path, err := logonAs(t, conf, f.sidOnly.identity(), name)
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal.String() != f.sidOnly.name+"@"+realm {
		t.Errorf("principal %s, want the account's own name %s@%s", res.Principal, f.sidOnly.name, realm)
	}
	acct := pam.Account{Name: name, UID: os.Getuid(), GID: os.Getgid()}
	if err := pam.CheckCCache(path, acct, realm, time.Now()); err != nil {
		t.Errorf("open_session check: %v", err)
	}
	// Another's certificate under the same enterprise name.
	_, _, err = logonAs(t, conf, f.user.identity(), name)
	var kerr *kinit.KDCError
	if !errors.As(err, &kerr) || kerr.Code != krberror.ClientNameMismatch {
		t.Errorf("%s's certificate for %s: %v, want KDC_ERR_CLIENT_NAME_MISMATCH", f.user.name, name, err)
	}
}
