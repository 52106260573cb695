package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/integration/harness"
)

// TestKDCStopsOnSIGTERM runs the real `sclogon kdc` process, has it answer a
// request, then sends SIGTERM: it stops accepting, finishes, logs that it
// stopped and exits 0.
func TestKDCStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sclogon")
	harness.Run(t, exec.Command("go", "build", "-o", bin, "."))

	ca := writeKDCIdentity(t, dir)
	sid, _ := certs.NewSID(5, 21, 1, 2, 3, 1104)
	ldif := fmt.Sprintf("dn: cn=alice,dc=example,dc=com\nobjectClass: user\ncn: alice\nsn: a\nsAMAccountName: alice\nobjectSid:: %s\n", base64.StdEncoding.EncodeToString(sid.Marshal()))
	if err := os.WriteFile(filepath.Join(dir, "users.ldif"), []byte(ldif), 0o644); err != nil {
		t.Fatal(err)
	}
	port := harness.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conf := fmt.Sprintf("[kdc]\n realm = EXAMPLE.COM\n listen = %s\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = %s\n ntauth = %s\n ocsp = off\n audit_log = audit.jsonl\n[directory]\n ldif = users.ldif\n",
		addr, ca.RootPath(), ca.NTAuthPath())
	if err := os.WriteFile(filepath.Join(dir, "kdc.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	cmd := exec.Command(bin, "kdc", "--config", filepath.Join(dir, "kdc.conf"))
	cmd.Stderr = &stderr
	p := harness.Start(t, "sclogon kdc", cmd)
	harness.WaitFor(t, p, 10*time.Second, harness.TCPReady(addr))

	// One request (garbage: a KRB-ERROR comes back), so the KDC has served.
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{0x6a, 0x00})
	buf := make([]byte, 1024)
	if n, err := c.Read(buf); err != nil || n == 0 || buf[0] != 0x7e {
		t.Fatalf("KDC reply %x, %v; want a KRB-ERROR", buf[:n], err)
	}
	c.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("sclogon kdc did not exit within 15 s of SIGTERM")
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("exit %v; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sclogon kdc: stopped") {
		t.Fatalf("no 'stopped' line:\n%s", stderr.String())
	}
	// The server's counts of what it refused, as it stops.
	if !strings.Contains(stderr.String(), "kdc: server stopped") || !strings.Contains(stderr.String(), "tcp_refused=0") {
		t.Fatalf("no counts of what the server refused:\n%s", stderr.String())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the KDC still accepts connections after exiting")
	}
}
