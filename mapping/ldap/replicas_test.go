package ldap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
	"github.com/sclogon/sclogon/mapping/ldap"
)

// clock is a settable clock for the servers' backoff.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// reader is the account the directory binds as: the same entry in both
// slapd, as replication would make it.
const reader = "cn=kdc," + mappingtest.Suffix

// replicas starts two slapd with the fixture's entries (two replicas of one
// directory, as far as a reader can tell) and a directory that prefers the
// first.
func replicas(t *testing.T, f *mappingtest.Fixture, timeout time.Duration, clk *clock) (l1, l2 *harness.LDAP, dir *ldap.Directory) {
	t.Helper()
	cfg := harness.SlapdConfig{Suffix: mappingtest.Suffix, LDIF: f.LDIF + "\n" + readerLDIF}
	l1 = harness.StartSlapd(t, cfg)
	l2 = harness.StartSlapd(t, cfg)
	dir, err := ldap.New(ldap.Config{URL: l1.URL, Replicas: []string{l2.URL}, BindDN: reader, Password: "kdc-secret",
		BaseDN: l1.Suffix, Timeout: timeout, PoolSize: 4, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return l1, l2, dir
}

const readerLDIF = `dn: ` + reader + `
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: kdc
userPassword: kdc-secret
`

func bobLookup(t *testing.T, f *mappingtest.Fixture, dir *ldap.Directory) func() error {
	c := f.Certs["bob-sr"]
	m := mapping.New(dir, mapping.Policy{}, mapping.Options{Now: func() time.Time { return mappingtest.Now }})
	return func() error {
		res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
		if err == nil && res.Account.SAMAccountName != "bob" {
			t.Errorf("mapped to %s", res.Account.DN)
		}
		return err
	}
}

func failures(dir *ldap.Directory) []int {
	var out []int
	for _, s := range dir.Servers() {
		out = append(out, s.Failures)
	}
	return out
}

// TestDirectoryFailover: with the preferred server dead, lookups — those on
// its broken pooled connections included — go to the replica; the dead
// server is not asked during its backoff, and is asked again, and preferred
// again, once the backoff is over.
func TestDirectoryFailover(t *testing.T) {
	f := mappingtest.NewFixture(t)
	clk := &clock{now: mappingtest.Now}
	l1, _, dir := replicas(t, f, 5*time.Second, clk)
	lookup := bobLookup(t, f, dir)
	// Pooled connections to the first server, which its death breaks.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lookup(); err != nil {
				t.Errorf("both up: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := failures(dir); got[0] != 0 || got[1] != 0 {
		t.Fatalf("both up: failures %v", got)
	}

	l1.Kill()
	for i := range 8 {
		if err := lookup(); err != nil {
			t.Fatalf("lookup %d with the first server dead: %v", i, err)
		}
	}
	st := dir.Servers()
	if st[0].Failures != 1 || st[1].Failures != 0 {
		t.Fatalf("first server dead: failures %v", failures(dir))
	}
	if want := clk.Now().Add(time.Second); !st[0].RetryAt.Equal(want) {
		t.Errorf("retry at %v, want %v (1 s of backoff)", st[0].RetryAt, want)
	}

	// Back, but still backing off: not asked, so its failure stays.
	l1.Restart()
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	if got := failures(dir); got[0] != 1 {
		t.Fatalf("asked during its backoff: failures %v", got)
	}
	clk.advance(time.Second)
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	if got := failures(dir); got[0] != 0 {
		t.Fatalf("not asked again after its backoff: failures %v", got)
	}
}

// TestDirectoryBackoffGrows: a server that keeps failing is asked again after
// 1 s, 2 s, 4 s… up to 30 s, and each time it fails the lookup still
// succeeds.
func TestDirectoryBackoffGrows(t *testing.T) {
	f := mappingtest.NewFixture(t)
	clk := &clock{now: mappingtest.Now}
	l1, _, dir := replicas(t, f, 5*time.Second, clk)
	lookup := bobLookup(t, f, dir)
	l1.Kill()
	for i, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30} {
		want *= time.Second
		if err := lookup(); err != nil {
			t.Fatal(err)
		}
		st := dir.Servers()[0]
		if st.Failures != i+1 || !st.RetryAt.Equal(clk.Now().Add(want)) {
			t.Fatalf("failure %d: %d failures, retry in %v; want %d, %v", i+1, st.Failures, st.RetryAt.Sub(clk.Now()), i+1, want)
		}
		clk.advance(want)
	}
}

// TestDirectoryReplicaKilledDuringLoad: workers map continuously while the
// preferred server dies under them; no lookup fails, those in flight at the
// kill included.
func TestDirectoryReplicaKilledDuringLoad(t *testing.T) {
	f := mappingtest.NewFixture(t)
	l1, _, dir := replicas(t, f, 5*time.Second, &clock{now: mappingtest.Now})
	lookup := bobLookup(t, f, dir)
	const workers, after = 8, 20
	var (
		wg      sync.WaitGroup
		killed  atomic.Bool
		done    atomic.Int64 // lookups started after the kill and finished
		total   atomic.Int64
		mu      sync.Mutex
		failed  []error
		started = make(chan struct{}, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			for done.Load() < workers*after {
				wasKilled := killed.Load()
				err := lookup()
				total.Add(1)
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
				if wasKilled {
					done.Add(1)
				}
			}
		}()
	}
	for range workers {
		<-started
	}
	for total.Load() < workers*4 {
		time.Sleep(time.Millisecond)
	}
	l1.Kill()
	killed.Store(true)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d lookups failed, e.g. %v", len(failed), total.Load(), failed[0])
	}
	t.Logf("%d lookups, %d after the kill, none failed", total.Load(), done.Load())
}

