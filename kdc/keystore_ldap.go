package kdc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/mapping/ldap"
)

// The directory schema of the realm keys (integration/harness/schema/
// sclogon-keys.ldif): one entry per principal below a container,
//
//	dn: sclogonPrincipalName=krbtgt/EXAMPLE.COM@EXAMPLE.COM,ou=Kerberos,dc=example,dc=com
//	objectClass: sclogonKerberosPrincipal
//	sclogonPrincipalName: krbtgt/EXAMPLE.COM@EXAMPLE.COM
//	sclogonPrincipalKey:: <one sealed value per key version (see MasterKey.seal)>
const (
	ldapKeyClass    = "sclogonKerberosPrincipal"
	ldapKeyName     = "sclogonPrincipalName"
	ldapKeyValue    = "sclogonPrincipalKey"
	ldapKeysDefault = "ou=Kerberos" // below the directory's base DN
)

// LDAPKeys is the [KeyBackend] of a realm served by several KDCs: the keys
// live in the directory they share (replicated by the directory itself),
// each key version sealed under the realm's master key. Creating a
// principal is an LDAP add, which fails for the second of two KDCs
// starting at once; a rollover is one modify that deletes the values read
// and adds their successors, which fails if another rollover came first.
type LDAPKeys struct {
	dir       *ldap.Directory
	container string
	mk        *MasterKey
	rand      io.Reader

	mu  sync.Mutex
	raw map[string][][]byte // principal → its sealed values as last loaded
}

// NewLDAPKeys keeps the keys below container (default ou=Kerberos under
// the directory's base DN), sealed under mk. The directory's bind DN
// needs write access there to create keys and roll them over.
func NewLDAPKeys(dir *ldap.Directory, container string, mk *MasterKey, rand io.Reader) (*LDAPKeys, error) {
	if container == "" {
		container = ldapKeysDefault + "," + dir.BaseDN()
	}
	if _, err := goldap.ParseDN(container); err != nil {
		return nil, fmt.Errorf("kdc: keys DN %q: %w", container, err)
	}
	if mk == nil || rand == nil {
		return nil, errors.New("kdc: LDAP keys need a master key and a randomness source")
	}
	return &LDAPKeys{dir: dir, container: container, mk: mk, rand: rand, raw: map[string][][]byte{}}, nil
}

// Container is the DN the keys live below.
func (l *LDAPKeys) Container() string { return l.container }

func (l *LDAPKeys) entryDN(principal string) string {
	return ldapKeyName + "=" + goldap.EscapeDN(principal) + "," + l.container
}

// Load implements [KeyBackend]: every entry below the container, each
// sealed value opened. A value that does not open fails the whole load:
// a KDC never serves with keys it cannot vouch for.
func (l *LDAPKeys) Load(ctx context.Context) (map[string][]Key, error) {
	entries, err := l.dir.Children(ctx, l.container, ldap.Equal("objectClass", ldapKeyClass), []string{ldapKeyName, ldapKeyValue})
	if errors.Is(err, ldap.ErrNoSuchEntry) {
		entries, err = nil, nil // no keys made yet
	}
	if err != nil {
		return nil, fmt.Errorf("kdc: read the realm keys: %w", err)
	}
	keys := map[string][]Key{}
	raw := map[string][][]byte{}
	for _, e := range entries {
		names := e.Get(ldapKeyName)
		if len(names) != 1 {
			return nil, fmt.Errorf("kdc: %s has %d %s values, not one", e.DN, len(names), ldapKeyName)
		}
		principal := string(names[0])
		if _, dup := keys[principal]; dup {
			return nil, fmt.Errorf("kdc: two entries below %s hold keys of %s", l.container, principal)
		}
		for _, v := range e.Get(ldapKeyValue) {
			sv, err := l.mk.open(principal, v)
			if err != nil {
				return nil, fmt.Errorf("kdc: keys of %s in %s: %w", principal, e.DN, err)
			}
			keys[principal] = append(keys[principal], sv.keys...)
		}
		raw[principal] = e.Get(ldapKeyValue)
	}
	l.mu.Lock()
	l.raw = raw
	l.mu.Unlock()
	return keys, nil
}

