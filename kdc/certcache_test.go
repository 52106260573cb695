package kdc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping/ldif"
	"github.com/sclogon/sclogon/pkinit"
)

// The client certificate path cache (certPathCache), through
// checkClientCertificate on KDCs made by New and NewReloader with a clock
// of the test's: certificates made here with crypto/x509, so that each CA's
// validity can be what a case needs.

var pathNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// pathCert is a certificate and its key.
type pathCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// pathPKI is a root, an issuing CA in NTAuth, alice's logon certificate,
// and the KDC's own.
type pathPKI struct {
	root, issuing, alice, kdc pathCert
}

// issueCert makes a certificate with a P-256 key valid from notBefore to
// notAfter, signed by parent (self-signed when nil); a CA when eku is nil.
func issueCert(t testing.TB, cn string, parent *pathCert, notBefore, notAfter time.Time, eku ...asn1.ObjectIdentifier) pathCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return issueCertKey(t, key, cn, parent, notBefore, notAfter, eku...)
}

// issueCertKey is issueCert for the key given.
func issueCertKey(t testing.TB, key crypto.Signer, cn string, parent *pathCert, notBefore, notAfter time.Time, eku ...asn1.ObjectIdentifier) pathCert {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	if eku == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		tmpl.KeyUsage, tmpl.UnknownExtKeyUsage = x509.KeyUsageDigitalSignature, eku
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pathCert{cert: cert, key: key}
}

// newPathPKI makes the realm's PKI; the issuing CA expires after a day,
// before alice's certificate does.
func newPathPKI(t *testing.T) *pathPKI {
	t.Helper()
	from := pathNow.Add(-time.Hour)
	p := &pathPKI{root: issueCert(t, "Path Root", nil, from, pathNow.Add(365*24*time.Hour))}
	p.issuing = issueCert(t, "Path Issuing CA", &p.root, from, pathNow.Add(24*time.Hour))
	p.alice = issueCert(t, "alice", &p.issuing, from, pathNow.Add(30*24*time.Hour), certs.OIDExtKeyUsageSmartCardLogon)
	p.kdc = issueCert(t, "kdc", &p.issuing, from, pathNow.Add(20*time.Hour), certs.OIDExtKeyUsageSmartCardLogon)
	return p
}