// TestDirectoryReplicaHangs: a preferred server that stops answering
// (SIGSTOP, as a hung machine) costs each lookup at most half its time, and
// the replica answers in the other half.
func TestDirectoryReplicaHangs(t *testing.T) {
	f := mappingtest.NewFixture(t)
	clk := &clock{now: mappingtest.Now}
	l1, _, dir := replicas(t, f, 2*time.Second, clk)
	lookup := bobLookup(t, f, dir)
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	pid := l1.Process().PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	waitStopped(t, pid)
	// The pooled connection hangs; a new one would too (the kernel accepts
	// for the stopped slapd).
	if err := lookup(); err != nil {
		t.Fatalf("first server hung: %v", err)
	}
	clk.advance(time.Second)
	if err := lookup(); err != nil {
		t.Fatalf("first server hung, asked again after its backoff: %v", err)
	}
	if got := failures(dir); got[0] != 2 || got[1] != 0 {
		t.Fatalf("failures %v, want [2 0]", got)
	}
}

// waitStopped waits until the kernel has stopped pid: kill returns before.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) STATE …; comm may hold spaces, not ")".
		if _, rest, ok := bytes.Cut(stat, []byte(") ")); ok && len(rest) > 0 && rest[0] == 'T' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("slapd (pid %d) did not stop within 10 s of SIGSTOP", pid)
}

// TestDirectoryReplicasAllDown: with every server dead a lookup fails with
// ErrDirectoryUnavailable, naming each server.
func TestDirectoryReplicasAllDown(t *testing.T) {
	f := mappingtest.NewFixture(t)
	l1, l2, dir := replicas(t, f, 2*time.Second, &clock{now: mappingtest.Now})
	lookup := bobLookup(t, f, dir)
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	l1.Kill()
	l2.Kill()
	err := lookup()
	if !errors.Is(err, mapping.ErrDirectoryUnavailable) || mapping.ErrorCode(err) != 29 {
		t.Fatalf("err = %v, want ErrDirectoryUnavailable (29)", err)
	}
	for _, u := range []string{l1.URL, l2.URL} {
		if !strings.Contains(err.Error(), u) {
			t.Errorf("error %q does not name %s", err, u)
		}
	}
	// Both back: the next lookup finds one, backing off or not.
	l2.Restart()
	if err := lookup(); err != nil {
		t.Fatalf("second server back: %v", err)
	}
}

// TestDirectoryReplicaBadBind: a bind the server refuses ends the lookup
// there (the replicas share the credentials), with no failover and no
// backoff.
func TestDirectoryReplicaBadBind(t *testing.T) {
	f := mappingtest.NewFixture(t)
	cfg := harness.SlapdConfig{Suffix: mappingtest.Suffix, LDIF: f.LDIF}
	l1 := harness.StartSlapd(t, cfg)
	l2 := harness.StartSlapd(t, cfg)
	dir, err := ldap.New(ldap.Config{URL: l1.URL, Replicas: []string{l2.URL}, BindDN: l1.BindDN, Password: "wrong",
		BaseDN: l1.Suffix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	_, err = dir.FindByUPN(context.Background(), "bob@example.com")
	if err == nil || errors.Is(err, mapping.ErrDirectoryUnavailable) || !strings.Contains(err.Error(), "bind") {
		t.Fatalf("err = %v, want a refused bind", err)
	}
	if got := failures(dir); got[0] != 0 || got[1] != 0 {
		t.Fatalf("failures %v", got)
	}
}

func TestDirectoryReplicaConfigErrors(t *testing.T) {
	for _, cfg := range []ldap.Config{
		{URL: "ldap://a", Replicas: []string{"http://b"}, BaseDN: "dc=x"},
		{URL: "ldap://a", Replicas: []string{"ldaps://b"}, StartTLS: true, BaseDN: "dc=x"},
	} {
		if _, err := ldap.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
