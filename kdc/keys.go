package kdc

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/krbcrypto"
	"github.com/sclogon/sclogon/kdc/pac"
)

// Key is one long-term key of a principal.
type Key struct {
	EType int32  `json:"etype"`
	KVNO  uint32 `json:"kvno"`
	Value []byte `json:"key"`
	// NotAfter retires a key version replaced by a rollover: until then it
	// still decrypts the tickets issued under it; zero for the current one.
	NotAfter time.Time `json:"not_after,omitzero"`
	// derived is what the KDC derives from this key version, kept for as
	// long as the version is loaded: see [derivedKeys]. Set by
	// [KeyStore]; nil on a Key made anywhere else, which derives per use.
	derived *derivedKeys
}

// derivedKeys are the keys the KDC derives from one loaded key version
// (RFC 3961 §5.3): Ke and Ki of the ticket, freshness and reply usages,
// and Kc of the PAC signatures, each derived once instead of on every
// exchange. They are no more secret than the key, and live exactly as long
// as it does: a Key carries them by pointer, so copies of the Key share
// one set and copy no secret; [KeyStore.load] gives every version it loads
// a new set, so a reload or a rollover drops the old ones with the old
// keys (kept by the exchanges still using them until they finish), and a
// version whose key changed in the store (see warnReplaced) never meets
// keys derived from its predecessor, as a cache keyed by principal, kvno
// and etype could. Rollover hands no set to the backend.
type derivedKeys struct {
	crypt  *krbcrypto.Key // nil for an etype krbcrypto lacks
	pac    pac.Key
	pacErr error
}

// withDerived returns k with a new set of derived keys, derived lazily.
func (k Key) withDerived() Key {
	d := &derivedKeys{}
	if krbcrypto.Supported(k.EType, len(k.Value)) {
		d.crypt, _ = krbcrypto.NewLongTermKey(k.EType, k.Value)
	}
	d.pac, d.pacErr = pac.NewKey(k.EType, k.Value)
	k.derived = d
	return k
}

// pacKey is the key that signs or checks a PAC with k, its checksum key
// kept when k was loaded by a KeyStore.
func (k Key) pacKey() (pac.Key, error) {
	if k.derived != nil {
		return k.derived.pac, k.derived.pacErr
	}
	return pac.NewKey(k.EType, k.Value)
}

// Errors of a [KeyBackend], which [KeyStore] branches on.
var (
	// ErrKeysExist: Create found keys already (another KDC made them first).
	ErrKeysExist = errors.New("kdc: the principal has keys already")
	// ErrKeysChanged: Replace found other keys than those it was to replace
	// (another rollover got there first).
	ErrKeysChanged = errors.New("kdc: the stored keys changed meanwhile")
)

// KeyBackend is where a [KeyStore] keeps the realm's keys: a file in the
// state directory ([OpenFileKeys]) or the directory, sealed under a master
// key ([NewLDAPKeys]). A KeyStore does the rest (generating, choosing a
// kvno, retiring, re-reading), so every backend behaves alike.
type KeyBackend interface {
	// Load reads every principal's keys, every stored version.
	Load(ctx context.Context) (map[string][]Key, error)
	// Create stores the first keys of principal; it fails with
	// [ErrKeysExist] when principal has some.
	Create(ctx context.Context, principal string, keys []Key) error
	// Replace stores keys in place of old, principal's keys as last
	// loaded, in one step; it fails with [ErrKeysChanged] when the stored
	// keys are no longer old.
	Replace(ctx context.Context, principal string, old, keys []Key) error
}

// KeyStore holds the realm's long-term keys — krbtgt and the service
// principals — generated on first use, in a [KeyBackend]. Each principal
// has a current key version, which new tickets use, and may have retired
// ones ([KeyStore.Rollover]), which still decrypt tickets issued under them
// until their NotAfter. The store re-reads its backend periodically and when
// a lookup misses (at most once a second), so a KDC picks up keys another
// KDC or `sclogon kdc rollover` stored, without a restart.
type KeyStore struct {
	backend   KeyBackend
	rand      io.Reader
	now       func() time.Time
	log       *slog.Logger
	retain    time.Duration
	refresh   time.Duration
	missEvery time.Duration

	loadMu     sync.Mutex // one load at a time
	missAt     time.Time  // of the last load for a lookup that missed; under loadMu
	refreshing atomic.Bool

	mu      sync.RWMutex
	keys    map[string][]Key // as loaded; newest kvno first, strongest first within
	triedAt time.Time        // the last load, or the start of the last periodic one
}

