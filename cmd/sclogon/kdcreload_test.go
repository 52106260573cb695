package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// reloadKDC is a real `sclogon kdc` process under a fake service manager:
// its $NOTIFY_SOCKET is the test's.
type reloadKDC struct {
	dir, conf, httpAddr string
	cmd                 *exec.Cmd
	p                   *harness.Process
	stderr              *harness.Buffer
	notify              *net.UnixConn
}

// directoryEntry is an LDIF user mapped by the SID extension.
func directoryEntry(name string, rid uint32) string {
	sid, _ := certs.NewSID(5, 21, 1, 2, 3, rid)
	return fmt.Sprintf("dn: cn=%s,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: %s\nsn: %s\nsAMAccountName: %s\nuserPrincipalName: %s@EXAMPLE.COM\nobjectSid:: %s\nuserAccountControl: 512\n\n",
		name, name, name, name, name, base64.StdEncoding.EncodeToString(sid.Marshal()))
}

// issueUser writes name's certificate (UPN and SID extension) and key into
// dir and returns the kinit identity.
func issueUser(t *testing.T, ca *pki.CA, dir, name string, rid uint32) string {
	t.Helper()
	sid, _ := certs.NewSID(5, 21, 1, 2, 3, rid)
	key, cert := issueFor(t, ca, pki.UserProfile, pki.User{UPN: name + "@EXAMPLE.COM", SID: sid})
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := pki.WriteKeyAndCert(keyPath, certPath, key, cert); err != nil {
		t.Fatal(err)
	}
	return "FILE:" + certPath + "," + keyPath
}

func startReloadKDC(t *testing.T, bin string, ca *pki.CA, dir string) *reloadKDC {
	t.Helper()
	kdcKey, kdcCert := issueFor(t, ca, pki.KDCProfile, pki.KDC{Realm: "EXAMPLE.COM"})
	if err := pki.WriteKeyAndCert(filepath.Join(dir, "kdc.key"), filepath.Join(dir, "kdc.pem"), kdcKey, kdcCert); err != nil {
		t.Fatal(err)
	}
	x := &reloadKDC{dir: dir, conf: filepath.Join(dir, "kdc.conf"), stderr: &harness.Buffer{},
		httpAddr: fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	conf := fmt.Sprintf("[kdc]\n realm = EXAMPLE.COM\n listen = %s\n http_listen = %s\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = %s\n ntauth = %s\n ocsp = off\n audit_log = audit.jsonl\n[mapping]\n sid_trusted_ca = %s\n[directory]\n ldif = users.ldif\n",
		addr, x.httpAddr, ca.RootPath(), ca.NTAuthPath(), ca.NTAuthPath())
	writeTestFile(t, x.conf, conf)
	sock := filepath.Join(dir, "notify")
	var err error
	if x.notify, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.notify.Close() })
	x.cmd = exec.Command(bin, "kdc", "--config", x.conf)
	x.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	x.cmd.Stderr = x.stderr
	x.p = harness.Start(t, "sclogon kdc", x.cmd)
	x.await(t, "READY=1")
	mit := harness.NewMITClient(t, harness.MITClientConfig{Realm: "EXAMPLE.COM", KDCs: []string{addr}, AnchorsPEM: pki.CertPEM(ca.Root())})
	t.Setenv("KRB5_CONFIG", mit.Config)
	t.Setenv("KRB5CCNAME", "FILE:"+mit.CCache)
	return x
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// await reads the service manager's messages until one has want, and
// returns it.
func (x *reloadKDC) await(t *testing.T, want string) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = x.notify.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		n, err := x.notify.Read(buf)
		if err != nil {
			t.Fatalf("no %q from the KDC to the service manager: %v\nstderr:\n%s", want, err, x.stderr.String())
		}
		if msg := string(buf[:n]); strings.Contains(msg, want) {
			return msg
		}
	}
}

// awaitLog waits for want in the KDC's log: its stderr reaches the test
// through a pipe, maybe after the notify message that followed it.
func (x *reloadKDC) awaitLog(t *testing.T, want string) {
	t.Helper()
	harness.WaitFor(t, x.p, 30*time.Second, func() error {
		if !strings.Contains(x.stderr.String(), want) {
			return fmt.Errorf("no %q in the log yet", want)
		}
		return nil
	})
}

// hup sends SIGHUP and waits for the reload to end.
func (x *reloadKDC) hup(t *testing.T) {
	t.Helper()
	if err := x.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if msg := x.await(t, "RELOADING=1"); !strings.Contains(msg, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
	}
	x.await(t, "READY=1")
}

func (x *reloadKDC) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + x.httpAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func kinitWorks(t *testing.T, identity string) bool {
	t.Helper()
	code, _, _ := runKinitCmd(t, "", "--identity", identity)
	return code == exitOK
}

// TestKDCReloadsOnSIGHUP runs the real `sclogon kdc` under a fake service
// manager: READY=1 once it listens; on SIGHUP after bob is added to the
// LDIF file, RELOADING=1 then READY=1, and bob logs on without a restart;
// on SIGHUP with a broken file, the reason in the log and alice still logs
// on; /metrics counts both reloads; SIGTERM ends it with STOPPING=1.
func TestKDCReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sclogon")
	harness.Run(t, exec.Command("go", "build", "-o", bin, "."))
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := issueUser(t, ca, dir, "alice", 1104), issueUser(t, ca, dir, "bob", 1105)
	ldif := filepath.Join(dir, "users.ldif")
	writeTestFile(t, ldif, directoryEntry("alice", 1104))
	x := startReloadKDC(t, bin, ca, dir)

	if !kinitWorks(t, alice) || kinitWorks(t, bob) {
		t.Fatalf("before the reload, alice and not bob should log on:\n%s", x.stderr.String())
	}
	if code, body := x.get(t, "/healthz/ready"); code != 200 {
		t.Errorf("/healthz/ready: %d %q", code, body)
	}

	writeTestFile(t, ldif, directoryEntry("alice", 1104)+directoryEntry("bob", 1105))
	x.hup(t)
	if !kinitWorks(t, bob) {
		t.Fatalf("bob does not log on after the reload:\n%s", x.stderr.String())
	}

	good, _ := os.ReadFile(x.conf)
	writeTestFile(t, x.conf, strings.Replace(string(good), "[kdc]\n", "[kdc]\n bogus = 1\n", 1))
	x.hup(t)
	x.awaitLog(t, "reload refused; the configuration loaded before serves on")
	if log := x.stderr.String(); !strings.Contains(log, "kdc.bogus: unknown key") {
		t.Errorf("the refused reload is not logged with its reason:\n%s", log)
	}
	if !kinitWorks(t, alice) || !kinitWorks(t, bob) {
		t.Fatalf("logons stopped after a refused reload:\n%s", x.stderr.String())
	}
	_, metrics := x.get(t, "/metrics")
	for _, want := range []string{`sclogon_kdc_reloads_total{result="ok"} 1`, `sclogon_kdc_reloads_total{result="failed"} 1`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics has no %q:\n%s", want, metrics)
		}
	}

	if err := x.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	x.await(t, "STOPPING=1")
	select {
	case <-x.p.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("sclogon kdc did not exit within 15 s of SIGTERM")
	}
	if code := x.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, x.stderr.String())
	}
}
