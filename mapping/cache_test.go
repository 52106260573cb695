package mapping_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

// TestMappingCache: with cache_ttl a certificate mapped once is not looked
// up again with the same hint until the TTL passes; another hint, a
// failure, and a mapper without the cache always search.
func TestMappingCache(t *testing.T) {
	f := mappingtest.NewFixture(t)
	base := f.Directory(t, "")
	now := mappingtest.Now
	clock := func() time.Time { return now }
	newMapper := func(ttl time.Duration, size int) (*mapping.Mapper, *mappingtest.Counting) {
		dir := &mappingtest.Counting{Directory: base}
		return mapping.New(dir, mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.CA}, CacheTTL: ttl, CacheSize: size},
			mapping.Options{Now: clock}), dir
	}
	ctx := context.Background()
	alice, bob := f.Certs["alice-sid"], f.Certs["bob-sr"]
	mapAs := func(m *mapping.Mapper, c mappingtest.Cert, hint string) (*mapping.Result, error) {
		return m.Map(ctx, mapping.Request{Cert: c.Cert, Issuer: c.Issuer, Hint: mapping.Hint{Name: hint, Realm: "EXAMPLE.COM"}})
	}

	m, dir := newMapper(time.Minute, 0)
	first, err := mapAs(m, alice, "alice")
	if err != nil {
		t.Fatal(err)
	}
	searches := dir.Finds.Load()
	if searches == 0 {
		t.Fatal("the first mapping searched nothing")
	}
	again, err := mapAs(m, alice, "alice")
	if err != nil || dir.Finds.Load() != searches {
		t.Fatalf("cached mapping: %v, %d searches after %d", err, dir.Finds.Load(), searches)
	}
	if again.Account.SAMAccountName != first.Account.SAMAccountName || again.Method != first.Method || again.Strong != first.Strong {
		t.Errorf("cached result %+v, first %+v", again, first)
	}
	again.Account.SAMAccountName = "mallory" // a caller's change stays its own
	if r, _ := mapAs(m, alice, "alice"); r.Account.SAMAccountName != first.Account.SAMAccountName {
		t.Error("a caller changed the cached result")
	}
	if _, err := mapAs(m, alice, "alice@example.com"); err != nil || dir.Finds.Load() == searches {
		t.Errorf("another hint: %v, searched %t", err, dir.Finds.Load() != searches)
	}
	searches = dir.Finds.Load()
	now = now.Add(time.Minute)
	if _, err := mapAs(m, alice, "alice"); err != nil || dir.Finds.Load() == searches {
		t.Errorf("after the TTL: %v, searched %t", err, dir.Finds.Load() != searches)
	}

	searches = dir.Finds.Load()
	for range 2 {
		if _, err := mapAs(m, f.Certs["conflict"], ""); !errors.Is(err, mapping.ErrAmbiguous) {
			t.Fatalf("conflict: %v", err)
		}
	}
	if got := dir.Finds.Load() - searches; got < 2 {
		t.Errorf("a failed mapping was cached: %d searches for two", got)
	}

	off, offDir := newMapper(0, 0)
	for range 2 {
		if _, err := mapAs(off, bob, ""); err != nil {
			t.Fatal(err)
		}
	}
	if one := offDir.Finds.Load() / 2; one == 0 || offDir.Finds.Load() != 2*one {
		t.Errorf("without the cache: %d searches for two mappings", offDir.Finds.Load())
	}

	// A full cache (two entries) still takes new certificates.
	small, smallDir := newMapper(time.Hour, 2)
	for _, c := range []mappingtest.Cert{alice, bob, f.Certs["bob-ski"]} {
		if _, err := mapAs(small, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	searches = smallDir.Finds.Load()
	if _, err := mapAs(small, f.Certs["bob-ski"], ""); err != nil || smallDir.Finds.Load() != searches {
		t.Errorf("the newest entry of a full cache: %v, searched %t", err, smallDir.Finds.Load() != searches)
	}
}