// KeyStoreOptions are a [KeyStore]'s dependencies and timings.
type KeyStoreOptions struct {
	Rand io.Reader
	Now  func() time.Time // default time.Now
	Log  *slog.Logger     // failed re-reads, key versions changed under it; default none
	// Retain is how long a key version replaced by a rollover still
	// decrypts tickets: the longest a ticket issued under it lives, its
	// renewals included. Default 7 days 10 hours 5 minutes (the KDC's
	// default renew and ticket lifetimes, and clock skew).
	Retain time.Duration
	// Refresh is how often the keys are re-read; default a minute,
	// negative never.
	Refresh time.Duration
	// MissReload is the least time between re-reads for lookups that
	// miss (a kvno or principal the store does not know), so that
	// requests naming unknown keys cannot make the KDC hammer its
	// backend; default a second, negative re-reads on every miss.
	MissReload time.Duration
}

// keyETypes are generated for every principal: AES-256 first, the etype
// tickets are encrypted with.
var keyETypes = []int32{18, 17} // aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96 (RFC 3962)

var keySizes = map[int32]int{17: 16, 18: 32, 19: 16, 20: 32}

// OpenKeyStore is a KeyStore over dir/keys.json ([OpenFileKeys]), which it
// creates (and dir) if absent; every lookup that misses re-reads the file
// if it changed.
func OpenKeyStore(dir string, rand io.Reader, now func() time.Time) (*KeyStore, error) {
	b, err := OpenFileKeys(dir)
	if err != nil {
		return nil, err
	}
	return NewKeyStore(context.Background(), b, KeyStoreOptions{Rand: rand, Now: now, MissReload: -1})
}

