package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Policy says how hard to insist on an answer.
type Policy struct {
	// HardFail turns "could not learn the status" into an error matching
	// ErrStatusUnknown (KDC_ERR_REVOCATION_STATUS_UNKNOWN). Soft-fail
	// returns Status Unknown with a nil error instead.
	HardFail bool
	// MaxSkew tolerated between our clock and the responder's; default 5m.
	MaxSkew time.Duration
	// Timeout of one query, connect to last byte; default 5s.
	Timeout time.Duration
	// MaxAge of a response without nextUpdate; default 1h. Such responses
	// are not cached.
	MaxAge time.Duration
	// CacheSize bounds the number of cached answers; default 1024.
	CacheSize int
	// MaxRevoked bounds the number of certificates remembered as revoked
	// (see [Checker]); default 65536. When full, the one that expires
	// first is forgotten first.
	MaxRevoked int
	// ResponderURL overrides the certificate's AIA OCSP URL.
	ResponderURL string
	// AllowMissingNonce accepts responses that do not echo the nonce
	// (pre-signed RFC 5019 responders, such as AD CS's). A wrong nonce is
	// always rejected.
	AllowMissingNonce bool
}

func (p Policy) withDefaults() Policy {
	if p.MaxSkew <= 0 {
		p.MaxSkew = 5 * time.Minute
	}
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Second
	}
	if p.MaxAge <= 0 {
		p.MaxAge = time.Hour
	}
	if p.CacheSize <= 0 {
		p.CacheSize = 1024
	}
	if p.MaxRevoked <= 0 {
		p.MaxRevoked = 1 << 16
	}
	return p
}

// Doer sends an HTTP request; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Options are a Checker's policy and injected dependencies; zero fields
// mean http.DefaultClient, the system clock and crypto/rand.
type Options struct {
	Policy Policy
	HTTP   Doer
	Now    func() time.Time
	Rand   io.Reader
}

// Checker queries OCSP responders and caches their answers until
// nextUpdate. At most one query per certificate is in flight; concurrent
// Checks for the same certificate share it. Safe for concurrent use.
//
// A verified "revoked" answer is final: the Checker remembers it until the
// certificate expires, past the answer's nextUpdate and through responder
// outages, and soft-fail never lets that certificate through again. Only a
// certificateHold (RFC 5280 §5.3.1) may be lifted, by a verified "good"
// answer produced after the one that put the hold on.
type Checker struct {
	pol  Policy
	http Doer
	now  func() time.Time
	rand io.Reader

	mu      sync.Mutex
	cache   map[string]Result
	revoked map[string]revokedAnswer
	flights map[string]*flight

	hits, waits, queries, failures atomic.Uint64
}

// Stats counts a Checker's work since it was made. Every [Checker.Check]
// adds one to exactly one of CacheHits, Waits and Queries.
type Stats struct {
	// CacheHits are Checks answered from the cache or from the
	// certificates remembered as revoked, without a query.
	CacheHits uint64
	// Waits are Checks answered by a query another Check of the same
	// certificate had in flight.
	Waits uint64
	// Queries are the queries the Checker started: Checks that found no
	// answer to reuse.
	Queries uint64
	// QueryFailures are the queries that ended without a verified answer:
	// no responder URL, no answer, or an answer refused (malformed, badly
	// signed, stale, wrong nonce, a responder error status).
	QueryFailures uint64
}

// Stats returns the counts so far, each read atomically.
func (c *Checker) Stats() Stats {
	return Stats{CacheHits: c.hits.Load(), Waits: c.waits.Load(), Queries: c.queries.Load(), QueryFailures: c.failures.Load()}
}

// revokedAnswer is a verified "revoked" answer, kept until notAfter, the
// certificate's expiry.
type revokedAnswer struct {
	res      Result
	notAfter time.Time
}

type flight struct {
	done chan struct{}
	res  Result
	err  error
}

// NewChecker returns a Checker.
func NewChecker(o Options) *Checker {
	c := &Checker{pol: o.Policy.withDefaults(), http: o.HTTP, now: o.Now, rand: o.Rand,
		cache: map[string]Result{}, revoked: map[string]revokedAnswer{}, flights: map[string]*flight{}}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c
}

func (c *Checker) verifyOptions(nonce []byte) VerifyOptions {
	return VerifyOptions{Now: c.now(), MaxSkew: c.pol.MaxSkew, MaxAge: c.pol.MaxAge, Nonce: nonce, AllowMissingNonce: c.pol.AllowMissingNonce}
}

func cacheKey(cert, issuer *x509.Certificate) string {
	return string(issuer.RawSubjectPublicKeyInfo) + "\x00" + string(cert.SerialNumber.Bytes())
}

