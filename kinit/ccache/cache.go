package ccache

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Cache is one credential cache or cache collection, named as MIT names it
// ("FILE:/tmp/krb5cc_0", "DIR:/run/user/0/krb5cc", "KEYRING:persistent:0",
// "KCM:", "MEMORY:x"). [Open] returns one.
//
// A collection name (DIR:dir, KEYRING:anchor:collection, KCM:) stands for the
// collection's primary cache: Load and Destroy act on it, and Store writes
// the cache into the collection as MIT's kinit does: into the cache that
// already holds the same principal, or else a new one, which becomes primary.
type Cache interface {
	// Name is the name the cache was opened with, in canonical form.
	Name() string
	// Store replaces the cache's contents with c as one step: readers see the
	// old cache or the new one, never a mixture.
	Store(c *CCache) error
	// Load reads the cache. A cache that does not exist is [ErrNotFound].
	Load() (*CCache, error)
	// Destroy removes the cache. Destroying a missing cache is not an error.
	Destroy() error
	// List returns the initialised caches of the collection the cache
	// belongs to, primary first; a cache outside any collection lists itself
	// if it exists.
	List() ([]Cache, error)
}

// Errors callers branch on.
var (
	// ErrNotFound: the named cache does not exist or holds no principal.
	ErrNotFound = errors.New("ccache: no credentials cache found")
	// ErrUnsupported: a cache type this platform or build cannot open.
	ErrUnsupported = errors.New("ccache: cache type not supported")
)

// Env is what resolving and opening a cache depends on besides its name;
// [Environment] fills it from the process and krb5.conf.
type Env struct {
	UID, EUID int
	// Username is %{username}; empty means look EUID up when it is used.
	Username string
	// TempDir is %{TEMP} (TMPDIR, else /tmp).
	TempDir string
	// CCName is KRB5CCNAME; DefaultCCacheName is [libdefaults]
	// default_ccache_name, not yet expanded.
	CCName, DefaultCCacheName string
	// KCMSocket is [libdefaults] kcm_socket; empty means [DefaultKCMSocket].
	KCMSocket string
	// Memory holds the process's MEMORY: caches; nil refuses that type.
	Memory *Memory
	// Rand supplies new cache names; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock (keyring key timeouts); nil means time.Now.
	Now func() time.Time
	// KCMTimeout bounds each KCM exchange; zero means 30 seconds.
	KCMTimeout time.Duration
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e Env) rand() io.Reader {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Reader
}

// randomName returns n characters from MIT's unique-name alphabet.
func (e Env) randomName(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand(), b); err != nil {
		return "", fmt.Errorf("ccache: random name: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// Open returns the cache name denotes. A name without a type prefix, or
// with "/" before any ":", is a FILE cache, as in MIT.
func Open(name string, env Env) (Cache, error) {
	typ, rest := splitName(name)
	switch typ {
	case "FILE", "WRFILE":
		return openFile(rest)
	case "DIR":
		return openDir(rest, env)
	case "KEYRING":
		return openKeyring(rest, env)
	case "KCM":
		return openKCM(rest, env)
	case "MEMORY":
		return openMemory(rest, env)
	}
	return nil, fmt.Errorf("%w: %q (FILE, DIR, KEYRING, KCM and MEMORY are)", ErrUnsupported, typ)
}

// splitName splits "TYPE:residual" as krb5_cc_resolve does: a name with no
// colon, or that starts with "/", is a FILE path.
func splitName(name string) (typ, rest string) {
	typ, rest, found := strings.Cut(name, ":")
	if !found || strings.HasPrefix(name, "/") {
		return "FILE", name
	}
	return typ, rest
}

// collectionTarget picks the cache a collection Store writes to, as MIT's
// kinit does: the cache already holding principal, else the primary if it is
// empty, else a new one (fresh == true).
func collectionTarget(subs []subsidiary, primary string, principal Principal) (name string, fresh bool) {
	primaryInUse := false
	for _, s := range subs {
		if samePrincipal(s.principal, principal) {
			return s.name, false
		}
		if s.name == primary {
			primaryInUse = true
		}
	}
	if primary != "" && !primaryInUse {
		return primary, false
	}
	return "", true
}

// subsidiary is one initialised cache of a collection.
type subsidiary struct {
	name      string
	principal Principal
}
