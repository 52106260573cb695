//go:build linux

package ccache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// keyringCache is KEYRING:anchor:collection[:subsidiary] in the Linux
// kernel keyring, in MIT's layout (see keyring_payload.go).
//
// Possession of the keys goes through the process keyring, which the kernel
// keeps per thread: every operation runs on one locked OS thread.
type keyringCache struct {
	name keyringName
	env  Env
}

func openKeyring(residual string, env Env) (Cache, error) {
	n, err := parseKeyringResidual(residual)
	if err != nil {
		return nil, err
	}
	return &keyringCache{name: n, env: env}, nil
}

func (k *keyringCache) Name() string { return k.name.String() }

// locked runs f on a locked OS thread.
func locked[T any](f func() (T, error)) (T, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return f()
}

// collection finds or creates the collection keyring, as MIT's get_collection.
func (k *keyringCache) collection() (int, error) {
	n := k.name
	if n.anchor == "persistent" {
		uid := k.env.EUID
		if n.collection != "" {
			u, err := strconv.Atoi(n.collection)
			if err != nil || u < 0 {
				return 0, fmt.Errorf("ccache: %s: %q is not a uid", n, n.collection)
			}
			uid = u
		}
		p, err := persistentKeyring(uid, k.env.EUID)
		if err != nil {
			return 0, err
		}
		return findOrCreateKeyring(p, unix.KEY_SPEC_PROCESS_KEYRING, keyringPersistentName)
	}
	anchor, possess := 0, 0
	switch n.anchor {
	case "process":
		anchor = unix.KEY_SPEC_PROCESS_KEYRING
	case "thread":
		anchor = unix.KEY_SPEC_THREAD_KEYRING
	case "session", "legacy":
		anchor = sessionWriteAnchor()
	case "user":
		anchor, possess = unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_PROCESS_KEYRING
	}
	return findOrCreateKeyring(anchor, possess, keyringCollectionPrefix+n.collection)
}

// persistentKeyring is KEYCTL_GET_PERSISTENT, linked into the process
// keyring for possession; without kernel support, the user keyring stands
// in for the caller's own uid, as in MIT.
func persistentKeyring(uid, euid int) (int, error) {
	id, err := unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, uid, unix.KEY_SPEC_PROCESS_KEYRING, 0, 0)
	if errors.Is(err, unix.EOPNOTSUPP) && uid == euid {
		return unix.KEY_SPEC_USER_KEYRING, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ccache: persistent keyring of uid %d: %w", uid, err)
	}
	return id, nil
}

// sessionWriteAnchor writes to the user session keyring when it is the
// session keyring, so that a process without a session keyring of its own
// does not create an invisible one (MIT's session_write_anchor).
func sessionWriteAnchor() int {
	s, err1 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	u, err2 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_SESSION_KEYRING, false)
	if err1 == nil && err2 == nil && s == u {
		return unix.KEY_SPEC_USER_SESSION_KEYRING
	}
	return unix.KEY_SPEC_SESSION_KEYRING
}

func findOrCreateKeyring(parent, possess int, name string) (int, error) {
	if id, err := unix.KeyctlSearch(parent, "keyring", name, possess); err == nil {
		return id, nil
	}
	dest := parent
	if possess != 0 {
		dest = possess
	}
	id, err := unix.AddKey("keyring", name, nil, dest)
	if err != nil {
		return 0, fmt.Errorf("ccache: create keyring %s: %w", name, err)
	}
	if possess != 0 {
		if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, parent, 0, 0); err != nil {
			return 0, fmt.Errorf("ccache: link keyring %s: %w", name, err)
		}
	}
	return id, nil
}

// primary reads the collection's primary name without creating it.
func (k *keyringCache) primary(coll int) (string, error) {
	if k.name.subsidiary != "" {
		return k.name.subsidiary, nil
	}
	id, err := unix.KeyctlSearch(coll, "user", keyringPrimaryKey, 0)
	if err != nil {
		return k.name.defaultPrimary(), nil
	}
	data, err := readKey(id)
	if err != nil {
		return "", err
	}
	return parseKeyringPrimary(data)
}

func setKeyringPrimary(coll int, name string) error {
	if _, err := unix.AddKey("user", keyringPrimaryKey, marshalKeyringPrimary(name), coll); err != nil {
		return fmt.Errorf("ccache: set primary cache: %w", err)
	}
	return nil
}

// readKey reads a key's payload (a keyring's is its key serials).
func readKey(id int) ([]byte, error) {
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("ccache: read key %d: %w", id, err)
		}
		buf := make([]byte, n)
		m, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("ccache: read key %d: %w", id, err)
		}
		if m <= n {
			return buf[:m], nil
		}
	}
}

