//go:build cgo

package pam_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/pam"
)

// buildModule compiles pam_sclogon.so as `make build-pam` does.
func buildModule(t *testing.T) string {
	t.Helper()
	gcc := harness.Require(t, "gcc", "gcc")
	if _, err := os.Stat("/usr/include/security/pam_modules.h"); err != nil {
		harness.Missing(t, "pam: the PAM headers are missing: install the Debian package libpam0g-dev (integration/setup does it)")
	}
	so := filepath.Join(t.TempDir(), "pam_sclogon.so")
	out, err := exec.Command(gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-shared",
		"-o", so, "module/pam_sclogon.c", "-lpam").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return so
}

// moduleStack is a PAM service through pam_sclogon.so. Each auth that
// falls through (PAM_AUTHINFO_UNAVAIL) reaches pam_exec, which appends
// "fell through" to fallLog; each session's environment lands in envLog.
type moduleStack struct {
	so, bin, conf, log, fallLog, envLog string
}

func (m moduleStack) install(t *testing.T, name string) {
	t.Helper()
	const execModule = "/lib/x86_64-linux-gnu/security/pam_exec.so"
	if _, err := os.Stat(execModule); err != nil {
		harness.Missing(t, "pam: "+execModule+" is missing: install the Debian package libpam-modules")
	}
	opts := strings.Join([]string{m.so, "helper=" + m.bin, "config=" + m.conf, "log=" + m.log, "debug"}, " ")
	stack := strings.Join([]string{
		"auth    [success=done authinfo_unavail=ignore default=die] " + opts,
		"auth    required pam_exec.so quiet log=" + m.fallLog + " /bin/echo fell through",
		"account [success=ok ignore=ignore default=bad] " + opts,
		"account required pam_permit.so",
		"session required " + opts,
		"session required pam_exec.so quiet log=" + m.envLog + " /usr/bin/env",
	}, "\n") + "\n"
	path := filepath.Join("/etc/pam.d", name)
	if err := os.WriteFile(path, []byte(stack), 0o644); err != nil {
		t.Fatalf("install PAM service: %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
}

// pamtesterOps runs pamtester with the operations and the PIN on stdin.
func pamtesterOps(t *testing.T, service, user, pin string, ops ...string) (string, error) {
	t.Helper()
	return pamtesterEnv(t, nil, service, user, pin, ops...)
}

// pamtesterEnv is pamtesterOps with env added to pamtester's environment:
// what an application in a session (a screen locker) has.
func pamtesterEnv(t *testing.T, env []string, service, user, pin string, ops ...string) (string, error) {
	t.Helper()
	bin := harness.Require(t, "pamtester", "pamtester")
	cmd := exec.Command(bin, append([]string{"-v", service, user}, ops...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(pin + "\n")
	out, err := cmd.CombinedOutput()
	t.Logf("pamtester %s %s %v: %v\n%s", service, user, ops, err, out)
	return string(out), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestPamtesterModule drives pam_sclogon.so with the real pamtester and
// the software card under pcscd: the module asks for the PIN with the tries
// left, sets KRB5CCNAME in the session, falls through without a card, and
// the KDC (not the client) decides whose certificate it is.
func TestPamtesterModule(t *testing.T) {
	f := getFixture(t)
	harness.Require(t, "pamtester", "pamtester")
	so := buildModule(t)
	bin := buildSclogon(t)
	acct := unixUser(t, f.user.name)
	altsec := unixUser(t, f.altsec.name)
	sidOnly := unixUser(t, f.sidOnly.name)
	k := f.startKDC(t)
	pd := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true})
	userCard, _ := insertCard(t, f.user, pd.CardAddrs[0])
	waitReaders(t, pd.Readers[0])

	dir := t.TempDir()
	m := moduleStack{so: so, bin: bin, log: filepath.Join(dir, "helper.log"), fallLog: filepath.Join(dir, "fall.log"), envLog: filepath.Join(dir, "env.log")}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("helper log:\n%s", readFile(t, m.log))
		}
	})
	keytab := k.keytab(t)
	// serviceCC installs a service whose pam.conf sets ccache (none when
	// empty: each session gets its own).
	serviceCC := func(t *testing.T, reader, cc string, extra ...string) string {
		t.Helper()
		m.conf = f.writeConfig(t, k.addr, keytab, cc,
			append([]string{"identity = card", "reader = " + reader, "cert_cache = " + filepath.Join(dir, "cards")}, extra...)...)
		// Certificates without a UPN may log on when a user name is given
		// (Windows' AllowCertificatesWithNoUPN with X509HintsNeeded), and
		// keys in slot 9c where the realm allows them.
		appendFile(t, m.conf, "[libdefaults]\n  sclogon_allow_no_upn = true\n  sclogon_allow_signature_keys = true\n")
		name := "sclogon-mod-" + strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-")
		m.install(t, name)
		return name
	}
	service := func(t *testing.T, reader string, extra ...string) string {
		t.Helper()
		return serviceCC(t, reader, filepath.Join(dir, "krb5cc_%{uid}"), extra...)
	}
	ccPath := func(a pam.Account) string { return filepath.Join(dir, "krb5cc_"+strconv.Itoa(a.UID)) }

	t.Run("no_card_falls_through", func(t *testing.T) {
		svc := service(t, pd.Readers[1])
		out, err := pamtesterOps(t, svc, acct.Name, "", "authenticate")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(readFile(t, m.fallLog), "fell through") {
			t.Errorf("the next auth module was not asked:\n%s", out)
		}
		if strings.Contains(out, "PIN for") {
			t.Errorf("asked for a PIN without a card:\n%s", out)
		}
		assertLog(t, m.log, "logon refused (PAM_AUTHINFO_UNAVAIL)")
	})

	t.Run("wrong_pin", func(t *testing.T) {
		svc := service(t, pd.Readers[0])
		os.Remove(m.fallLog)
		out, err := pamtesterOps(t, svc, acct.Name, "654321", "authenticate")
		if err == nil || !strings.Contains(out, "Authentication failure") {
			t.Fatalf("pamtester with a wrong PIN: %v\n%s", err, out)
		}
		if !strings.Contains(out, "PIN for "+acct.Name+"@"+realm+" (3 tries left):") {
			t.Errorf("the prompt does not show the tries left:\n%s", out)
		}
		if got := userCard.State().PINTriesLeft(); got != 2 {
			t.Errorf("PIN tries left %d after one wrong PIN, want 2", got)
		}
		if readFile(t, m.fallLog) != "" {
			t.Error("a wrong PIN fell through to the next module")
		}
		if _, err := os.Stat(ccPath(acct)); !os.IsNotExist(err) {
			t.Errorf("a ccache exists after a wrong PIN: %v", err)
		}
	})

	t.Run("right_pin_session", func(t *testing.T) {
		svc := service(t, pd.Readers[0])
		out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, "authenticate", "acct_mgmt", "open_session")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(out, "PIN for "+acct.Name+"@"+realm+" (2 tries left):") {
			t.Errorf("the prompt does not show the tries left:\n%s", out)
		}
		checkOwnedCCache(t, ccPath(acct), acct, acct.Name+"@"+realm)
		if env := readFile(t, m.envLog); !strings.Contains(env, "KRB5CCNAME=FILE:"+ccPath(acct)+"\n") {
			t.Errorf("the session environment has no KRB5CCNAME=FILE:%s:\n%s", ccPath(acct), env)
		}
		if got := userCard.State().PINTriesLeft(); got != 3 {
			t.Errorf("PIN tries left %d after the right PIN, want 3", got)
		}
		if log := readFile(t, m.log); strings.Contains(log, vcard.DefaultPIN) || strings.Contains(log, "654321") {
			t.Error("the helper's log contains a PIN")
		}
	})

	// close_session destroys the ccache the session was given, as
	// pam_krb5 does.
	t.Run("close_session_destroys_ccache", func(t *testing.T) {
		svc := service(t, pd.Readers[0])
		os.Remove(m.envLog)
		out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, "authenticate", "open_session", "close_session")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if env := readFile(t, m.envLog); !strings.Contains(env, "KRB5CCNAME=FILE:"+ccPath(acct)+"\n") {
			t.Errorf("the session environment has no KRB5CCNAME=FILE:%s:\n%s", ccPath(acct), env)
		}
		if _, err := os.Stat(ccPath(acct)); !os.IsNotExist(err) {
			t.Errorf("the ccache survived close_session: %v", err)
		}
		assertLog(t, m.log, "session closed: ccache "+ccPath(acct)+" destroyed")
	})

	// With no ccache configured each session gets its own, as with
	// pam_krb5: two sessions of one user, and closing the second leaves
	// the first its tickets.
	t.Run("per_session_ccache", func(t *testing.T) {
		svc := serviceCC(t, pd.Readers[0], "")
		pattern := regexp.MustCompile(`(?m)^KRB5CCNAME=FILE:(/tmp/krb5cc_` + strconv.Itoa(acct.UID) + `_[A-Za-z0-9]{6})$`)
		session := func(ops ...string) string {
			t.Helper()
			os.Remove(m.envLog)
			out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, append([]string{"authenticate"}, ops...)...)
			if err != nil {
				t.Fatalf("pamtester: %v\n%s", err, out)
			}
			env := readFile(t, m.envLog)
			match := pattern.FindStringSubmatch(env)
			if match == nil {
				t.Fatalf("the session environment has no KRB5CCNAME matching %s:\n%s", pattern, env)
			}
			t.Cleanup(func() { pam.DestroyCCache(match[1]) })
			return match[1]
		}
		first := session("open_session")
		checkOwnedCCache(t, first, acct, acct.Name+"@"+realm)

		// A screen unlock: the session's KRB5CCNAME in the locker's
		// environment, authenticate alone. The session's ccache is
		// refreshed (a new file renamed over it), none is added.
		sessionFiles := func() []string {
			m, _ := filepath.Glob("/tmp/krb5cc_" + strconv.Itoa(acct.UID) + "_*")
			return m
		}
		before, st0 := sessionFiles(), statIno(t, first)
		if out, err := pamtesterEnv(t, []string{"KRB5CCNAME=FILE:" + first}, svc, acct.Name, vcard.DefaultPIN, "authenticate"); err != nil {
			t.Fatalf("re-authentication: %v\n%s", err, out)
		}
		if after := sessionFiles(); len(after) != len(before) {
			t.Errorf("re-authentication left %d session ccaches, had %d: %v", len(after), len(before), after)
		}
		if statIno(t, first) == st0 {
			t.Errorf("re-authentication did not refresh %s", first)
		}
		checkOwnedCCache(t, first, acct, acct.Name+"@"+realm)
		second := session("open_session", "close_session")
		if second == first {
			t.Fatalf("two sessions share the ccache %s", first)
		}
		if _, err := os.Lstat(second); !os.IsNotExist(err) {
			t.Errorf("the second session's ccache survived its close_session: %v", err)
		}
		assertLog(t, m.log, "session closed: ccache "+second+" destroyed")
		checkOwnedCCache(t, first, acct, acct.Name+"@"+realm)
	})

	// A key in slot 9c whose PIN policy is "always": the PIN typed at
	// the conversation goes to the card right before the key signs.
	t.Run("always_key_9c", func(t *testing.T) {
		waitGone(t, pd.Readers[1])
		verifies := 0
		var mu sync.Mutex
		remove := serveCardWith(t, pd.CardAddrs[1], map[byte]person{0x9C: f.user}, vcard.PINPolicyAlways, func(e vcard.Exchange) {
			if e.INS == 0x20 && e.Nc > 0 {
				mu.Lock()
				verifies++
				mu.Unlock()
			}
		})
		defer func() { remove(); waitGone(t, pd.Readers[1]) }()
		waitReaders(t, pd.Readers[1])
		svc := service(t, pd.Readers[1])
		os.Remove(ccPath(acct))
		out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, "authenticate")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if n := strings.Count(out, "PIN for "+acct.Name+"@"+realm+" (3 tries left):"); n != 1 {
			t.Errorf("%d PIN prompts, want 1:\n%s", n, out)
		}
		mu.Lock()
		defer mu.Unlock()
		if verifies != 1 {
			t.Errorf("%d VERIFY with a PIN, want 1", verifies)
		}
		checkOwnedCCache(t, ccPath(acct), acct, acct.Name+"@"+realm)
	})

	// card_wait: with no card, the module says "Insert your smart card"
	// and the logon goes on when the card is inserted.
	t.Run("card_wait", func(t *testing.T) {
		waitGone(t, pd.Readers[1])
		svc := service(t, pd.Readers[1], "card_wait = 60s")
		os.Remove(ccPath(acct))
		cmd := exec.Command(harness.Require(t, "pamtester", "pamtester"), "-v", svc, acct.Name, "authenticate")
		cmd.Stdin = strings.NewReader(vcard.DefaultPIN + "\n")
		var out harness.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		waitFor(t, func() bool { return strings.Contains(readFile(t, m.log), "asking for one and waiting up to 1m0s") })
		_, remove := insertCard(t, f.user, pd.CardAddrs[1])
		defer func() { remove(); waitGone(t, pd.Readers[1]) }()
		select {
		case err := <-exited:
			t.Logf("pamtester: %v\n%s", err, out.String())
			if err != nil {
				t.Fatalf("pamtester: %v", err)
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the logon did not go on after the card was inserted:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "Insert your smart card") || !strings.Contains(out.String(), "PIN for "+acct.Name+"@"+realm) {
			t.Errorf("the conversation:\n%s", out.String())
		}
		checkOwnedCCache(t, ccPath(acct), acct, acct.Name+"@"+realm)
	})

	// A PIN-pad reader: the PIN is typed on the reader (by the test), the
	// conversation says so and asks for nothing, and a wrong PIN costs
	// exactly one try.
	t.Run("pin_pad", func(t *testing.T) {
		padCard, _ := insertCard(t, f.user, pd.PINPad.CardAddr)
		waitReaders(t, pd.PINPad.Reader)
		svc := service(t, pd.PINPad.Reader)
		os.Remove(ccPath(acct))
		pd.PINPad.Type(t, "000000")
		out, err := pamtesterOps(t, svc, acct.Name, "", "authenticate")
		if err == nil || !strings.Contains(out, "Authentication failure") {
			t.Fatalf("pamtester with a wrong PIN on the pad: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Enter the PIN on the reader") || strings.Contains(out, "PIN for") {
			t.Errorf("the conversation:\n%s", out)
		}
		if got := padCard.State().PINTriesLeft(); got != 2 {
			t.Errorf("PIN tries left %d after one wrong PIN on the pad, want 2", got)
		}
		pd.PINPad.Type(t, vcard.DefaultPIN)
		out, err = pamtesterOps(t, svc, acct.Name, "", "authenticate", "open_session")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Enter the PIN on the reader") || strings.Contains(out, "PIN for") {
			t.Errorf("the conversation:\n%s", out)
		}
		if pd.PINPad.Pending() {
			t.Error("the reader did not take the PIN typed on it")
		}
		if got := padCard.State().PINTriesLeft(); got != 3 {
			t.Errorf("PIN tries left %d after the right PIN, want 3", got)
		}
		checkOwnedCCache(t, ccPath(acct), acct, acct.Name+"@"+realm)
	})

	// The card of another user: the client does not guess; the KDC maps the
	// certificate to its owner and refuses it for this account.
	t.Run("card_of_another_user", func(t *testing.T) {
		_, remove := insertCard(t, f.other, pd.CardAddrs[1])
		defer remove()
		waitReaders(t, pd.Readers[1])
		svc := service(t, pd.Readers[1])
		out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, "authenticate")
		if err == nil || !strings.Contains(out, "Authentication failure") {
			t.Fatalf("pamtester with %s's card: %v\n%s", f.other.name, err, out)
		}
		assertLog(t, m.log, "KDC_ERR_CLIENT_NAME_MISMATCH (75)")
	})

	// Two usable certificates on one card: the module offers the choice
	// through the conversation.
	t.Run("choice_of_certificates", func(t *testing.T) {
		waitGone(t, pd.Readers[1])
		remove := serveCard(t, pd.CardAddrs[1], map[byte]person{0x9A: f.other, 0x9D: f.user})
		defer func() { remove(); waitGone(t, pd.Readers[1]) }()
		waitReaders(t, pd.Readers[1])
		svc := service(t, pd.Readers[1])
		os.Remove(ccPath(acct))
		out, err := pamtesterOps(t, svc, acct.Name, "2\n"+vcard.DefaultPIN, "authenticate")
		if err != nil {
			t.Fatalf("pamtester: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Several certificates may log on:") || !strings.Contains(out, "2) "+f.user.name+"@example.com (slot 9d") || !strings.Contains(out, "Certificate [1-2]: ") {
			t.Errorf("no choice offered:\n%s", out)
		}
		checkOwnedCCache(t, ccPath(acct), acct, acct.Name+"@"+realm)
	})

	// Certificates without a UPN: mapped by altSecurityIdentities alone,
	// and by the SID extension alone.
	for _, tc := range []struct {
		name string
		p    person
		acct pam.Account
	}{{"altsecid_only", f.altsec, altsec}, {"sid_only", f.sidOnly, sidOnly}} {
		t.Run(tc.name, func(t *testing.T) {
			waitGone(t, pd.Readers[1])
			_, remove := insertCard(t, tc.p, pd.CardAddrs[1])
			defer func() { remove(); waitGone(t, pd.Readers[1]) }()
			waitReaders(t, pd.Readers[1])
			svc := service(t, pd.Readers[1])
			out, err := pamtesterOps(t, svc, tc.acct.Name, vcard.DefaultPIN, "authenticate", "open_session")
			if err != nil {
				t.Fatalf("pamtester: %v\n%s", err, out)
			}
			checkOwnedCCache(t, ccPath(tc.acct), tc.acct, tc.acct.Name+"@"+realm)
		})
	}

	t.Run("blocked_pin", func(t *testing.T) {
		svc := service(t, pd.Readers[0])
		for userCard.State().PINTriesLeft() > 0 {
			if out, err := pamtesterOps(t, svc, acct.Name, "000000", "authenticate"); err == nil {
				t.Fatalf("pamtester accepted a wrong PIN:\n%s", out)
			}
		}
		out, err := pamtesterOps(t, svc, acct.Name, vcard.DefaultPIN, "authenticate")
		if err == nil || !strings.Contains(out, "Have exhausted maximum number of retries") {
			t.Fatalf("pamtester with a blocked PIN: %v\n%s", err, out)
		}
		if strings.Contains(out, "PIN for") {
			t.Errorf("asked for the PIN of a blocked card:\n%s", out)
		}
		assertLog(t, m.log, "logon refused (PAM_MAXTRIES)")
	})
}

