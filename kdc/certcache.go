package kdc

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/sclogon/sclogon/internal/expiring"
)

// defaultCertificateCacheTTL is [Config.CertificateCacheTTL] when zero.
// What a cached path stands for does not change while the configuration
// stands, and what does change is checked on every hit (see certPathCache),
// so the TTL is not what keeps the KDC correct: it bounds how long a
// certificate seen once holds memory. Ten minutes cover a user's logons
// that come close together (a retry, a second device, a screen unlock).
const defaultCertificateCacheTTL = 10 * time.Minute

// certPathCacheSize bounds the paths a KDC remembers, and apart from them
// the certificates it keeps parsed: a flood of distinct certificates
// evicts, it does not grow.
const certPathCacheSize = 10000

// certPathCache remembers the verified paths of the client certificates
// that passed every check of checkClientCertificate, so that a user who
// logs on again within the TTL costs no path building and no check of a
// CA's signature (x509.Certificate.Verify, most of that stage's time).
//
// Its key is the client certificate and the certificates the request
// carried beside it, each by the SHA-256 of its DER: everything Verify
// read from the request. Another embedded chain is another key, and a
// request reaches an entry only with the very bytes that earned it.
//
// What is remembered is what holds while the KDC's configuration stands:
// that the signatures along each path lead to an anchor. What changes is
// checked on every hit: each certificate of a path must be valid at the
// request's time (a path through one that has expired is not used, and
// when none is left the path is built again, which refuses it as it
// should), and NTAuth, key usage and EKU are checked as on a miss;
// revocation is the OCSP stage's, with its own cache. Refusals are never
// cached. The cache is one KDC's: a reload makes a new KDC with an empty
// cache, so new anchors, intermediates or NTAuth CAs count at once.
//
// Beside the paths it keeps their certificates parsed, by the SHA-256 of
// their DER, for pkinit.VerifyOptions.ParsedCertificate: the client's
// certificate is then not parsed again either.
type certPathCache struct {
	ttl     time.Duration
	now     func() time.Time // the KDC's clock, for byDER
	metrics *Metrics         // hits and misses; nil counts nowhere

	mu    sync.Mutex
	paths expiring.Map[pathKey, [][]*x509.Certificate]
	byDER expiring.Map[[sha256.Size]byte, *x509.Certificate] // the paths' certificates
}

// pathKey is the hash of the client certificate's DER, and the hash of
// the other certificates of the request, each prefixed with its length in
// four octets, in the order sent.
type pathKey struct {
	leaf, embedded [sha256.Size]byte
}

// newCertPathCache returns a cache keeping up to size paths for ttl
// (zero: the default), or nil, no cache, for a negative ttl.
func newCertPathCache(ttl time.Duration, size int, now func() time.Time, m *Metrics) *certPathCache {
	if ttl < 0 {
		return nil
	}
	return &certPathCache{ttl: orDefault(ttl, defaultCertificateCacheTTL), now: now, metrics: m,
		paths: expiring.New[pathKey, [][]*x509.Certificate](size), byDER: expiring.New[[sha256.Size]byte, *x509.Certificate](size)}
}

// keyOf is the key of cert sent with embedded: the certificates
// checkClientCertificate hands Verify as intermediates.
func keyOf(cert *x509.Certificate, embedded []*x509.Certificate) pathKey {
	k := pathKey{leaf: sha256.Sum256(cert.Raw)}
	h := sha256.New()
	for _, c := range embedded {
		if c != cert {
			h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.Raw))))
			h.Write(c.Raw)
		}
	}
	h.Sum(k.embedded[:0])
	return k
}

// cachedIssuer returns the NTAuth CA of a cached path of cert that is
// valid at now, or nil: not cached (or the cache is off), or no cached path
// is usable now. It counts the hit or the miss.
func (k *KDC) cachedIssuer(cert *x509.Certificate, embedded []*x509.Certificate, now time.Time) (*x509.Certificate, pathKey) {
	c := k.certPaths
	if c == nil {
		return nil, pathKey{}
	}
	key := keyOf(cert, embedded)
	issuer := k.ntauthIssuer(c.validChains(key, now))
	if m := c.metrics; m != nil {
		if issuer != nil {
			m.certPathHits.Add(1)
		} else {
			m.certPathMisses.Add(1)
		}
	}
	return issuer, key
}

// validChains returns the cached paths of key whose every certificate is
// valid at now, as Verify would judge them then.
func (c *certPathCache) validChains(key pathKey, now time.Time) [][]*x509.Certificate {
	c.mu.Lock()
	chains, ok := c.paths.Get(key, now)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	stale := func(chain []*x509.Certificate) bool {
		return slices.ContainsFunc(chain, func(x *x509.Certificate) bool {
			return now.Before(x.NotBefore) || now.After(x.NotAfter)
		})
	}
	if !slices.ContainsFunc(chains, stale) {
		return chains // the cached slices, only read
	}
	return slices.DeleteFunc(slices.Clone(chains), stale)
}

// add remembers chains, the paths Verify built at now for cert sent with
// embedded, under key; the caller has found cert fit in every other way.
func (c *certPathCache) add(key pathKey, cert *x509.Certificate, embedded []*x509.Certificate, chains [][]*x509.Certificate, now time.Time) {
	if c == nil {
		return
	}
	own, ok := detach(chains, cert, embedded)
	if !ok {
		return
	}
	expires := now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths.Put(key, own, expires, now)
	// Anchor first, client certificate last: what an eviction here could
	// drop is the CAs, which the next path puts back.
	for _, chain := range own {
		for _, x := range slices.Backward(chain) {
			c.byDER.Put(sha256.Sum256(x.Raw), x, expires, now)
		}
	}
}

// parsed returns the certificate of a cached path whose DER is der, or nil;
// it is pkinit.VerifyOptions.ParsedCertificate. pkinit compares the DER
// itself, so a hash collision could not swap a certificate.
func (c *certPathCache) parsed(der []byte) *x509.Certificate {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(der)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	x, _ := c.byDER.Get(sum, now)
	return x
}

// detach returns chains with each certificate the request carried parsed
// again from a copy of its DER: one parsed from the request points into
// the request's buffer, which the cache must neither keep alive nor see
// reused. false if one does not parse again.
func detach(chains [][]*x509.Certificate, cert *x509.Certificate, embedded []*x509.Certificate) ([][]*x509.Certificate, bool) {
	copies := map[*x509.Certificate]*x509.Certificate{}
	out := make([][]*x509.Certificate, len(chains))
	for i, chain := range chains {
		out[i] = make([]*x509.Certificate, len(chain))
		for j, x := range chain {
			if x == cert || slices.Contains(embedded, x) {
				cp, ok := copies[x]
				if !ok {
					var err error
					if cp, err = x509.ParseCertificate(bytes.Clone(x.Raw)); err != nil {
						return nil, false
					}
					copies[x] = cp
				}
				x = cp
			}
			out[i][j] = x
		}
	}
	return out, true
}