// keyEntry is one key linked from a keyring.
type keyEntry struct {
	id        int
	typ, desc string
}

// keyringEntries lists the keys a keyring links, with type and description.
func keyringEntries(ring int) ([]keyEntry, error) {
	data, err := readKey(ring)
	if err != nil {
		return nil, err
	}
	var out []keyEntry
	for i := 0; i+4 <= len(data); i += 4 {
		id := int(int32(binary.NativeEndian.Uint32(data[i:])))
		d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			continue // unlinked or expired meanwhile
		}
		typ, _, _ := strings.Cut(d, ";")
		out = append(out, keyEntry{id: id, typ: typ, desc: d[strings.LastIndexByte(d, ';')+1:]})
	}
	return out, nil
}

// findCache returns the cache keyring named sub in the collection, or 0.
func findCache(coll int, sub string) int {
	for _, e := range entriesOrNone(coll) {
		if e.typ == "keyring" && e.desc == sub {
			return e.id
		}
	}
	return 0
}

func entriesOrNone(ring int) []keyEntry {
	es, _ := keyringEntries(ring)
	return es
}

func (k *keyringCache) Load() (*CCache, error) {
	return locked(func() (*CCache, error) {
		coll, err := k.collection()
		if err != nil {
			return nil, err
		}
		sub, err := k.primary(coll)
		if err != nil {
			return nil, err
		}
		id := findCache(coll, sub)
		if id == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, k.name)
		}
		return loadKeyringCache(id)
	})
}

// loadKeyringCache reads a cache keyring: the principal key, the time
// offsets and one credential per other key.
func loadKeyringCache(id int) (*CCache, error) {
	entries, err := keyringEntries(id)
	if err != nil {
		return nil, err
	}
	c := &CCache{}
	havePrincipal := false
	for _, e := range entries {
		data, err := readKey(e.id)
		if err != nil {
			continue // expired between listing and reading
		}
		switch e.desc {
		case keyringPrincipalKey:
			c.Principal, err = parsePrincipal(data)
			havePrincipal = err == nil
		case keyringOffsetsKey:
			c.KDCOffset, err = parseKeyringOffsets(data)
		default:
			var cr Credential
			if cr, err = parseCredential(data); err == nil {
				c.Credentials = append(c.Credentials, cr)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("ccache: keyring key %q: %w", e.desc, err)
		}
	}
	if !havePrincipal {
		return nil, fmt.Errorf("%w: the cache keyring holds no principal", ErrNotFound)
	}
	return c, nil
}

func (k *keyringCache) Destroy() error {
	_, err := locked(func() (struct{}, error) {
		coll, err := k.collection()
		if err != nil {
			return struct{}{}, err
		}
		sub, err := k.primary(coll)
		if err != nil {
			return struct{}{}, err
		}
		if id := findCache(coll, sub); id != 0 {
			unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
			if _, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, coll, 0, 0); err != nil {
				return struct{}{}, fmt.Errorf("ccache: unlink %s: %w", k.name, err)
			}
			if k.name.legacyLinked(sub) {
				unix.KeyctlInt(unix.KEYCTL_UNLINK, id, sessionWriteAnchor(), 0, 0)
			}
		}
		return struct{}{}, nil
	})
	return err
}

// Store builds the whole cache keyring inside the process keyring, where no
// one else looks, then links it into the collection: the kernel replaces a
// linked keyring of the same name in one step. A collection Store then
// points the primary index at it.
func (k *keyringCache) Store(c *CCache) error {
	_, err := locked(func() (struct{}, error) {
		coll, err := k.collection()
		if err != nil {
			return struct{}{}, err
		}
		sub, err := k.storeTarget(coll, c.Principal)
		if err != nil {
			return struct{}{}, err
		}
		if err := k.buildAndSwap(coll, sub, c); err != nil {
			return struct{}{}, err
		}
		if k.name.subsidiary == "" {
			return struct{}{}, setKeyringPrimary(coll, sub)
		}
		return struct{}{}, nil
	})
	return err
}

// storeTarget picks the cache keyring Store writes, as MIT's kinit does.
func (k *keyringCache) storeTarget(coll int, p Principal) (string, error) {
	if k.name.subsidiary != "" {
		return k.name.subsidiary, nil
	}
	primary, err := k.primary(coll)
	if err != nil {
		return "", err
	}
	target, fresh := collectionTarget(keyringSubsidiaries(coll), primary, p)
	if !fresh {
		return target, nil
	}
	for i := 0; i < 100; i++ {
		suffix, err := k.env.randomName(8)
		if err != nil {
			return "", err
		}
		if findCache(coll, keyringUniquePrefix+suffix) == 0 {
			return keyringUniquePrefix + suffix, nil
		}
	}
	return "", fmt.Errorf("ccache: %s: no free cache name", k.name)
}

