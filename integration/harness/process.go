// Package harness starts the real components sclogon is tested against — slapd,
// pcscd with the vpcd virtual reader, MIT's and Heimdal's KDCs and client tools,
// and a Samba AD domain controller — on loopback (Samba in a network namespace of
// its own), with private configuration and data under t.TempDir().
//
// Call the Start functions from a test: [StartSlapd], [StartPCSCD], [StartMITKDC],
// [StartHeimdalKDC], [StartSambaDC], and [NewMITClient] or [NewHeimdalClient] for
// the client tools against any KDC. Every process started
// here is stopped and reaped when the test ends, whether it passed or failed, and
// dies with the test binary if that is killed (the kernel's parent-death signal).
// Logs are captured and printed only when the test fails.
//
// # Missing components
//
// [Require] looks a program up. Under CI=true a missing program fails the test,
// naming the Debian package to install; elsewhere the test skips with the same
// message. `make test` installs everything first (integration/setup).
package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sbinDirs are searched after PATH: daemons live in sbin, which a non-root
// PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// Require returns the path of program, or ends the test: under CI=true with a
// failure, elsewhere with a skip, both naming the Debian package that has it.
func Require(tb testing.TB, program, debianPackage string) string {
	tb.Helper()
	if p, err := lookPath(program); err == nil {
		return p
	}
	Missing(tb, fmt.Sprintf("harness: %s not found: install the Debian package %s (integration/setup does it)", program, debianPackage))
	return ""
}

// Missing ends a test whose component is not installed: a failure under CI=true,
// where every component must be present, and a skip elsewhere.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("harness: %s not found", program)
}

// spawner starts every child from one OS thread that never exits. The kernel
// delivers the parent-death signal when the thread that forked a child dies, not
// the process, so forking from an arbitrary goroutine's thread could kill a child
// early if the runtime retired that thread.
var spawner struct {
	once sync.Once
	reqs chan func()
}

func spawn(f func()) {
	spawner.once.Do(func() {
		spawner.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawner.reqs <- func() { f(); close(done) }
	<-done
}

// prepare makes cmd die with the test binary and sit in its own process group.
func prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}

// Buffer is a bytes.Buffer that goroutines may write and read at once: a
// process's output, a KDC's audit log, a card's trace.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Process is a long-running child started by [Start].
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  *Buffer
	done chan struct{}
	err  error // set before done is closed

	stopOnce sync.Once
}

// Start runs cmd in the background as a component named name. Its stdout and
// stderr are captured (unless the caller set them) and printed if the test fails;
// it is stopped and reaped when the test ends.
func Start(tb testing.TB, name string, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := launch(tb, name, cmd)
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("harness: %s (pid %d) %s; its output:\n%s", name, p.PID(), p.exitState(), p.Log())
		}
	})
	return p
}

// PID is the process id of the component.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log is what the component has printed so far.
func (p *Process) Log() string { return p.log.String() }

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.done }

func (p *Process) exitState() string {
	select {
	case <-p.done:
		return fmt.Sprintf("exited (%v)", p.err)
	default:
		return "still running"
	}
}

// Stop sends SIGTERM to the component's process group, SIGKILL after five
// seconds, and waits until the process is reaped. It is safe to call twice.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.done
			}
		}
		// Anything the component forked into its group goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// Kill stops the component abruptly (SIGKILL) and waits until it is reaped, as a
// crash would; tests use it to check that clients cope with a dead component.
func (p *Process) Kill() {
	p.stopOnce.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// Run runs a short-lived command to completion and returns its combined output;
// a non-zero exit fails the test with that output.
func Run(tb testing.TB, cmd *exec.Cmd) string {
	tb.Helper()
	out, err := RunErr(cmd)
	if err != nil {
		tb.Fatalf("harness: %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// RunErr runs a short-lived command to completion and returns its combined output
// and error, for tests that expect the command to fail.
func RunErr(cmd *exec.Cmd) (string, error) {
	var out Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &out
	}
	prepare(cmd)
	var err error
	spawn(func() { err = cmd.Start() })
	if err == nil {
		err = cmd.Wait()
	}
	return out.String(), err
}

// FreePort returns a loopback port that is free for both TCP and UDP at the time
// of the call.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 200 {
		// Below the kernel's ephemeral range (32768 and up by default),
		// so no outgoing connection of another test takes the port
		// between this check and the peer's bind.
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("harness: no port free for both TCP and UDP after 200 tries")
	return 0
}

// The range FreePort picks from: registered ports nobody uses here, below
// the ephemeral range and away from vpcd's 35963 and up.
const freePortLow, freePortHigh = 20000, 32000

// WaitFor polls ready until it returns nil, the process exits, or timeout passes;
// it then fails the test with the last error.
func WaitFor(tb testing.TB, p *Process, timeout time.Duration, ready func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	delay := 2 * time.Millisecond
	for {
		err := ready()
		if err == nil {
			return
		}
		if p != nil {
			select {
			case <-p.done:
				tb.Fatalf("harness: %s exited before it was ready (%v): %v", p.Name, p.err, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			name := "component"
			if p != nil {
				name = p.Name
			}
			tb.Fatalf("harness: %s not ready after %v: %v", name, timeout, err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// TCPReady reports whether something accepts connections at addr.
func TCPReady(addr string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// unixReady reports whether something accepts connections on the socket path.
func unixReady(path string) func() error {
	return func() error {
		c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Alive reports whether pid names a process that is running: not gone and not a
// zombie waiting to be reaped.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself hold ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

// writeFile writes a private file, failing the test on error.
func writeFile(tb testing.TB, path string, data []byte, perm os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		tb.Fatalf("harness: %v", err)
	}
}

// launch starts cmd as a child that dies with the test binary, its output
// captured unless the caller set its own, and reaps it when it exits; the
// caller decides who stops it.
func launch(tb testing.TB, name string, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{Name: name, cmd: cmd, log: &Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.log
	}
	prepare(cmd)
	var err error
	spawn(func() { err = cmd.Start() })
	if err != nil {
		tb.Fatalf("harness: start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}