// NewKeyStore loads the keys of backend; it fails if they cannot be read
// (the directory down, a wrong master key, sealed keys tampered with).
func NewKeyStore(ctx context.Context, backend KeyBackend, opts KeyStoreOptions) (*KeyStore, error) {
	if opts.Rand == nil {
		return nil, errors.New("kdc: key store: no randomness source")
	}
	ks := &KeyStore{
		backend:   backend,
		rand:      opts.Rand,
		now:       opts.Now,
		log:       opts.Log,
		retain:    orDefault(opts.Retain, 7*24*time.Hour+10*time.Hour+5*time.Minute),
		refresh:   orDefault(opts.Refresh, time.Minute),
		missEvery: orDefault(opts.MissReload, time.Second),
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	if ks.log == nil {
		ks.log = slog.New(slog.DiscardHandler)
	}
	if err := ks.Refresh(ctx); err != nil {
		return nil, err
	}
	return ks, nil
}

// Refresh re-reads the keys from the backend now. On failure the keys
// read before stay in use.
func (ks *KeyStore) Refresh(ctx context.Context) error {
	ks.loadMu.Lock()
	defer ks.loadMu.Unlock()
	return ks.load(ctx)
}

// load reads the backend; the caller holds loadMu.
func (ks *KeyStore) load(ctx context.Context) error {
	now := ks.now()
	loaded, err := ks.backend.Load(ctx)
	if err != nil {
		return err
	}
	keys := make(map[string][]Key, len(loaded))
	for p, ls := range loaded {
		ls = slices.Clone(ls)
		for i := range ls {
			ls[i] = ls[i].withDerived()
		}
		// Newest version first; within one, the stored (strongest-first) order.
		slices.SortStableFunc(ls, func(a, b Key) int { return cmp.Compare(b.KVNO, a.KVNO) })
		keys[p] = ls
	}
	ks.mu.Lock()
	old := ks.keys
	ks.keys, ks.triedAt = keys, now
	ks.mu.Unlock()
	ks.warnReplaced(old, keys)
	return nil
}

// warnReplaced logs a key version whose key changed between two loads.
// Nothing here does that; two KDCs do when they create a principal's keys,
// or roll them over, at once on two directory servers that replicate to
// each other: each server accepts its write, replication keeps one, and the
// tickets the other KDC issued no longer decrypt.
func (ks *KeyStore) warnReplaced(old, keys map[string][]Key) {
	for p, was := range old {
		for _, k := range keys[p] {
			for _, w := range was {
				if w.KVNO == k.KVNO && w.EType == k.EType && string(w.Value) != string(k.Value) {
					ks.log.Error("kdc: a key version changed in the store: two writers made it at once (on two replicating directory servers?); tickets issued under the replaced key no longer decrypt",
						"principal", p, "kvno", k.KVNO, "etype", k.EType)
				}
			}
		}
	}
}

// maybeRefresh re-reads the keys in the background once they are older
// than the refresh period, while lookups go on with the keys they have.
func (ks *KeyStore) maybeRefresh(now time.Time) {
	if ks.refresh < 0 {
		return
	}
	ks.mu.RLock()
	stale := now.Sub(ks.triedAt) >= ks.refresh
	ks.mu.RUnlock()
	if !stale || !ks.refreshing.CompareAndSwap(false, true) {
		return
	}
	// A failed attempt waits a period too: a directory that is down is
	// not asked again on every request.
	ks.mu.Lock()
	ks.triedAt = now
	ks.mu.Unlock()
	go func() {
		defer ks.refreshing.Store(false)
		if err := ks.Refresh(context.Background()); err != nil {
			ks.log.Warn("kdc: re-reading the realm keys failed; serving with those read before", "err", err)
		}
	}()
}

// reloadForMiss re-reads the keys for a lookup that missed, unless that
// was done less than missEvery ago; it reports whether it did.
func (ks *KeyStore) reloadForMiss() bool {
	ks.loadMu.Lock()
	defer ks.loadMu.Unlock()
	now := ks.now()
	if ks.missEvery > 0 && !ks.missAt.IsZero() && now.Sub(ks.missAt) < ks.missEvery && !now.Before(ks.missAt) {
		return false
	}
	ks.missAt = now
	if err := ks.load(context.Background()); err != nil {
		ks.log.Warn("kdc: re-reading the realm keys for an unknown key failed", "err", err)
		return false
	}
	return true
}

// usable: the current version, or a retired one not yet past its NotAfter.
func (k Key) usable(now time.Time) bool { return k.NotAfter.IsZero() || now.Before(k.NotAfter) }

// live is principal's keys usable now.
func (ks *KeyStore) live(principal string, now time.Time) []Key {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	var out []Key
	for _, k := range ks.keys[principal] {
		if k.usable(now) {
			out = append(out, k)
		}
	}
	return out
}

// find returns principal's first usable key that matches; it allocates
// nothing, as it runs for every request.
func (ks *KeyStore) find(principal string, now time.Time, match func(Key) bool) (Key, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for _, k := range ks.keys[principal] {
		if k.usable(now) && match(k) {
			return k, true
		}
	}
	return Key{}, false
}

// Ensure generates keys for principal unless it has some. Of two KDCs
// starting at once over one directory, one creates them and the other
// reads them back.
func (ks *KeyStore) Ensure(principal string) error {
	_, err := ks.Make(principal)
	return err
}

// Make is [KeyStore.Ensure] that reports whether it stored the keys
// (false: principal had some, or another writer stored them first).
func (ks *KeyStore) Make(principal string) (made bool, err error) {
	if _, ok := ks.Keys(principal); ok {
		return false, nil
	}
	ctx := context.Background() // the backend bounds its own calls (LDAP: the directory timeout)
	keys, err := ks.generate(1)
	if err != nil {
		return false, err
	}
	made = true
	if err := ks.backend.Create(ctx, principal, keys); errors.Is(err, ErrKeysExist) {
		made = false
	} else if err != nil {
		return false, err
	}
	if err := ks.Refresh(ctx); err != nil {
		return made, err
	}
	if len(ks.live(principal, ks.now())) == 0 {
		return made, fmt.Errorf("kdc: %s has keys, but every version is past its retirement: roll it over ('sclogon kdc rollover')", principal)
	}
	return made, nil
}

// generate makes a new key version of every etype the KDC uses.
func (ks *KeyStore) generate(kvno uint32) ([]Key, error) {
	var keys []Key
	for _, et := range keyETypes {
		v := make([]byte, keySizes[et])
		if _, err := io.ReadFull(ks.rand, v); err != nil {
			return nil, fmt.Errorf("kdc: generate key: %w", err)
		}
		keys = append(keys, Key{EType: et, KVNO: kvno, Value: v})
	}
	return keys, nil
}

// Rolled is what a rollover did.
type Rolled struct {
	Principal string
	KVNO      uint32 // the new current version
	// Retired are the versions kept for the tickets issued under them,
	// with their NotAfter; Pruned those dropped, past theirs.
	Retired map[uint32]time.Time
	Pruned  []uint32
}

// Rollover makes a new current key version for principal. The version it
// replaces is kept for the store's Retain time, so the tickets issued
// under it keep working until they expire; versions past their NotAfter
// are dropped. Other KDCs pick the new version up when they next re-read.
func (ks *KeyStore) Rollover(ctx context.Context, principal string) (Rolled, error) {
	ks.loadMu.Lock()
	defer ks.loadMu.Unlock()
	if err := ks.load(ctx); err != nil {
		return Rolled{}, err
	}
	ks.mu.RLock()
	old := ks.keys[principal]
	ks.mu.RUnlock()
	if len(old) == 0 {
		return Rolled{}, fmt.Errorf("kdc: no keys for %s to roll over", principal)
	}
	now := ks.now()
	r := Rolled{Principal: principal, KVNO: old[0].KVNO + 1, Retired: map[uint32]time.Time{}}
	keys, err := ks.generate(r.KVNO)
	if err != nil {
		return Rolled{}, err
	}
	for _, k := range old {
		k.derived = nil // the backend keeps keys, not what this KDC derived
		if k.NotAfter.IsZero() {
			k.NotAfter = now.Add(ks.retain)
		}
		if !now.Before(k.NotAfter) {
			if !slices.Contains(r.Pruned, k.KVNO) {
				r.Pruned = append(r.Pruned, k.KVNO)
			}
			continue
		}
		r.Retired[k.KVNO] = k.NotAfter
		keys = append(keys, k)
	}
	if err := ks.backend.Replace(ctx, principal, old, keys); err != nil {
		return Rolled{}, fmt.Errorf("kdc: roll over %s: %w", principal, err)
	}
	return r, ks.load(ctx)
}

// Keys returns principal's usable keys: the current version first, then
// the retired ones still within their NotAfter; strongest first within
// one.
func (ks *KeyStore) Keys(principal string) ([]Key, bool) {
	now := ks.now()
	ks.maybeRefresh(now)
	keys := ks.live(principal, now)
	if len(keys) == 0 && ks.reloadForMiss() {
		keys = ks.live(principal, ks.now())
	}
	return keys, len(keys) > 0
}

// Key returns principal's newest key of etype (0: the strongest), the one
// new tickets are encrypted with.
func (ks *KeyStore) Key(principal string, etype int32) (Key, bool) {
	return ks.KeyVersion(principal, etype, 0)
}

// KeyVersion returns principal's key of etype (0: the strongest) and
// version kvno (0: the current one), as a ticket names them.
func (ks *KeyStore) KeyVersion(principal string, etype int32, kvno uint32) (Key, bool) {
	match := func(k Key) bool {
		return (etype == 0 || k.EType == etype) && (kvno == 0 || k.KVNO == kvno)
	}
	now := ks.now()
	ks.maybeRefresh(now)
	if k, ok := ks.find(principal, now, match); ok {
		return k, true
	}
	if !ks.reloadForMiss() {
		return Key{}, false
	}
	return ks.find(principal, ks.now(), match)
}

// Principals lists the principals with usable keys, sorted.
func (ks *KeyStore) Principals() []string {
	ks.mu.RLock()
	names := slices.Collect(maps.Keys(ks.keys))
	ks.mu.RUnlock()
	now := ks.now()
	var out []string
	for _, p := range names {
		if len(ks.live(p, now)) > 0 {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// WritePrivateFile replaces path with data through a 0600 O_EXCL temporary
// file in the same directory, so that readers see the old or the new file.
func WritePrivateFile(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("kdc: %w", err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("kdc: write %s: %w", path, werr)
	}
	return nil
}

func (k Key) encryptionKey() types.EncryptionKey {
	return types.EncryptionKey{KeyType: k.EType, KeyValue: k.Value}
}

// splitPrincipal parses "a/b@REALM" into its components and realm.
func splitPrincipal(p string) (components []string, realm string, err error) {
	name, realm, ok := strings.Cut(p, "@")
	if !ok || name == "" || realm == "" {
		return nil, "", fmt.Errorf("kdc: principal %q is not name@REALM", p)
	}
	return strings.Split(name, "/"), realm, nil
}

// Keytab encodes principal's keys as an MIT keytab (format 0x0502), the file
// a host uses to decrypt its service tickets.
func (ks *KeyStore) Keytab(principal string) ([]byte, error) {
	keys, ok := ks.Keys(principal)
	if !ok {
		return nil, fmt.Errorf("kdc: no keys for %s (add it to the KDC's services)", principal)
	}
	comps, realm, err := splitPrincipal(principal)
	if err != nil {
		return nil, err
	}
	const nameType = 1 // KRB_NT_PRINCIPAL, as MIT's ktadd writes; lookups ignore it
	out := []byte{0x05, 0x02}
	ts := uint32(ks.now().Unix())
	for _, k := range keys {
		var e []byte
		e = binary.BigEndian.AppendUint16(e, uint16(len(comps)))
		e = appendString16(e, realm)
		for _, c := range comps {
			e = appendString16(e, c)
		}
		e = binary.BigEndian.AppendUint32(e, nameType)
		e = binary.BigEndian.AppendUint32(e, ts)
		e = append(e, byte(k.KVNO))
		e = binary.BigEndian.AppendUint16(e, uint16(k.EType))
		e = binary.BigEndian.AppendUint16(e, uint16(len(k.Value)))
		e = append(e, k.Value...)
		e = binary.BigEndian.AppendUint32(e, k.KVNO)
		out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