// config is a KDC configuration over p, with the path cache's TTL.
func (p *pathPKI) config(t *testing.T, ttl time.Duration) Config {
	t.Helper()
	dir, err := ldif.Read(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	return Config{Realm: stageRealm, StateDir: t.TempDir(), Certificate: []*x509.Certificate{p.kdc.cert}, Key: p.kdc.key,
		Anchors: []*x509.Certificate{p.root.cert}, NTAuth: []*x509.Certificate{p.issuing.cert},
		Directory: dir, OCSP: OCSPOff, CertificateCacheTTL: ttl}
}

// pathClock is a clock the test moves.
type pathClock struct{ t time.Time }

func (c *pathClock) now() time.Time { return c.t }

// pathKDC is a KDC over p whose clock is clock, counting into m.
func pathKDC(t *testing.T, cfg Config, clock *pathClock, m *Metrics) *KDC {
	t.Helper()
	k, err := New(cfg, Options{Now: clock.now, Rand: rand.Reader, metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wantCounts checks the hits and misses m counted.
func wantCounts(t *testing.T, m *Metrics, hits, misses uint64) {
	t.Helper()
	if h, n := m.certPathHits.Load(), m.certPathMisses.Load(); h != hits || n != misses {
		t.Fatalf("%d hits, %d misses; want %d, %d", h, n, hits, misses)
	}
}

// mustAccept checks that k accepts cert sent with embedded, issued by the
// NTAuth CA issuing.
func mustAccept(t *testing.T, k *KDC, cert *x509.Certificate, embedded []*x509.Certificate, issuing *x509.Certificate) {
	t.Helper()
	issuer, err := k.checkClientCertificate(cert, embedded, k.now())
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if !issuer.Equal(issuing) {
		t.Fatalf("issuer %s, want %s", issuer.Subject, issuing.Subject)
	}
}

// TestCertPathCacheHitSkipsPathBuilding: the second logon with the same
// certificate and chain takes the cached path, counted as a hit: with the
// KDC's anchors gone from its pool, only a path not built again can
// accept it.
func TestCertPathCacheHitSkipsPathBuilding(t *testing.T) {
	p := newPathPKI(t)
	m := NewMetrics()
	k := pathKDC(t, p.config(t, 0), &pathClock{pathNow}, m)
	if k.certPaths == nil || k.certPaths.ttl != defaultCertificateCacheTTL {
		t.Fatalf("the cache is not on by default with TTL %v", defaultCertificateCacheTTL)
	}
	sent := []*x509.Certificate{p.alice.cert, p.issuing.cert}
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	wantCounts(t, m, 0, 1)
	k.roots = x509.NewCertPool()
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	wantCounts(t, m, 1, 1)

	var out bytes.Buffer
	if err := m.WriteText(&out, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"sclogon_kdc_certificate_cache_hits_total 1\n", "sclogon_kdc_certificate_cache_misses_total 1\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("/metrics lacks %q:\n%s", line, out.String())
		}
	}
}

// TestCertPathCacheOff: a negative TTL (certificate_cache_ttl = 0) builds
// every path.
func TestCertPathCacheOff(t *testing.T) {
	p := newPathPKI(t)
	m := NewMetrics()
	k := pathKDC(t, p.config(t, -1), &pathClock{pathNow}, m)
	if k.certPaths != nil {
		t.Fatal("a cache with a negative TTL")
	}
	sent := []*x509.Certificate{p.alice.cert, p.issuing.cert}
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	k.roots = x509.NewCertPool()
	if _, err := k.checkClientCertificate(p.alice.cert, sent, k.now()); err == nil {
		t.Fatal("accepted with no anchors and no cache")
	}
	wantCounts(t, m, 0, 0)
}

// TestCertPathCacheExpiryOnHit: a cached path stops working the moment a
// certificate in it expires, by the KDC's clock, however long its entry
// has to live: the issuing CA first, then alice's own certificate.
func TestCertPathCacheExpiryOnHit(t *testing.T) {
	p := newPathPKI(t)
	m := NewMetrics()
	clock := &pathClock{pathNow}
	k := pathKDC(t, p.config(t, 90*24*time.Hour), clock, m)
	sent := []*x509.Certificate{p.alice.cert, p.issuing.cert}
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	clock.t = p.issuing.cert.NotAfter
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	wantCounts(t, m, 1, 1)

	clock.t = p.issuing.cert.NotAfter.Add(time.Second)
	_, err := k.checkClientCertificate(p.alice.cert, sent, k.now())
	wantRefused(t, err, krberror.InvalidCertificate)
	wantCounts(t, m, 1, 2)

	clock.t = p.alice.cert.NotAfter.Add(time.Second)
	_, err = k.checkClientCertificate(p.alice.cert, sent, k.now())
	wantRefused(t, err, krberror.InvalidCertificate)
}

// TestCertPathCacheRefusalsNeverEnter: a certificate of a CA the KDC does
// not trust, one whose CA is not in NTAuth, one without the logon EKU,
// and one forged with alice's names are refused each time, and leave no
// entry; alice's cached path is not theirs.
func TestCertPathCacheRefusalsNeverEnter(t *testing.T) {
	p := newPathPKI(t)
	m := NewMetrics()
	cfg := p.config(t, 0)
	notNTAuth := issueCert(t, "Other Issuing CA", &p.root, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour))
	strangerRoot := issueCert(t, "Stranger Root", nil, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour))
	k := pathKDC(t, cfg, &pathClock{pathNow}, m)
	mustAccept(t, k, p.alice.cert, []*x509.Certificate{p.alice.cert, p.issuing.cert}, p.issuing.cert)

	// The forgery names alice, issued by a CA of the issuing CA's name
	// with another key, which the client sends along.
	forger := issueCert(t, p.issuing.cert.Subject.CommonName, nil, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour))
	forged := issueCert(t, "alice", &forger, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour), certs.OIDExtKeyUsageSmartCardLogon)
	for _, tc := range []struct {
		name  string
		cert  pathCert
		chain []*x509.Certificate
		code  krberror.Code
	}{
		{"untrusted CA", issueCert(t, "mallory", &strangerRoot, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour), certs.OIDExtKeyUsageSmartCardLogon), nil, krberror.CantVerifyCertificate},
		{"CA not in NTAuth", issueCert(t, "mallory", &notNTAuth, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour), certs.OIDExtKeyUsageSmartCardLogon), []*x509.Certificate{notNTAuth.cert}, krberror.ClientNotTrusted},
		{"no logon EKU", issueCert(t, "mallory", &p.issuing, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour), asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}), []*x509.Certificate{p.issuing.cert}, krberror.InconsistentKeyPurpose},
		{"forged alice", forged, []*x509.Certificate{forger.cert}, krberror.CantVerifyCertificate},
	} {
		sent := append([]*x509.Certificate{tc.cert.cert}, tc.chain...)
		for range 2 {
			_, err := k.checkClientCertificate(tc.cert.cert, sent, k.now())
			wantRefused(t, err, tc.code)
		}
		if n := k.certPaths.paths.Len(); n != 1 {
			t.Errorf("%s: %d paths cached, want alice's alone", tc.name, n)
		}
		if k.certPaths.parsed(tc.cert.cert.Raw) != nil {
			t.Errorf("%s: the refused certificate is kept parsed", tc.name)
		}
	}
	wantCounts(t, m, 0, 1+4*2)
}

