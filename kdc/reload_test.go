package kdc_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// reloadConfig is a configuration file over configDir's files.
const reloadConfig = `[kdc]
    realm = EXAMPLE.COM
    listen = 127.0.0.1:0
    state_dir = state
    certificate = kdc.pem
    key = kdc.key
    anchors = root.pem
    intermediates = issuing.pem
    ntauth = issuing.pem
    ocsp = off
    services = host/ws1.example.com
[mapping]
    sid_trusted_ca = issuing.pem
[directory]
    ldif = users.ldif
`

// withoutUser is the fixture's LDIF without name's entry.
func withoutUser(ldifText, name string) string {
	var keep []string
	for _, e := range strings.Split(ldifText, "\n\n") {
		if !strings.Contains(e, "\ncn: "+name+"\n") {
			keep = append(keep, e)
		}
	}
	return strings.Join(keep, "\n\n")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reloading is a Reloader served on loopback.
type reloading struct {
	r         *kdc.Reloader
	srv       *kdc.Server
	addr      string
	audit     *harness.Buffer
	log       *harness.Buffer
	path, dir string
}

// startReloading serves the configuration file path through a Reloader.
func startReloading(t *testing.T, path string) *reloading {
	t.Helper()
	fc, err := kdc.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	load := func() (*kdc.FileConfig, error) { return kdc.LoadConfig(path) }
	return serveReloader(t, fc, load, path)
}

func serveReloader(t *testing.T, fc *kdc.FileConfig, load func() (*kdc.FileConfig, error), path string) *reloading {
	t.Helper()
	x := &reloading{audit: &harness.Buffer{}, log: &harness.Buffer{}, path: path, dir: filepath.Dir(path)}
	log := slog.New(slog.NewTextHandler(x.log, nil))
	var err error
	if x.r, err = kdc.NewReloader(fc, load, kdc.Options{Rand: rand.Reader, Audit: x.audit, Log: log}); err != nil {
		t.Fatal(err)
	}
	ls, err := kdc.Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	x.addr = ls[0].TCP.Addr().String()
	x.srv = fc.Server(x.r, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.srv.Serve(ctx, ls, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		x.r.Close()
		if t.Failed() {
			t.Logf("log:\n%s\naudit:\n%s", x.log.String(), x.audit.String())
		}
	})
	return x
}

// TestReloadAdmitsNewUser: a user added to the LDIF file logs on after a
// reload, without a restart; alice logs on before and after; a request
// replayed across the reload is still refused as a replay.
func TestReloadAdmitsNewUser(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	writeFile(t, path, reloadConfig)
	writeFile(t, filepath.Join(dir, "users.ldif"), withoutUser(f.directoryLDIF(), "erin"))
	x := startReloading(t, path)

	erin := asRequest{user: f.users["erin"], client: "erin"}
	if r := send(t, x.addr, erin.build(t).msg); r.err == nil {
		t.Fatal("erin logged on before she was in the directory")
	}
	aliceBefore := asRequest{user: f.users["alice"]}.build(t)
	aliceBefore.asOK(t, x.addr)

	writeFile(t, filepath.Join(dir, "users.ldif"), f.directoryLDIF())
	if err := x.r.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	erin.build(t).asOK(t, x.addr)
	asRequest{user: f.users["alice"]}.build(t).asOK(t, x.addr)
	if r := send(t, x.addr, aliceBefore.msg); r.err == nil || krberror.Code(r.err.ErrorCode) != krberror.APRepeat {
		t.Fatalf("a request replayed across the reload: %+v, want KRB_AP_ERR_REPEAT", r.err)
	}
	if !strings.Contains(x.log.String(), "kdc: configuration reloaded") {
		t.Errorf("no 'reloaded' line in the log:\n%s", x.log.String())
	}
}

// TestReloadRefusesBadConfig: a file that does not load, names a missing
// LDIF file, or changes the listen address is refused, each with its
// reason logged, and logons go on with the configuration loaded before.
func TestReloadRefusesBadConfig(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	writeFile(t, path, reloadConfig)
	x := startReloading(t, path)
	asRequest{user: f.users["alice"]}.build(t).asOK(t, x.addr)

	cases := []struct {
		name, config, reason string
	}{
		{"unknown key", strings.Replace(reloadConfig, "ocsp = off", "ocsp = off\n    no_such_key = 1", 1), "kdc.no_such_key: unknown key"},
		{"missing LDIF", strings.Replace(reloadConfig, "ldif = users.ldif", "ldif = gone.ldif", 1), "gone.ldif"},
		{"bad value", strings.Replace(reloadConfig, "ocsp = off", "ocsp = sometimes", 1), `is not hard, soft or off`},
		{"listen", strings.Replace(reloadConfig, "listen = 127.0.0.1:0", "listen = 127.0.0.1:88", 1), "listen changed (127.0.0.1:0 → 127.0.0.1:88)"},
	}
	for _, c := range cases {
		writeFile(t, path, c.config)
		err := x.r.Reload()
		if err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: reload error %v, want one naming %q", c.name, err, c.reason)
		}
		if !strings.Contains(x.log.String(), c.reason) {
			t.Errorf("%s: the log does not give the reason %q", c.name, c.reason)
		}
		asRequest{user: f.users["alice"]}.build(t).asOK(t, x.addr)
	}
	var restart *kdc.RestartNeededError
	if err := x.r.Reload(); !errors.As(err, &restart) {
		t.Errorf("listen change: %v, want a RestartNeededError", err)
	}
	if !strings.Contains(x.log.String(), "reload refused; the configuration loaded before serves on") {
		t.Errorf("no refusal line in the log:\n%s", x.log.String())
	}
	m := scrape(t, x)
	if m[`sclogon_kdc_reloads_total{result="failed"}`] != float64(len(cases)+1) || m[`sclogon_kdc_reloads_total{result="ok"}`] != 0 {
		t.Errorf("reload counters: %v", m)
	}
}

