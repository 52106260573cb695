package card

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Cache keeps each card's certificates (public data only) in files under
// Dir, one per card [ID], created 0600 in a 0700 directory. An entry is used
// only when the card's ID and its version (the digest of the identity
// object) both match; [CachedCard.Forget] drops one that proved stale.
type Cache struct {
	Dir string
}

// DefaultCache is the user's cache directory: $XDG_CACHE_HOME/sclogon/cards
// (~/.cache/sclogon/cards).
func DefaultCache() (*Cache, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("card: no cache directory: %w", err)
	}
	return &Cache{Dir: filepath.Join(d, "sclogon", "cards")}, nil
}

type cacheFile struct {
	ID      string      `json:"id"`
	Version string      `json:"version"`
	Certs   []cacheCert `json:"certificates"`
}

type cacheCert struct {
	Slot string `json:"slot"`
	DER  []byte `json:"der"`
}

func (c *Cache) path(id ID) string {
	sum := sha256.Sum256([]byte(id.String()))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:12])+".json")
}

// Load returns the certificates stored for id, if its version matches.
func (c *Cache) Load(id ID) ([]Certificate, bool) {
	if c == nil || id.IsZero() {
		return nil, false
	}
	b, err := os.ReadFile(c.path(id))
	if err != nil {
		return nil, false
	}
	var f cacheFile
	if json.Unmarshal(b, &f) != nil || f.ID != id.String() || f.Version != id.Version {
		return nil, false
	}
	out := make([]Certificate, 0, len(f.Certs))
	for _, e := range f.Certs {
		s, err := ParseSlot(e.Slot)
		if err != nil {
			return nil, false
		}
		cert, err := x509.ParseCertificate(e.DER)
		if err != nil {
			return nil, false
		}
		out = append(out, Certificate{Slot: s, Cert: cert})
	}
	return out, true
}

// Store writes the certificates of id, replacing what was there.
func (c *Cache) Store(id ID, certs []Certificate) error {
	if c == nil || id.IsZero() {
		return nil
	}
	f := cacheFile{ID: id.String(), Version: id.Version, Certs: []cacheCert{}}
	for _, e := range certs {
		f.Certs = append(f.Certs, cacheCert{Slot: e.Slot.String(), DER: e.Cert.Raw})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path(id)); err != nil {
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	return nil
}

// Forget removes the entry of id.
func (c *Cache) Forget(id ID) error {
	if c == nil || id.IsZero() {
		return nil
	}
	if err := os.Remove(c.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("card: certificate cache: %w", err)
	}
	return nil
}

// CachedCard is a Card whose Certificates come from a [Cache] when the card
// is known. Everything else goes to the card.
type CachedCard struct {
	Card
	cache *Cache
	// Hit reports whether the last Certificates call was answered from
	// the cache.
	Hit bool
}

// WithCache wraps c; a nil cache reads the card every time.
func WithCache(c Card, cache *Cache) *CachedCard { return &CachedCard{Card: c, cache: cache} }

// Unwrap is the card under the cache, whose optional abilities ([As]) the
// cache does not hide.
func (c *CachedCard) Unwrap() Card { return c.Card }

// Certificates answers from the cache, else reads the card and stores the
// result.
func (c *CachedCard) Certificates() ([]Certificate, error) {
	c.Hit = false
	id, err := c.Card.ID()
	if err != nil || id.IsZero() || c.cache == nil {
		return c.Card.Certificates()
	}
	if certs, ok := c.cache.Load(id); ok {
		c.Hit = true
		return certs, nil
	}
	certs, err := c.Card.Certificates()
	if err != nil {
		return nil, err
	}
	_ = c.cache.Store(id, certs) // a cache that cannot be written only costs speed
	return certs, nil
}

// Forget drops this card's entry: a signature that does not verify with a
// cached certificate's key means the card changed under the cache.
func (c *CachedCard) Forget() error {
	id, err := c.Card.ID()
	if err != nil {
		return err
	}
	return c.cache.Forget(id)
}

// KeyMatches reports whether sig over digest verifies with pub: the check
// that a key on the card still belongs to the certificate cached for it.
func KeyMatches(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) bool {
	return verifySignature(pub, digest, sig, opts) == nil
}
