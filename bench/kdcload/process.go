package kdcload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a KDC running as a child process on a loopback port.
type Process struct {
	Name string // "sclogon kdc", "MIT krb5kdc"
	Addr string // 127.0.0.1:PORT, UDP and TCP
	Dir  string // its configuration and state

	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	err  error
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

func startProcess(name, dir, addr string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{Name: name, Addr: addr, Dir: dir, cmd: cmd, log: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	// Its own process group, and killed with us if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kdcload: start %s: %w", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("kdcload: %s exited at start (%v):\n%s", name, p.err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("kdcload: %s is not listening on %s after 15s:\n%s", name, addr, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the KDC's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log is what the process wrote to stdout and stderr.
func (p *Process) Log() string { return p.log.String() }

// Stop ends the process with SIGTERM (SIGKILL after 10 s) and reaps it.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// Usage is a process tree's resource use at one moment.
type Usage struct {
	CPU     time.Duration // user + system time so far, of the process and its live children
	PeakRSS int64         // bytes: the sum of VmHWM over the same processes
}

// Usage reads the KDC's CPU time and peak RSS from /proc. MIT's krb5kdc -w N
// forks workers: they are counted too.
func (p *Process) Usage() (Usage, error) {
	return treeUsage(p.PID())
}

func treeUsage(pid int) (Usage, error) {
	var u Usage
	for _, id := range append([]int{pid}, children(pid)...) {
		cpu, err := procCPU(id)
		if err != nil {
			return Usage{}, err
		}
		rss, err := procHWM(id)
		if err != nil {
			return Usage{}, err
		}
		u.CPU += cpu
		u.PeakRSS += rss
	}
	return u, nil
}

// children lists pid's child processes (/proc/PID/task/*/children).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// procCPU is utime+stime of /proc/PID/stat (fields 14 and 15).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("kdcload: %w", err)
	}
	return parseStatCPU(b)
}

func parseStatCPU(stat []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("kdcload: /proc stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("kdcload: /proc stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("kdcload: /proc stat: utime or stime is not a number")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procHWM is VmHWM of /proc/PID/status, in bytes.
func procHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("kdcload: %w", err)
	}
	return parseStatusHWM(b)
}

func parseStatusHWM(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return n * 1024, nil
	}
	return 0, errors.New("kdcload: /proc status: no VmHWM line")
}

// SelfCPU is the CPU time this process (the load generator) has used.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// freePort finds a port free for both TCP and UDP on loopback.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("kdcload: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("kdcload: no free loopback port")
}

// run runs a setup command and returns an error with its output if it fails.
func run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kdcload: %s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the start and the last 64 KiB: a KDC logging every request
	// would otherwise grow without bound.
	if b.buf.Len() > 1<<20 {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-64<<10:]...)
		b.buf.Reset()
		b.buf.WriteString("[…]\n")
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