// TestCertPathCacheChainIsKey: the same certificate sent with another
// chain (none, the issuing CA, the CA and an unrelated certificate) is
// another entry, each a miss the first time and a hit the second.
func TestCertPathCacheChainIsKey(t *testing.T) {
	p := newPathPKI(t)
	m := NewMetrics()
	cfg := p.config(t, 0)
	cfg.Intermediates = []*x509.Certificate{p.issuing.cert}
	k := pathKDC(t, cfg, &pathClock{pathNow}, m)
	extra := issueCert(t, "unrelated", nil, pathNow.Add(-time.Hour), pathNow.Add(time.Hour))
	chains := [][]*x509.Certificate{
		{p.alice.cert},
		{p.alice.cert, p.issuing.cert},
		{p.alice.cert, p.issuing.cert, extra.cert},
		{p.alice.cert, extra.cert, p.issuing.cert},
	}
	for i, sent := range chains {
		mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
		wantCounts(t, m, 0, uint64(i+1))
	}
	for i, sent := range chains {
		mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
		wantCounts(t, m, uint64(i+1), uint64(len(chains)))
	}
}

// TestCertPathCacheBound: a cache of four paths never holds more, drops the
// expired first, and keeps taking new paths in; so does the index of
// parsed certificates.
func TestCertPathCacheBound(t *testing.T) {
	p := newPathPKI(t)
	clock := &pathClock{pathNow}
	c := newCertPathCache(time.Minute, 4, clock.now, nil)
	add := func(n int) (keys []pathKey, leaves []*x509.Certificate) {
		for range n {
			leaf := issueCert(t, "user", &p.issuing, pathNow.Add(-time.Hour), pathNow.Add(time.Hour), certs.OIDExtKeyUsageSmartCardLogon)
			key := keyOf(leaf.cert, []*x509.Certificate{leaf.cert})
			c.add(key, leaf.cert, nil, [][]*x509.Certificate{{leaf.cert, p.issuing.cert, p.root.cert}}, clock.now())
			if n, d := c.paths.Len(), c.byDER.Len(); n > 4 || d > 4 {
				t.Fatalf("%d paths, %d parsed certificates; want at most 4", n, d)
			}
			if c.validChains(key, clock.now()) == nil || c.parsed(leaf.cert.Raw) == nil {
				t.Fatal("a new path not taken in")
			}
			keys, leaves = append(keys, key), append(leaves, leaf.cert)
		}
		return keys, leaves
	}
	oldKeys, oldLeaves := add(20)
	clock.t = clock.t.Add(time.Minute)
	if c.validChains(oldKeys[19], clock.now()) != nil || c.parsed(oldLeaves[19].Raw) != nil {
		t.Fatal("an entry answered at its expiry")
	}
	keys, _ := add(4)
	for i, key := range keys {
		if c.validChains(key, clock.now()) == nil {
			t.Errorf("new path %d dropped while expired ones were there to go", i)
		}
	}
}

