package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pcscd listens on a fixed socket, so there can be one per machine. Every test
// binary that needs it takes this lock first: tests in one package and in the
// packages `go test ./...` runs side by side take turns.
const (
	pcscdSocket  = "/run/pcscd/pcscd.comm"
	pcscdPIDFile = "/run/pcscd/pcscd.pid"
	pcscdLock    = "sclogon-pcscd.lock"
)

// PCSC is a running pcscd with the vpcd driver's two virtual readers.
type PCSC struct {
	// Readers are the reader names as PC/SC clients list them.
	Readers []string
	// CardAddrs are where a software card connects (vpcd's card side), one per
	// reader, in the order of Readers.
	CardAddrs []string
	// PINPad is the PIN-pad reader of [PCSCOptions.PINPad], or nil.
	PINPad *PINPad

	proc *Process
}

// Process is the running pcscd.
func (p *PCSC) Process() *Process { return p.proc }

// StartPCSCD takes the machine-wide pcscd lock (waiting for other tests to
// finish with it), then starts pcscd in the foreground with a private reader
// configuration whose vpcd readers listen on free loopback ports.
func StartPCSCD(tb testing.TB) *PCSC { tb.Helper(); return StartPCSCDWith(tb, PCSCOptions{}) }

// PCSCOptions add readers to [StartPCSCDWith].
type PCSCOptions struct {
	// PINPad adds a PIN-pad reader ([PCSC.PINPad]) beside vpcd's two.
	PINPad bool
}

// StartPCSCDWith is [StartPCSCD] with the readers o asks for.
func StartPCSCDWith(tb testing.TB, o PCSCOptions) *PCSC {
	tb.Helper()
	pcscd := Require(tb, "pcscd", "pcscd")
	var padDriver string
	if o.PINPad {
		padDriver = buildPINPad(tb)
	}
	const driver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	if _, err := os.Stat(driver); err != nil {
		Missing(tb, "harness: the vpcd driver "+driver+" is missing: install the Debian package vsmartcard-vpcd")
	}
	lockMachinePCSCD(tb)
	if pid, ok := runningPCSCD(); ok {
		tb.Fatalf("harness: another pcscd (pid %d) is running and owns %s; stop it to run this test", pid, pcscdSocket)
	}
	// A pcscd that was killed leaves its pid file and socket; while its zombie
	// waits to be reaped, a new pcscd takes it for a running one and exits.
	for _, f := range []string{pcscdPIDFile, pcscdSocket} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			tb.Fatalf("harness: remove stale %s: %v", f, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(pcscdSocket), 0o755); err != nil {
		tb.Fatalf("harness: %v", err)
	}

	port := freePortPair(tb)
	confDir := filepath.Join(tb.TempDir(), "reader.conf.d")
	if err := os.Mkdir(confDir, 0o700); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	// vpcd takes its TCP port from the channel id; the second reader gets port+1.
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x%04X\nLIBPATH      %s\nCHANNELID    0x%04X\n", port, driver, port)
	writeFile(tb, filepath.Join(confDir, "vpcd"), []byte(conf), 0o600)
	var pad *PINPad
	if o.PINPad {
		pad = configurePINPad(tb, confDir, padDriver)
	}

	proc := Start(tb, "pcscd", exec.Command(pcscd, "--foreground", "--config", confDir, "--info"))
	WaitFor(tb, proc, 10*time.Second, func() error {
		if err := unixReady(pcscdSocket)(); err != nil {
			return err
		}
		ports := []int{port, port + 1}
		if pad != nil {
			ports = append(ports, pad.port)
		}
		for _, p := range ports {
			if !tcpListening(p) {
				return fmt.Errorf("vpcd reader port %d not listening yet", p)
			}
		}
		return nil
	})
	return &PCSC{
		Readers:   []string{"Virtual PCD 00 00", "Virtual PCD 00 01"},
		CardAddrs: []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1)},
		PINPad:    pad,
		proc:      proc,
	}
}

// lockMachinePCSCD blocks until this test holds the machine-wide pcscd lock and
// releases it when the test ends, after pcscd has been stopped (cleanups run
// last-registered first).
func lockMachinePCSCD(tb testing.TB) {
	tb.Helper()
	path := filepath.Join(os.TempDir(), pcscdLock)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		tb.Fatalf("harness: pcscd lock: %v", err)
	}
	// flock locks belong to the open file description, so two tests in one
	// binary exclude each other as well as two binaries do.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("harness: pcscd lock: %v", err)
	}
	tb.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

// runningPCSCD reports a live pcscd named by the pid file.
func runningPCSCD() (int, bool) {
	b, err := os.ReadFile(pcscdPIDFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !Alive(pid) {
		return 0, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "pcscd" {
		return 0, false
	}
	return pid, true
}

// freePortPair finds p such that p and p+1 are both free for TCP.
func freePortPair(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		// The vpcd driver binds without SO_REUSEADDR, so a port that still
		// has a socket in TIME_WAIT (an earlier card's connection) is as
		// taken as a listening one: require no socket at all.
		p := FreePort(tb)
		if p < 0xFFFF && !tcpPortUsed(p) && !tcpPortUsed(p+1) && TCPReady(fmt.Sprintf("127.0.0.1:%d", p+1))() != nil {
			return p
		}
	}
	tb.Fatal("harness: no two adjacent free ports for the vpcd readers")
	return 0
}

// tcpListening reads the kernel's socket table rather than connecting: a probe
// connection to vpcd's port would look like a card arriving and leaving.
func tcpListening(port int) bool { return tcpSocket(port, true) }

// tcpPortUsed reports any TCP socket bound to port, in any state.
func tcpPortUsed(port int) bool { return tcpSocket(port, false) }

func tcpSocket(port int, listeningOnly bool) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(fields) > 3 && strings.HasSuffix(fields[1], want) && (!listeningOnly || fields[3] == "0A") {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// cardSeen is what pcscd logs (at --info) each time it finds a card in a
// reader: after "Card inserted into …" for a card that arrives, and alone for
// one that was already there when its reader's event thread started.
const cardSeen = "Card ATR: "

// CardEvents counts the cards pcscd has found so far; pass it to
// [PCSC.WaitForCard] before inserting the next one.
func (p *PCSC) CardEvents() int { return strings.Count(p.proc.Log(), cardSeen) }

// WaitForCard waits until pcscd has found a card after the before-th, so
// that PC/SC clients see it.
func (p *PCSC) WaitForCard(tb testing.TB, before int, timeout time.Duration) {
	tb.Helper()
	WaitFor(tb, p.proc, timeout, func() error {
		if p.CardEvents() > before {
			return nil
		}
		return fmt.Errorf("pcscd has found no new card (%d found so far)", before)
	})
}