// Check returns cert's revocation status, from the cache or from the
// responder in cert's AIA (or Policy.ResponderURL).
func (c *Checker) Check(ctx context.Context, cert, issuer *x509.Certificate) (Result, error) {
	key := cacheKey(cert, issuer)
	c.mu.Lock()
	if r, ok := c.knownRevoked(key); ok && r.Reason != ocsp.CertificateHold {
		c.mu.Unlock()
		c.hits.Add(1)
		return c.decide(cert, r, nil)
	}
	if r, ok := c.cached(key); ok {
		c.mu.Unlock()
		c.hits.Add(1)
		return c.settle(key, cert, r, nil)
	}
	f, ok := c.flights[key]
	if ok {
		c.waits.Add(1)
	} else {
		c.queries.Add(1)
		f = &flight{done: make(chan struct{})}
		c.flights[key] = f
		// The query outlives any one caller's context, so a caller that
		// gives up does not fail the others waiting on it.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.pol.Timeout)
		go func() {
			defer cancel()
			f.res, f.err = c.query(qctx, cert, issuer)
			if f.err != nil {
				c.failures.Add(1)
			}
			c.mu.Lock()
			delete(c.flights, key)
			if f.err == nil {
				c.store(key, f.res)
				c.remember(key, cert, f.res)
			}
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return c.settle(key, cert, f.res, f.err)
	case <-ctx.Done():
		return c.settle(key, cert, Result{}, fmt.Errorf("%w: %w", errUnreachable, ctx.Err()))
	}
}

// CheckStapled verifies an OCSP response a peer sent with its certificate
// (no nonce is possible) and returns what it says, under the same policy.
// A verified stapled response is cached like a fetched one.
func (c *Checker) CheckStapled(raw []byte, cert, issuer *x509.Certificate) (Result, error) {
	key := cacheKey(cert, issuer)
	r, err := Verify(raw, cert, issuer, c.verifyOptions(nil))
	if err != nil {
		return c.settle(key, cert, Result{}, err)
	}
	r.Stapled = true
	c.mu.Lock()
	c.store(key, r)
	c.remember(key, cert, r)
	c.mu.Unlock()
	return c.settle(key, cert, r, nil)
}

// errUnreachable marks failures to get any answer, the only ones soft-fail
// forgives (with a responder error status and a missing responder URL).
var errUnreachable = errors.New("revocation: OCSP responder unreachable")

func (c *Checker) decide(cert *x509.Certificate, r Result, err error) (Result, error) {
	if err != nil {
		soft := errors.Is(err, errUnreachable) || errors.Is(err, ErrResponderError) || errors.Is(err, ErrNoResponder)
		if soft && !c.pol.HardFail {
			return Result{Status: Unknown, Cause: err}, nil
		}
		return Result{}, fmt.Errorf("%w: %w", ErrStatusUnknown, err)
	}
	switch r.Status {
	case Good:
		return r, nil
	case Revoked:
		return r, &RevokedError{Serial: cert.SerialNumber, At: r.RevokedAt, Reason: r.Reason}
	}
	if !c.pol.HardFail {
		r.Cause = errors.New("revocation: the responder does not know the certificate")
		return r, nil
	}
	return r, fmt.Errorf("%w: the responder does not know certificate %X", ErrStatusUnknown, cert.SerialNumber)
}

// settle weighs an answer (or the failure to get one) against what the
// Checker remembers: for a certificate once seen revoked, a failure, an
// "unknown" or a stale "good" changes nothing, so soft-fail never applies
// to it; a newer "good" lifts a certificateHold.
func (c *Checker) settle(key string, cert *x509.Certificate, r Result, err error) (Result, error) {
	c.mu.Lock()
	prev, seen := c.knownRevoked(key)
	switch {
	case !seen || err == nil && r.Status == Revoked:
	case err == nil && r.Status == Good && prev.Reason == ocsp.CertificateHold && r.ThisUpdate.After(prev.ThisUpdate):
		delete(c.revoked, key)
	default:
		r, err = prev, nil
	}
	c.mu.Unlock()
	return c.decide(cert, r, err)
}

// knownRevoked returns the revoked answer remembered for key, if the
// certificate has not expired since; c.mu held.
func (c *Checker) knownRevoked(key string) (Result, bool) {
	a, ok := c.revoked[key]
	if !ok {
		return Result{}, false
	}
	if !c.now().Before(a.notAfter) {
		delete(c.revoked, key)
		return Result{}, false
	}
	a.res.Cached = true
	return a.res, true
}

// remember keeps a revoked answer until the certificate expires. When
// MaxRevoked are kept, expired entries go first, then the one that expires
// soonest: the KDC refuses it on its own once it has expired. c.mu held.
func (c *Checker) remember(key string, cert *x509.Certificate, r Result) {
	if r.Status != Revoked {
		return
	}
	makeRoom(c.revoked, key, c.pol.MaxRevoked, c.now(), func(a revokedAnswer) time.Time { return a.notAfter })
	c.revoked[key] = revokedAnswer{res: r, notAfter: cert.NotAfter}
}

// cached returns a cached answer still fresh; c.mu held.
func (c *Checker) cached(key string) (Result, bool) {
	r, ok := c.cache[key]
	if !ok {
		return Result{}, false
	}
	if !c.now().Before(r.NextUpdate) {
		delete(c.cache, key)
		return Result{}, false
	}
	r.Cached = true
	return r, true
}

// store caches r until its nextUpdate, evicting expired entries and then
// the soonest to expire when full; c.mu held.
func (c *Checker) store(key string, r Result) {
	if r.NextUpdate.IsZero() || r.Status == Unknown {
		return
	}
	makeRoom(c.cache, key, c.pol.CacheSize, c.now(), func(r Result) time.Time { return r.NextUpdate })
	c.cache[key] = r
}

// CacheLen returns the number of cached answers.
func (c *Checker) CacheLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cache)
}