// TestCertPathCacheReload: a reload starts an empty cache (the hit and
// miss counts go on), and a configuration that no longer trusts alice's
// CA, or her CA's NTAuth entry, refuses her at once although her path was
// cached.
func TestCertPathCacheReload(t *testing.T) {
	p := newPathPKI(t)
	cfg := p.config(t, 0)
	next := &FileConfig{Config: cfg}
	r, err := NewReloader(&FileConfig{Config: cfg}, func() (*FileConfig, error) { return next, nil },
		Options{Now: (&pathClock{pathNow}).now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metrics()
	sent := []*x509.Certificate{p.alice.cert, p.issuing.cert}
	mustAccept(t, r.KDC(), p.alice.cert, sent, p.issuing.cert)
	mustAccept(t, r.KDC(), p.alice.cert, sent, p.issuing.cert)
	wantCounts(t, m, 1, 1)
	reload := func(change func(*Config)) *KDC {
		t.Helper()
		c := cfg
		change(&c)
		next = &FileConfig{Config: c}
		if err := r.Reload(); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if n := r.KDC().certPaths.paths.Len(); n != 0 {
			t.Fatalf("%d paths cached after a reload", n)
		}
		return r.KDC()
	}
	k := reload(func(*Config) {})
	mustAccept(t, k, p.alice.cert, sent, p.issuing.cert)
	wantCounts(t, m, 1, 2)

	k = reload(func(c *Config) { c.NTAuth = nil })
	_, err = k.checkClientCertificate(p.alice.cert, sent, k.now())
	wantRefused(t, err, krberror.ClientNotTrusted)

	stranger := issueCert(t, "Stranger Root", nil, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour))
	k = reload(func(c *Config) { c.Anchors = []*x509.Certificate{stranger.cert} })
	_, err = k.checkClientCertificate(p.alice.cert, sent, k.now())
	wantRefused(t, err, krberror.CantVerifyCertificate)
}

// TestCertPathCacheParsedCertificates: a verified path's certificates are
// handed to pkinit, which takes them instead of parsing the request's
// bytes, and still checks the signature over those bytes; they hold none
// of the request's buffer.
func TestCertPathCacheParsedCertificates(t *testing.T) {
	p := newPathPKI(t)
	k := pathKDC(t, p.config(t, 0), &pathClock{pathNow}, nil)
	request := bytes.Clone(p.alice.cert.Raw)
	fromRequest, err := x509.ParseCertificate(request)
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, k, fromRequest, []*x509.Certificate{fromRequest, p.issuing.cert}, p.issuing.cert)
	clear(request)
	cached := k.certPaths.parsed(p.alice.cert.Raw)
	if cached == nil || cached == fromRequest || !bytes.Equal(cached.Raw, p.alice.cert.Raw) {
		t.Fatal("alice's certificate is not kept parsed from a copy of its own")
	}

	signed, err := pkinit.SignData([]byte("content"), pkinit.ContentAuthData, p.alice.key, p.alice.cert,
		pkinit.SignOptions{Chain: []*x509.Certificate{p.issuing.cert}, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := pkinit.VerifySignedData(signed, pkinit.VerifyOptions{ParsedCertificate: k.certPaths.parsed})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Signer != cached || len(sc.Certificates) != 2 || sc.Certificates[1] != k.certPaths.parsed(p.issuing.cert.Raw) {
		t.Error("pkinit parsed the certificates again")
	}
	signed[len(signed)-1] ^= 1
	if _, err := pkinit.VerifySignedData(signed, pkinit.VerifyOptions{ParsedCertificate: k.certPaths.parsed}); !errors.Is(err, pkinit.ErrBadSignature) {
		t.Errorf("a bad signature with cached certificates: %v, want ErrBadSignature", err)
	}
	signed[len(signed)-1] ^= 1
	wrong := func([]byte) *x509.Certificate { return p.kdc.cert }
	if sc, err := pkinit.VerifySignedData(signed, pkinit.VerifyOptions{ParsedCertificate: wrong}); err != nil || !sc.Signer.Equal(p.alice.cert) {
		t.Errorf("a lookup answering another certificate was believed: %v", err)
	}
}

// TestCertificateCacheTTLConfig: [kdc] certificate_cache_ttl reaches the
// KDC's configuration; absent it takes the default, 0 turns the cache off,
// and a bad value is refused naming the key.
func TestCertificateCacheTTLConfig(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{" certificate_cache_ttl = 30s\n", 30 * time.Second, false},
		{" certificate_cache_ttl = 0\n", -1, false},
		{" certificate_cache_ttl = soon\n", 0, true},
	} {
		prof, err := krb5conf.Parse(strings.NewReader("[kdc]\n"+tc.line), "kdc.conf")
		if err != nil {
			t.Fatal(err)
		}
		var c Config
		err = (&loader{prof: prof, file: "kdc.conf"}).loadChecks(&c)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "kdc.certificate_cache_ttl") {
				t.Errorf("%q: %v, want an error naming kdc.certificate_cache_ttl", tc.line, err)
			}
			continue
		}
		if err != nil || c.CertificateCacheTTL != tc.want {
			t.Errorf("%q: certificate_cache_ttl %v (%v), want %v", tc.line, c.CertificateCacheTTL, err, tc.want)
		}
	}
}

// BenchmarkClientCertificate is checkClientCertificate on a logon
// certificate under an RSA-2048 issuing CA and root, as the demo PKI
// issues them: its path taken from the cache, and built every time.
func BenchmarkClientCertificate(b *testing.B) {
	rsaKey := func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	p := &pathPKI{root: issueCertKey(b, rsaKey(), "Path Root", nil, pathNow.Add(-time.Hour), pathNow.Add(365*24*time.Hour))}
	p.issuing = issueCertKey(b, rsaKey(), "Path Issuing CA", &p.root, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour))
	p.alice = issueCert(b, "alice", &p.issuing, pathNow.Add(-time.Hour), pathNow.Add(24*time.Hour), certs.OIDExtKeyUsageSmartCardLogon)
	sent := []*x509.Certificate{p.alice.cert, p.issuing.cert}
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"built", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			k := &KDC{roots: x509.NewCertPool(), intermediates: x509.NewCertPool(),
				ntauth:    map[string]bool{string(p.issuing.cert.Raw): true},
				certPaths: newCertPathCache(bc.ttl, certPathCacheSize, func() time.Time { return pathNow }, nil)}
			k.roots.AddCert(p.root.cert)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.checkClientCertificate(p.alice.cert, sent, pathNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