// gatedDirectory holds every lookup until its gate opens, and records
// whether it was closed while a lookup was still running.
type gatedDirectory struct {
	mapping.Directory
	gate, entered chan struct{}
	busy          atomic.Int32
	closed        chan struct{}
	closedBusy    atomic.Bool
	once          sync.Once
}

func (d *gatedDirectory) wait() func() {
	d.busy.Add(1)
	select {
	case d.entered <- struct{}{}:
	default:
	}
	<-d.gate
	return func() { d.busy.Add(-1) }
}

func (d *gatedDirectory) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	defer d.wait()()
	return d.Directory.FindBySID(ctx, sid)
}

func (d *gatedDirectory) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	defer d.wait()()
	return d.Directory.GroupsOf(ctx, dn)
}

func (d *gatedDirectory) Close() error {
	d.closedBusy.Store(d.busy.Load() > 0)
	d.once.Do(func() { close(d.closed) })
	return nil
}

// exchange is exchangeTCP for a goroutine other than the test's.
func exchange(addr string, msg []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	reply := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err = io.ReadFull(c, reply)
	return reply, err
}

// TestReloadKeepsRequestsInFlight: a logon held in the directory during a
// reload finishes with the KDC it started with, while a logon after the
// reload goes through the new KDC without waiting for it; the old
// directory is closed only after its last lookup has returned.
func TestReloadKeepsRequestsInFlight(t *testing.T) {
	f := getFixture(t)
	fresh := func() mapping.Directory {
		d, err := ldif.Read(strings.NewReader(f.directoryLDIF()))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	gated := &gatedDirectory{Directory: fresh(), gate: make(chan struct{}), entered: make(chan struct{}, 1), closed: make(chan struct{})}
	cfg := f.config(t)
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.Directory = gated
	first := &kdc.FileConfig{Config: cfg}
	load := func() (*kdc.FileConfig, error) {
		next := first.Config
		next.Directory = fresh()
		return &kdc.FileConfig{Config: next}, nil
	}
	x := serveReloader(t, first, load, filepath.Join(t.TempDir(), "kdc.conf"))

	held := asRequest{user: f.users["alice"]}.build(t)
	type result struct {
		raw []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := exchange(x.addr, held.msg)
		done <- result{raw, err}
	}()
	select {
	case <-gated.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the logon did not reach the directory within 30 s")
	}
	if err := x.r.Reload(); err != nil {
		t.Fatal(err)
	}
	asRequest{user: f.users["alice"]}.build(t).asOK(t, x.addr)
	select {
	case <-gated.closed:
		t.Fatal("the old directory was closed while a logon was using it")
	default:
	}
	close(gated.gate)
	res := <-done
	if res.err != nil {
		t.Fatalf("the logon in flight during the reload: %v", res.err)
	}
	held.readASRep(t, res.raw)
	select {
	case <-gated.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the old directory was not closed within 30 s of its last logon")
	}
	if gated.closedBusy.Load() {
		t.Error("the old directory was closed during a lookup")
	}
}
