//go:build cgo && linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// openPTY opens a pseudo-terminal pair: the master for the test, the
// slave for the command's terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestKinitCancelAtPINPrompt is issue 19's Ctrl-C acceptance: the real
// `sclogon kinit` on a terminal (a pty), the software card under pcscd,
// MIT's KDC; at the PIN prompt the test types Ctrl-C. kinit exits 130 at
// once, says it was interrupted, and the card's trace shows no VERIFY.
func TestKinitCancelAtPINPrompt(t *testing.T) {
	p := harness.StartPCSCD(t)
	e := newKinitEnv(t)
	ca, err := pki.Open(filepath.Join(e.dir, "ca"), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := cardtest.NewState(t)
	key := cardtest.Key(t, pki.P256)
	prof := cardtest.LogonProfile("alice", "")
	prof.SAN.UPNs = []string{"alice@EXAMPLE.COM"}
	cardtest.Put(t, st, card.SlotAuthentication, key, (&cardtest.PKI{CA: ca}).Issue(t, key, prof))
	var trace harness.Buffer
	soft := vcard.New(st, vcard.Options{Trace: &trace})
	serveSoftCard(t, soft, p.CardAddrs[0])

	bin := filepath.Join(t.TempDir(), "sclogon")
	harness.Run(t, exec.Command("go", "build", "-o", bin, "."))
	master, slave := openPTY(t)
	cmd := exec.Command(bin, "kinit", "--reader", p.Readers[0], "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"))
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// Its own session, with the pty as its controlling terminal: Ctrl-C on
	// the pty is SIGINT to it, and /dev/tty is the pty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var screen harness.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			_, _ = screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})

	const prompt = "PIV PIN for alice@EXAMPLE.COM to sign the logon request (3 tries left): "
	waitFor := time.Now().Add(60 * time.Second) // a bound, not a speed
	for !strings.Contains(screen.String(), prompt) {
		select {
		case err := <-exited:
			t.Fatalf("kinit ended before the prompt: %v\n%s", err, screen.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(waitFor) {
			t.Fatalf("no PIN prompt; the terminal shows:\n%s", screen.String())
		}
	}
	if _, err := master.Write([]byte{0x03}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(30 * time.Second): // a bound: a swallowed Ctrl-C waits for Enter forever
		t.Fatalf("kinit did not end after Ctrl-C; the terminal shows:\n%s", screen.String())
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("kinit after Ctrl-C: %v, want exit %d; the terminal shows:\n%s", werr, exitInterrupted, screen.String())
	}
	time.Sleep(100 * time.Millisecond) // let the pty reader take the last line
	if out := screen.String(); !strings.Contains(out, "sclogon: interrupted at the prompt; nothing was sent to the card") {
		t.Errorf("the terminal shows:\n%s", out)
	}
	tr := trace.String()
	if strings.Contains(tr, "00 20 00 80 [") || strings.Contains(tr, "00 20 00 00 [") {
		t.Fatalf("the card saw a VERIFY with a PIN:\n%s", tr)
	}
	if !strings.Contains(tr, "00 A4 04 00") {
		t.Fatalf("the card's trace shows no SELECT: the test did not use it\n%s", tr)
	}
	t.Logf("the card's trace, from selection to Ctrl-C:\n%s", tr)
}
