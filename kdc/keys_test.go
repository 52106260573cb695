package kdc

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testKrbtgt = "krbtgt/EXAMPLE.COM@EXAMPLE.COM"

func fileKeyStore(t *testing.T, dir string, clock *testClock, retain time.Duration) *KeyStore {
	t.Helper()
	b, err := OpenFileKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyStore(context.Background(), b, KeyStoreOptions{Rand: rand.Reader, Now: clock.Now, Retain: retain, Refresh: -1, MissReload: -1})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func kvnos(keys []Key) []uint32 {
	var out []uint32
	for _, k := range keys {
		out = append(out, k.KVNO)
	}
	return out
}

// TestKeyRollover: a rollover makes a new current kvno, which Key returns;
// the one it replaced still answers KeyVersion until the retention ends,
// then no longer, and the next rollover prunes it from the store.
func TestKeyRollover(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	const retain = 10 * time.Hour
	ks := fileKeyStore(t, t.TempDir(), clock, retain)
	if err := ks.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	first, _ := ks.Key(testKrbtgt, 0)
	if first.KVNO != 1 || first.EType != 18 {
		t.Fatalf("first key: kvno %d etype %d", first.KVNO, first.EType)
	}
	r, err := ks.Rollover(context.Background(), testKrbtgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.KVNO != 2 || !r.Retired[1].Equal(clock.Now().Add(retain)) || len(r.Pruned) != 0 {
		t.Fatalf("rollover: %+v", r)
	}
	if k, _ := ks.Key(testKrbtgt, 0); k.KVNO != 2 {
		t.Fatalf("current kvno %d after the rollover, want 2", k.KVNO)
	}
	if k, _ := ks.Key(testKrbtgt, 17); k.KVNO != 2 {
		t.Fatalf("current aes128 kvno %d, want 2", k.KVNO)
	}
	old, ok := ks.KeyVersion(testKrbtgt, 18, 1)
	if !ok || string(old.Value) != string(first.Value) {
		t.Fatal("kvno 1 is gone right after the rollover")
	}
	if keys, _ := ks.Keys(testKrbtgt); !slices.Equal(kvnos(keys), []uint32{2, 2, 1, 1}) {
		t.Fatalf("keys' kvnos %v, want the new version first", kvnos(keys))
	}
	if _, ok := ks.KeyVersion(testKrbtgt, 18, 3); ok {
		t.Fatal("a kvno never made was found")
	}

	clock.Advance(retain - time.Second)
	if _, ok := ks.KeyVersion(testKrbtgt, 18, 1); !ok {
		t.Fatal("kvno 1 retired before its retention ended")
	}
	clock.Advance(time.Second)
	if _, ok := ks.KeyVersion(testKrbtgt, 18, 1); ok {
		t.Fatal("kvno 1 still used after its retention")
	}
	if keys, _ := ks.Keys(testKrbtgt); !slices.Equal(kvnos(keys), []uint32{2, 2}) {
		t.Fatalf("live kvnos %v, want 2 only", kvnos(keys))
	}
	r, err = ks.Rollover(context.Background(), testKrbtgt)
	if err != nil {
		t.Fatal(err)
	}
	if r.KVNO != 3 || !slices.Equal(r.Pruned, []uint32{1}) || len(r.Retired) != 1 {
		t.Fatalf("second rollover: %+v", r)
	}
	kt, err := ks.Keytab(testKrbtgt)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(kt); n < 4*40 {
		t.Fatalf("keytab of %d bytes for 4 keys", n)
	}
	if _, err := ks.Rollover(context.Background(), "host/none@EXAMPLE.COM"); err == nil {
		t.Fatal("rolled over a principal without keys")
	}
}

// TestKeyStoreSeesOtherWriter: two stores over one keys.json (two KDC
// processes, or the KDC and 'sclogon kdc rollover'): a kvno one of them
// made is found by the other at the first lookup that misses it, and made
// current by its next refresh.
func TestKeyStoreSeesOtherWriter(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	a := fileKeyStore(t, dir, clock, time.Hour)
	if err := a.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	b := fileKeyStore(t, dir, clock, time.Hour)
	if err := b.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	ka, _ := a.Key(testKrbtgt, 0)
	kb, _ := b.Key(testKrbtgt, 0)
	if string(ka.Value) != string(kb.Value) {
		t.Fatal("the second store made keys of its own")
	}
	if _, err := a.Rollover(context.Background(), testKrbtgt); err != nil {
		t.Fatal(err)
	}
	if k, ok := b.KeyVersion(testKrbtgt, 18, 2); !ok || k.KVNO != 2 {
		t.Fatal("the other store does not find the new kvno")
	}
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k, _ := b.Key(testKrbtgt, 0); k.KVNO != 2 {
		t.Fatalf("after a refresh the other store issues under kvno %d", k.KVNO)
	}
	// A rollover from keys read before another's is refused, not merged.
	bk, _ := b.backend.Load(context.Background())
	stale := slices.Clone(bk[testKrbtgt])
	if _, err := a.Rollover(context.Background(), testKrbtgt); err != nil {
		t.Fatal(err)
	}
	fresh, err := b.generate(9)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.backend.Replace(context.Background(), testKrbtgt, stale, fresh); !errors.Is(err, ErrKeysChanged) {
		t.Fatalf("replacing keys read before another rollover: %v", err)
	}
}

// TestKeyFileFormat: a keys.json written before key versions were retired
// (no not_after) reads as current keys.
func TestKeyFileFormat(t *testing.T) {
	dir := t.TempDir()
	old := `{"krbtgt/EXAMPLE.COM@EXAMPLE.COM": [{"etype": 18, "kvno": 1, "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`
	if err := os.WriteFile(filepath.Join(dir, "keys.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenKeyStore(dir, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := ks.Key(testKrbtgt, 0); !ok || k.KVNO != 1 || !k.NotAfter.IsZero() {
		t.Fatalf("old keys.json: %+v %v", k, ok)
	}
}

// countingBackend counts loads.
type countingBackend struct {
	KeyBackend
	loads atomic.Int32
}

func (c *countingBackend) Load(ctx context.Context) (map[string][]Key, error) {
	c.loads.Add(1)
	return c.KeyBackend.Load(ctx)
}

// TestKeyMissReload: lookups of a kvno nobody has re-read the backend at
// most once per MissReload, so requests naming made-up kvnos cannot
// hammer the directory.
func TestKeyMissReload(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	fk, err := OpenFileKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{KeyBackend: fk}
	ks, err := NewKeyStore(context.Background(), b, KeyStoreOptions{Rand: rand.Reader, Now: clock.Now, Refresh: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // past Ensure's own look
	base := b.loads.Load()
	for kvno := range uint32(50) {
		ks.KeyVersion(testKrbtgt, 18, 100+kvno)
	}
	if n := b.loads.Load() - base; n != 1 {
		t.Fatalf("50 misses within a second loaded %d times, want 1", n)
	}
	clock.Advance(time.Second)
	ks.KeyVersion(testKrbtgt, 18, 99)
	if n := b.loads.Load() - base; n != 2 {
		t.Fatalf("a miss a second later: %d loads, want 2", n)
	}
	if _, ok := ks.KeyVersion(testKrbtgt, 18, 1); !ok {
		t.Fatal("kvno 1 not found")
	}
	if n := b.loads.Load() - base; n != 2 {
		t.Fatalf("a hit loaded: %d loads", n)
	}
}

// BenchmarkKeyLookup is the lookup every AS and TGS request makes.
func BenchmarkKeyLookup(b *testing.B) {
	ks, err := OpenKeyStore(b.TempDir(), rand.Reader, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if err := ks.Ensure(testKrbtgt); err != nil {
		b.Fatal(err)
	}
	if _, err := ks.Rollover(context.Background(), testKrbtgt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := ks.KeyVersion(testKrbtgt, 18, 1); !ok {
				b.Fatal("kvno 1 missing")
			}
		}
	})
}

// BenchmarkSealOpen is one key version sealed and opened.
func BenchmarkSealOpen(b *testing.B) {
	mk := testMasterKey(b, 3)
	keys := testVersion(1, time.Time{})
	for b.Loop() {
		s, err := mk.seal(testKrbtgt, keys, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mk.open(testKrbtgt, s); err != nil {
			b.Fatal(err)
		}
	}
}

// replacingBackend hands out other key material under the same kvno once
// told to: what replication does to the loser of two concurrent creates.
type replacingBackend struct {
	KeyBackend
	replace atomic.Bool
}

func (r *replacingBackend) Load(ctx context.Context) (map[string][]Key, error) {
	m, err := r.KeyBackend.Load(ctx)
	if err != nil || !r.replace.Load() {
		return m, err
	}
	out := map[string][]Key{}
	for p, keys := range m {
		for _, k := range keys {
			k.Value = slices.Clone(k.Value)
			k.Value[0] ^= 1
			out[p] = append(out[p], k)
		}
	}
	return out, nil
}

// TestKeyReplacedIsLogged: a kvno whose key changes between two loads is
// logged as an error, naming the principal and kvno.
func TestKeyReplacedIsLogged(t *testing.T) {
	fk, err := OpenFileKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &replacingBackend{KeyBackend: fk}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	ks, err := NewKeyStore(context.Background(), b, KeyStoreOptions{Rand: rand.Reader, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	if err := ks.Refresh(context.Background()); err != nil || logged.Len() > 0 {
		t.Fatalf("a refresh of unchanged keys: %v; logged %s", err, logged.String())
	}
	b.replace.Store(true)
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := logged.String(); !strings.Contains(s, "level=ERROR") || !strings.Contains(s, testKrbtgt) || !strings.Contains(s, "kvno=1") {
		t.Fatalf("logged: %q", s)
	}
}
