//go:build cgo

package pam_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/pam"
)

// buildSclogon builds the real binary (with cgo, for PC/SC) once per test.
func buildSclogon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sclogon")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/sclogon/sclogon/cmd/sclogon").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// unixUser creates a throwaway account (no home) and removes it when the
// test ends.
func unixUser(t *testing.T, name string) pam.Account {
	t.Helper()
	useradd := harness.Require(t, "useradd", "passwd")
	userdel := harness.Require(t, "userdel", "passwd")
	if os.Geteuid() != 0 {
		harness.Missing(t, "pam: creating a Unix account for the pamtester test needs root")
	}
	if out, err := exec.Command(useradd, "-M", "-N", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(userdel, name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	a, err := pam.LookupAccount(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// pamService installs /etc/pam.d/NAME running `sclogon pam` through
// pam_exec and removes it when the test ends. pam_exec's log= option keeps
// the helper's stderr (its log when there is no syslog socket).
func pamService(t *testing.T, name, bin, conf, logFile string) {
	t.Helper()
	const module = "/lib/x86_64-linux-gnu/security/pam_exec.so"
	if _, err := os.Stat(module); err != nil {
		harness.Missing(t, "pam: "+module+" is missing: install the Debian package libpam-modules")
	}
	path := filepath.Join("/etc/pam.d", name)
	line := fmt.Sprintf("auth required pam_exec.so quiet expose_authtok log=%s %s pam --config %s -V\n", logFile, bin, conf)
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatalf("install PAM service: %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
}

// pamtester runs `pamtester SERVICE USER authenticate` with pin on stdin.
func pamtester(t *testing.T, service, user, pin string) (string, error) {
	t.Helper()
	bin := harness.Require(t, "pamtester", "pamtester")
	cmd := exec.Command(bin, "-v", service, user, "authenticate")
	cmd.Stdin = strings.NewReader(pin + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// insertCard serves a software card holding p's key and certificate in slot
// 9A in the vpcd reader at addr; remove takes it out.
func insertCard(t *testing.T, p person, addr string) (c *vcard.Card, remove func()) {
	t.Helper()
	st, err := vcard.NewState(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(0x9A, p.key, vcard.PINPolicyOnce); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(0x9A, p.cert.Raw); err != nil {
		t.Fatal(err)
	}
	c = vcard.New(st, vcard.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.ServeVPCD(ctx, addr, nil)
	}()
	remove = func() { cancel(); <-done }
	t.Cleanup(remove)
	return c, remove
}

// waitReaders waits until pcscd reports a card in every reader.
func waitReaders(t *testing.T, readers ...string) {
	t.Helper()
	waitFor(t, func() bool {
		have, err := pcsc.Provider{}.Readers()
		if err != nil {
			return false
		}
		for _, r := range readers {
			if !slices.Contains(have, r) {
				return false
			}
		}
		return true
	})
}

func TestPamtesterCardLogonAndWatch(t *testing.T) {
	f := getFixture(t)
	harness.Require(t, "pamtester", "pamtester")
	bin := buildSclogon(t)
	acct := unixUser(t, f.user.name)
	k := f.startKDC(t)
	pd := harness.StartPCSCD(t)
	userCard, removeUserCard := insertCard(t, f.user, pd.CardAddrs[0])
	otherCard, _ := insertCard(t, f.other, pd.CardAddrs[1])
	waitReaders(t, pd.Readers...)

	dir := t.TempDir()
	ccPath := filepath.Join(dir, "krb5cc_"+strconv.Itoa(acct.UID))
	logFile := filepath.Join(dir, "pam.log")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("sclogon pam log:\n%s", log)
		}
	})
	service := func(t *testing.T, keytab, reader string, extra ...string) string {
		conf := f.writeConfig(t, k.addr, keytab, filepath.Join(dir, "krb5cc_%{uid}"), append(extra, "identity = card", "reader = "+reader)...)
		name := f.user.name + "-" + strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-")
		pamService(t, name, bin, conf, logFile)
		return name
	}
	goodKeytab := k.keytab(t)

	t.Run("wrong_pin", func(t *testing.T) {
		svc := service(t, goodKeytab, pd.Readers[0])
		before := userCard.State().PINTriesLeft()
		out, err := pamtester(t, svc, acct.Name, "654321")
		if err == nil {
			t.Fatalf("pamtester succeeded with a wrong PIN:\n%s", out)
		}
		if after := userCard.State().PINTriesLeft(); after != before-1 {
			t.Errorf("PIN tries %d → %d, want exactly one consumed", before, after)
		}
		if _, err := os.Stat(ccPath); !os.IsNotExist(err) {
			t.Errorf("a ccache exists after a wrong PIN: %v", err)
		}
		assertLog(t, logFile, "the card refused the PIN (2 tries left)")
	})

	t.Run("right_pin", func(t *testing.T) {
		svc := service(t, goodKeytab, pd.Readers[0])
		out, err := pamtester(t, svc, acct.Name, vcard.DefaultPIN)
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(out, "successfully authenticated") {
			t.Errorf("pamtester said:\n%s", out)
		}
		checkOwnedCCache(t, ccPath, acct, acct.Name+"@"+realm)
		if err := pam.CheckCCache(ccPath, acct, realm, time.Now()); err != nil {
			t.Error(err)
		}
		if got := userCard.State().PINTriesLeft(); got != 3 {
			t.Errorf("PIN tries left %d after the right PIN, want 3", got)
		}
		assertLog(t, logFile, "logged on as "+acct.Name+"@"+realm)
		if log, _ := os.ReadFile(logFile); bytes.Contains(log, []byte(vcard.DefaultPIN)) || bytes.Contains(log, []byte("654321")) {
			t.Error("the log contains a PIN")
		}
	})

	t.Run("card_of_another_user", func(t *testing.T) {
		svc := service(t, goodKeytab, pd.Readers[1])
		out, err := pamtester(t, svc, acct.Name, vcard.DefaultPIN)
		if err == nil {
			t.Fatalf("pamtester succeeded with %s's card:\n%s", f.other.name, out)
		}
		// The client does not guess whose certificate it is: the KDC maps
		// it to its owner and refuses it for this account.
		assertLog(t, logFile, "the KDC says the certificate does not belong to this account (KDC_ERR_CLIENT_NAME_MISMATCH (75))")
		if got := otherCard.State().PINTriesLeft(); got != 3 {
			t.Errorf("the other user's card lost a PIN try (%d left)", got)
		}
	})

	// The same through the KDC: a certificate that names someone else,
	// sent anyway (a software identity skips the card's selection).
	t.Run("certificate_of_another_user_at_the_kdc", func(t *testing.T) {
		svc := service(t, goodKeytab, pd.Readers[0], "identity = "+f.other.identity())
		os.Remove(ccPath)
		out, err := pamtester(t, svc, acct.Name, vcard.DefaultPIN)
		if err == nil {
			t.Fatalf("pamtester succeeded with %s's certificate:\n%s", f.other.name, out)
		}
		if _, err := os.Stat(ccPath); !os.IsNotExist(err) {
			t.Errorf("a ccache exists: %v", err)
		}
		assertLog(t, logFile, "the KDC says the certificate does not belong to this account")
	})

	t.Run("kdc_without_host_key", func(t *testing.T) {
		svc := service(t, foreignKeytab(t), pd.Readers[0])
		os.Remove(ccPath)
		out, err := pamtester(t, svc, acct.Name, vcard.DefaultPIN)
		if err == nil {
			t.Fatalf("pamtester succeeded though the KDC does not hold the keytab's key:\n%s", out)
		}
		if _, err := os.Stat(ccPath); !os.IsNotExist(err) {
			t.Errorf("a ccache exists after a failed validation: %v", err)
		}
		assertLog(t, logFile, "does not decrypt with the keytab's key")
	})

	t.Run("watch_on_removal", func(t *testing.T) {
		cc := &ccache.CCache{Principal: ccache.Principal{NameType: 1, Components: []string{acct.Name}, Realm: realm}}
		if err := ccache.WriteFile(ccPath, cc); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(dir, "locked")
		cmd := exec.Command(bin, "watch", "--once", "--reader", pd.Readers[0], "--interval", "100ms",
			"--on-remove", "echo \"$SCLOGON_READER\" > "+marker, "--destroy-ccache", "-c", "FILE:"+ccPath)
		var stderr harness.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		waitFor(t, func() bool { return strings.Contains(stderr.String(), "card present") })
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Fatal("the command ran before the card was removed")
		}
		removeUserCard()
		select {
		case err := <-exited:
			exited <- err
			if err != nil {
				t.Fatalf("sclogon watch: %v\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("sclogon watch did not act on the removal:\n%s", stderr.String())
		}
		got, err := os.ReadFile(marker)
		if err != nil || strings.TrimSpace(string(got)) != pd.Readers[0] {
			t.Errorf("--on-remove wrote %q (%v), want the reader's name", got, err)
		}
		if _, err := os.Stat(ccPath); !os.IsNotExist(err) {
			t.Errorf("the ccache survived the removal: %v", err)
		}
	})
}

func assertLog(t *testing.T, path, want string) {
	t.Helper()
	log, _ := os.ReadFile(path)
	if !strings.Contains(string(log), want) {
		t.Errorf("the log does not say %q:\n%s", want, log)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