const maxResponseSize = 1 << 20

func (c *Checker) query(ctx context.Context, cert, issuer *x509.Certificate) (Result, error) {
	url := c.pol.ResponderURL
	if url == "" && len(cert.OCSPServer) > 0 {
		url = cert.OCSPServer[0]
	}
	if url == "" {
		return Result{}, ErrNoResponder
	}
	req, nonce, err := CreateRequest(cert, issuer, c.rand)
	if err != nil {
		return Result{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Result{}, fmt.Errorf("%w: %s answered HTTP %s", errUnreachable, url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return Result{}, fmt.Errorf("%w: reading %s: %w", errUnreachable, url, err)
	}
	if len(body) > maxResponseSize {
		return Result{}, fmt.Errorf("%w: response from %s exceeds %d bytes", ErrMalformed, url, maxResponseSize)
	}
	return Verify(body, cert, issuer, c.verifyOptions(nonce))
}

type certIDReq struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

type requestReq struct {
	ReqCert certIDReq
}

type tbsRequestReq struct {
	RequestList []requestReq
	Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type ocspRequestReq struct {
	TBSRequest tbsRequestReq
}

// CreateRequest returns a DER OCSP request (RFC 6960 §4.1.1) for cert with
// a SHA-1 CertID (what every responder understands, RFC 5019) and a fresh
// 16-byte nonce, and the nonce extension's value to pass to [Verify].
func CreateRequest(cert, issuer *x509.Certificate, rand io.Reader) (der, nonce []byte, err error) {
	nh, kh, err := issuerHashes(issuer, crypto.SHA1)
	if err != nil {
		return nil, nil, fmt.Errorf("revocation: issuer public key: %w", err)
	}
	n := make([]byte, 16)
	if _, err := io.ReadFull(rand, n); err != nil {
		return nil, nil, fmt.Errorf("revocation: nonce: %w", err)
	}
	// The extnValue is an OCTET STRING holding the nonce (RFC 8954 §2.1),
	// as OpenSSL writes and compares it.
	nonce, err = asn1.Marshal(n)
	if err != nil {
		return nil, nil, err
	}
	der, err = asn1.Marshal(ocspRequestReq{TBSRequest: tbsRequestReq{
		RequestList: []requestReq{{ReqCert: certIDReq{
			HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: hashOIDs[crypto.SHA1], Parameters: asn1.NullRawValue},
			IssuerNameHash: nh, IssuerKeyHash: kh, SerialNumber: cert.SerialNumber,
		}}},
		Extensions: []pkix.Extension{{Id: OIDNonce, Value: nonce}},
	}})
	if err != nil {
		return nil, nil, fmt.Errorf("revocation: encoding request: %w", err)
	}
	return der, nonce, nil
}

// makeRoom readies m, which may hold max entries, for key: when key is new
// and m is full, the entries already expired go first, then the one that
// expires soonest.
func makeRoom[V any](m map[string]V, key string, max int, now time.Time, expiry func(V) time.Time) {
	if _, ok := m[key]; ok || len(m) < max {
		return
	}
	var victim string
	var soonest time.Time
	for k, v := range m {
		exp := expiry(v)
		if !now.Before(exp) {
			delete(m, k)
			continue
		}
		if victim == "" || exp.Before(soonest) {
			victim, soonest = k, exp
		}
	}
	if len(m) >= max {
		delete(m, victim)
	}
}