// keyringSubsidiaries lists the collection's initialised caches.
func keyringSubsidiaries(coll int) []subsidiary {
	var subs []subsidiary
	for _, e := range entriesOrNone(coll) {
		if e.typ != "keyring" {
			continue
		}
		pid, err := unix.KeyctlSearch(e.id, "user", keyringPrincipalKey, 0)
		if err != nil {
			continue
		}
		data, err := readKey(pid)
		if err != nil {
			continue
		}
		if p, err := parsePrincipal(data); err == nil {
			subs = append(subs, subsidiary{name: e.desc, principal: p})
		}
	}
	return subs
}

func (k *keyringCache) buildAndSwap(coll int, sub string, c *CCache) error {
	id, err := unix.AddKey("keyring", sub, nil, unix.KEY_SPEC_PROCESS_KEYRING)
	if err != nil {
		return fmt.Errorf("ccache: create cache keyring: %w", err)
	}
	defer unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_PROCESS_KEYRING, 0, 0)
	if err := k.fill(id, c, k.name.anchor == "legacy"); err != nil {
		unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
		return err
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, coll, 0, 0); err != nil {
		unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
		return fmt.Errorf("ccache: link %s into its collection: %w", k.name, err)
	}
	if k.name.legacyLinked(sub) {
		unix.KeyctlInt(unix.KEYCTL_LINK, id, sessionWriteAnchor(), 0, 0)
	}
	return nil
}

// fill adds the principal, the time offsets and the credentials to the new
// cache keyring, and gives keys and keyring MIT's timeouts (the end time).
func (k *keyringCache) fill(id int, c *CCache, legacy bool) error {
	p, err := marshalPrincipal(c.Principal)
	if err != nil {
		return err
	}
	if _, err := unix.AddKey("user", keyringPrincipalKey, p, id); err != nil {
		return fmt.Errorf("ccache: add principal key: %w", err)
	}
	if c.KDCOffset != 0 && !legacy {
		if _, err := unix.AddKey("user", keyringOffsetsKey, marshalKeyringOffsets(c.KDCOffset), id); err != nil {
			return fmt.Errorf("ccache: add time offsets key: %w", err)
		}
	}
	now := k.env.now()
	var last time.Time
	for _, cr := range c.Credentials {
		key, err := addCredentialKey(id, cr, legacy)
		if err != nil {
			return err
		}
		setTimeout(key, now, cr.EndTime)
		if cr.EndTime.After(last) {
			last = cr.EndTime
		}
	}
	setTimeout(id, now, last)
	return nil
}

// addCredentialKey stores one credential, in a big_key where the kernel
// has them (tickets with a PAC outgrow a user key), else a user key.
func addCredentialKey(ring int, cr Credential, legacy bool) (int, error) {
	data, err := marshalCredential(cr)
	if err != nil {
		return 0, err
	}
	name := unparsePrincipal(cr.Server)
	if !legacy {
		id, err := unix.AddKey("big_key", name, data, ring)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("ccache: add credential key %s: %w", name, err)
		}
	}
	id, err := unix.AddKey("user", name, data, ring)
	if err != nil {
		return 0, fmt.Errorf("ccache: add credential key %s: %w", name, err)
	}
	return id, nil
}

// setTimeout expires a key at end; an already expired one in a second, since
// zero would mean never. Failing to set one is not worth failing the Store.
func setTimeout(id int, now, end time.Time) {
	if end.IsZero() {
		return
	}
	secs := int(end.Sub(now) / time.Second)
	if secs < 1 {
		secs = 1
	}
	unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, secs, 0, 0)
}

func (k *keyringCache) List() ([]Cache, error) {
	return locked(func() ([]Cache, error) {
		coll, err := k.collection()
		if err != nil {
			return nil, err
		}
		primary, err := k.primary(coll)
		if err != nil {
			return nil, err
		}
		var first, rest []Cache
		for _, s := range keyringSubsidiaries(coll) {
			n := k.name
			n.subsidiary = s.name
			c := &keyringCache{name: n, env: k.env}
			if s.name == primary {
				first = append(first, c)
			} else if k.name.subsidiary == "" {
				rest = append(rest, c)
			}
		}
		return append(first, rest...), nil
	})
}
