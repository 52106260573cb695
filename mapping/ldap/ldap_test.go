package ldap_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
	"github.com/sclogon/sclogon/mapping/ldap"
)

func startDirectory(t testing.TB, f *mappingtest.Fixture, timeout time.Duration) (*harness.LDAP, *ldap.Directory) {
	t.Helper()
	l := harness.StartSlapd(t, harness.SlapdConfig{Suffix: mappingtest.Suffix, LDIF: f.LDIF})
	dir, err := ldap.New(ldap.Config{URL: l.URL, BindDN: l.BindDN, Password: l.Password, BaseDN: l.Suffix, Timeout: timeout, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return l, dir
}

func TestMappingSuite(t *testing.T) {
	f := mappingtest.NewFixture(t)
	_, dir := startDirectory(t, f, 5*time.Second)
	mappingtest.Run(t, f, dir)
}

// TestSlapdKilledDuringLoad: lookups fail fast and clearly while the
// directory is down, and the same mapper works again once it is back.
func TestSlapdKilledDuringLoad(t *testing.T) {
	f := mappingtest.NewFixture(t)
	const timeout = time.Second
	l, dir := startDirectory(t, f, timeout)
	c := f.Certs["bob-sr"]
	m := mapping.New(dir, mapping.Policy{}, mapping.Options{Now: func() time.Time { return mappingtest.Now }})
	lookup := func() (time.Duration, error) {
		start := time.Now()
		_, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
		return time.Since(start), err
	}
	if _, err := lookup(); err != nil {
		t.Fatalf("before the kill: %v", err)
	}

	// Load: workers map continuously while slapd dies under them.
	const workers = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		slowest  time.Duration
	)
	stop := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := lookup()
				mu.Lock()
				if d > slowest {
					slowest = d
				}
				if err != nil {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	l.Kill()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// The pool holds no slot: every lookup ends within the timeout plus a
	// little for scheduling, nothing hangs.
	const slack = 500 * time.Millisecond
	if slowest > timeout+slack {
		t.Errorf("slowest lookup took %v, want at most %v", slowest, timeout+slack)
	}
	if len(failures) == 0 {
		t.Fatal("no lookup failed while slapd was dead")
	}
	for _, err := range failures {
		if !errors.Is(err, mapping.ErrDirectoryUnavailable) {
			t.Fatalf("failure %v does not wrap ErrDirectoryUnavailable", err)
		}
		if mapping.ErrorCode(err) != 29 {
			t.Fatalf("ErrorCode(%v) = %d, want 29", err, mapping.ErrorCode(err))
		}
		if !strings.Contains(err.Error(), l.URL) {
			t.Fatalf("error %q does not name the directory", err)
		}
	}
	t.Logf("while down: %d failures, e.g. %v", len(failures), failures[0])

	d, err := lookup()
	if err == nil || d > timeout+slack {
		t.Fatalf("while down: err %v after %v", err, d)
	}

	l.Restart()
	var wg2 sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			_, err := lookup()
			errs <- err
		}()
	}
	wg2.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("after the restart: %v", err)
		}
	}
}

// TestGroupsOfAnyMatchesGroupsOf: over slapd, the groups of many members in
// one request (more than one search's worth of DNs, members and not) are
// the groups GroupsOf finds for each.
func TestGroupsOfAnyMatchesGroupsOf(t *testing.T) {
	f := mappingtest.NewFixture(t)
	_, dir := startDirectory(t, f, 5*time.Second)
	ctx := context.Background()
	dns := []string{"cn=alice," + mappingtest.Suffix}
	for i := range 100 {
		dns = append(dns, "cn=nobody"+strconv.Itoa(i)+","+mappingtest.Suffix)
	}
	dns = append(dns, "cn=dave,"+mappingtest.Suffix, "cn=staff,"+mappingtest.Suffix, "cn=mallory,"+mappingtest.Suffix)
	want := map[string]bool{}
	for _, dn := range dns {
		entries, err := dir.GroupsOf(ctx, dn)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			want[strings.ToLower(e.DN)] = true
		}
	}
	entries, err := dir.GroupsOfAny(ctx, dns)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		got[strings.ToLower(e.DN)] = true
		if len(e.Get(mapping.AttrObjectSID)) == 0 {
			t.Errorf("%s came without its objectSid", e.DN)
		}
	}
	if len(want) != 3 || !maps.Equal(got, want) { // staff, everyone, other
		t.Errorf("GroupsOfAny found %v, GroupsOf %v", got, want)
	}
}