// sealAll seals keys, one value per version.
func (l *LDAPKeys) sealAll(principal string, keys []Key) ([][]byte, error) {
	var kvnos []uint32
	for _, k := range keys {
		if !slices.Contains(kvnos, k.KVNO) {
			kvnos = append(kvnos, k.KVNO)
		}
	}
	var out [][]byte
	for _, kvno := range kvnos {
		var version []Key
		for _, k := range keys {
			if k.KVNO == kvno {
				version = append(version, k)
			}
		}
		v, err := l.mk.seal(principal, version, l.rand)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Create implements [KeyBackend].
func (l *LDAPKeys) Create(ctx context.Context, principal string, keys []Key) error {
	sealed, err := l.sealAll(principal, keys)
	if err != nil {
		return err
	}
	if err := l.makeContainer(ctx); err != nil {
		return err
	}
	err = l.dir.Add(ctx, l.entryDN(principal), []ldap.Attribute{
		{Name: "objectClass", Values: [][]byte{[]byte(ldapKeyClass)}},
		{Name: ldapKeyName, Values: [][]byte{[]byte(principal)}},
		{Name: ldapKeyValue, Values: sealed},
	})
	if errors.Is(err, ldap.ErrEntryExists) {
		return fmt.Errorf("%w: %s: %w", ErrKeysExist, principal, err)
	}
	if err != nil {
		return fmt.Errorf("kdc: store the keys of %s: %w", principal, err)
	}
	return nil
}

// makeContainer adds the container when it is an ou= that does not exist
// yet; another container must be made by the directory's administrator.
func (l *LDAPKeys) makeContainer(ctx context.Context) error {
	rdn, _, _ := strings.Cut(l.container, ",")
	attr, val, _ := strings.Cut(rdn, "=")
	if !strings.EqualFold(strings.TrimSpace(attr), "ou") {
		return nil
	}
	err := l.dir.Add(ctx, l.container, []ldap.Attribute{
		{Name: "objectClass", Values: [][]byte{[]byte("organizationalUnit")}},
		{Name: "ou", Values: [][]byte{[]byte(strings.TrimSpace(val))}},
	})
	if err != nil && !errors.Is(err, ldap.ErrEntryExists) {
		return fmt.Errorf("kdc: make the keys container: %w", err)
	}
	return nil
}

// Replace implements [KeyBackend]: one modify deletes the sealed values
// last loaded and adds the new ones, so a concurrent rollover makes one of
// the two fail rather than both half-succeed.
func (l *LDAPKeys) Replace(ctx context.Context, principal string, old, keys []Key) error {
	if _, err := l.Load(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	raw := l.raw[principal]
	l.mu.Unlock()
	current, err := l.openAll(principal, raw)
	if err != nil {
		return err
	}
	if !sameKeys(current, old) {
		return fmt.Errorf("%w: %s in %s", ErrKeysChanged, principal, l.container)
	}
	sealed, err := l.sealAll(principal, keys)
	if err != nil {
		return err
	}
	err = l.dir.Modify(ctx, l.entryDN(principal), []ldap.Change{
		{Op: ldap.DeleteValues, Attribute: ldap.Attribute{Name: ldapKeyValue, Values: raw}},
		{Op: ldap.AddValues, Attribute: ldap.Attribute{Name: ldapKeyValue, Values: sealed}},
	})
	if errors.Is(err, ldap.ErrValueConflict) || errors.Is(err, ldap.ErrNoSuchEntry) {
		return fmt.Errorf("%w: %s: %w", ErrKeysChanged, principal, err)
	}
	if err != nil {
		return fmt.Errorf("kdc: store the keys of %s: %w", principal, err)
	}
	return nil
}

func (l *LDAPKeys) openAll(principal string, raw [][]byte) ([]Key, error) {
	var keys []Key
	for _, v := range raw {
		sv, err := l.mk.open(principal, v)
		if err != nil {
			return nil, fmt.Errorf("kdc: keys of %s: %w", principal, err)
		}
		keys = append(keys, sv.keys...)
	}
	return keys, nil
}