// serveCard serves a software card with each person's key and certificate
// in its slot at addr; the returned func takes it out.
func serveCard(t *testing.T, addr string, slots map[byte]person) (remove func()) {
	t.Helper()
	return serveCardWith(t, addr, slots, vcard.PINPolicyOnce, nil)
}

// serveCardWith is serveCard with the keys' PIN policy and an observer of
// the card's commands.
func serveCardWith(t *testing.T, addr string, slots map[byte]person, policy vcard.PINPolicy, observe func(vcard.Exchange)) (remove func()) {
	t.Helper()
	st, err := vcard.NewState(nil)
	if err != nil {
		t.Fatal(err)
	}
	for slot, p := range slots {
		if err := st.SetKey(slot, p.key, policy); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCertificate(slot, p.cert.Raw); err != nil {
			t.Fatal(err)
		}
	}
	c := vcard.New(st, vcard.Options{Observe: observe})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.ServeVPCD(ctx, addr, nil)
	}()
	remove = func() { cancel(); <-done }
	t.Cleanup(remove)
	return remove
}

// checkOwnedCCache: the ccache at path is the account's, 0600, for
// principal, holding one unexpired credential (the TGT: PAM keeps no other).
func checkOwnedCCache(t *testing.T, path string, a pam.Account, principal string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if int(sys.Uid) != a.UID || int(sys.Gid) != a.GID || st.Mode().Perm() != 0o600 {
		t.Errorf("ccache owner %d:%d mode %04o, want %d:%d 0600", sys.Uid, sys.Gid, st.Mode().Perm(), a.UID, a.GID)
	}
	cc, err := ccache.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Principal.String() != principal || len(cc.Credentials) != 1 || !cc.Credentials[0].EndTime.After(time.Now()) {
		t.Errorf("ccache for %s with %d credentials, want %s with one unexpired TGT", cc.Principal, len(cc.Credentials), principal)
	}
}

// waitGone waits until pcscd reports no card in reader.
func waitGone(t *testing.T, reader string) {
	t.Helper()
	waitFor(t, func() bool {
		have, err := pcsc.Provider{}.Readers()
		return err == nil && !slices.Contains(have, reader)
	})
}

// statIno is path's inode: a ccache written anew and renamed into place
// has another.
func statIno(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}
