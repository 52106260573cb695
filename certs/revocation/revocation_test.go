package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"encoding/asn1"

	"golang.org/x/crypto/ocsp"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type lab struct {
	ca       *pki.CA
	user     *x509.Certificate
	other    *x509.Certificate // another certificate of the same CA
	delegate *x509.Certificate
	delKey   crypto.Signer
}

func issue(t testing.TB, ca *pki.CA, p pki.Profile) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(key.Public(), p)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func newLab(t testing.TB, intermediate bool) *lab {
	return newNamedLab(t, "sclogon Test Root CA", intermediate)
}

func newNamedLab(t testing.TB, name string, intermediate bool) *lab {
	t.Helper()
	ca, err := pki.Init(t.TempDir(), pki.InitOptions{
		Options: pki.Options{Now: func() time.Time { return t0 }}, KeyType: pki.P256, Name: name,
		Intermediate: intermediate, OCSPURL: "http://127.0.0.1:1/",
	})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := pki.UserProfile(pki.User{UPN: "alice@example.com"})
	l := &lab{ca: ca}
	l.user, _ = issue(t, ca, up)
	l.other, _ = issue(t, ca, up)
	l.delegate, l.delKey = issue(t, ca, pki.OCSPResponderProfile("", 30*24*time.Hour))
	return l
}

// respond builds a response about cert with the issuing CA's key unless
// changed by the options.
type resp struct {
	serial     *big.Int
	idIssuer   *x509.Certificate
	status     int
	this, next time.Time
	nonce      []byte
	signer     *x509.Certificate
	key        crypto.Signer
	embed      []*x509.Certificate
	byKey      bool
	reason     pki.Reason
	revokedAt  time.Time
}

func (l *lab) response(t testing.TB, r resp) []byte {
	t.Helper()
	if r.serial == nil {
		r.serial = l.user.SerialNumber
	}
	if r.idIssuer == nil {
		r.idIssuer = l.ca.Issuer()
	}
	if r.this.IsZero() {
		r.this = t0
	}
	if r.signer == nil {
		r.signer, r.key = l.ca.Issuer(), l.ca.IssuerSigner()
	}
	id, err := pki.NewCertID(r.idIssuer, r.serial, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.SignResponse(pki.ResponseTemplate{
		Responses: []pki.SingleResponse{{CertID: id, Status: r.status, ThisUpdate: r.this, NextUpdate: r.next,
			Reason: r.reason, RevokedAt: r.revokedAt}},
		ProducedAt: r.this, Nonce: r.nonce, Certificates: r.embed, ResponderByKey: r.byKey,
	}, r.signer, r.key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func opts(nonce []byte) VerifyOptions {
	return VerifyOptions{Now: t0.Add(time.Minute), MaxSkew: 5 * time.Minute, MaxAge: time.Hour, Nonce: nonce}
}

var testNonce, _ = asnOctets([]byte("0123456789abcdef"))

func asnOctets(b []byte) ([]byte, error) { return append([]byte{0x04, byte(len(b))}, b...), nil }

func TestVerifyGood(t *testing.T) {
	l := newLab(t, true)
	for name, r := range map[string]resp{
		"ca signs":             {next: t0.Add(time.Hour), nonce: testNonce},
		"ca signs, embeds":     {next: t0.Add(time.Hour), nonce: testNonce, embed: []*x509.Certificate{l.ca.Issuer()}},
		"ca by key":            {next: t0.Add(time.Hour), nonce: testNonce, byKey: true},
		"delegate":             {next: t0.Add(time.Hour), nonce: testNonce, signer: l.delegate, key: l.delKey, embed: []*x509.Certificate{l.delegate}},
		"delegate by key":      {next: t0.Add(time.Hour), nonce: testNonce, signer: l.delegate, key: l.delKey, embed: []*x509.Certificate{l.delegate}, byKey: true},
		"no nextUpdate, fresh": {nonce: testNonce},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Verify(l.response(t, r), l.user, l.ca.Issuer(), opts(testNonce))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Good {
				t.Fatalf("status %v", res.Status)
			}
		})
	}
	res, err := Verify(l.response(t, resp{status: ocsp.Revoked, next: t0.Add(time.Hour), nonce: testNonce,
		reason: pki.KeyCompromise, revokedAt: t0.Add(-time.Hour)}), l.user, l.ca.Issuer(), opts(testNonce))
	if err != nil || res.Status != Revoked || res.Reason != int(pki.KeyCompromise) || !res.RevokedAt.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("revoked: %+v %v", res, err)
	}
}

func TestRejectWrongSigner(t *testing.T) {
	l := newLab(t, false)
	rogue := newNamedLab(t, "Rogue CA", false)
	// A different CA's key, naming our issuer as responder.
	raw := l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: l.ca.Issuer(), key: rogue.ca.IssuerSigner()})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged CA signature: %v", err)
	}
	// A different CA's delegate, embedded and naming itself.
	raw = l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: rogue.delegate, key: rogue.delKey, embed: []*x509.Certificate{rogue.delegate}})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrUnauthorizedResponder) {
		t.Fatalf("foreign delegate: %v", err)
	}
	// The foreign CA itself.
	raw = l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: rogue.ca.Issuer(), key: rogue.ca.IssuerSigner(), embed: []*x509.Certificate{rogue.ca.Issuer()}})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrUnauthorizedResponder) {
		t.Fatalf("foreign CA: %v", err)
	}
	// Our delegate's name, someone else's key.
	raw = l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: l.delegate, key: rogue.delKey, embed: []*x509.Certificate{l.delegate}})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("delegate name, wrong key: %v", err)
	}
}

func TestRejectDelegateWithoutEKU(t *testing.T) {
	l := newLab(t, true)
	p := pki.OCSPResponderProfile("no eku", time.Hour*24)
	p.ExtKeyUsage = []asn1.ObjectIdentifier{certs.OIDExtKeyUsageServerAuth}
	noEKU, key := issue(t, l.ca, p)
	raw := l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: noEKU, key: key, embed: []*x509.Certificate{noEKU}})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrUnauthorizedResponder) {
		t.Fatalf("delegate without id-kp-OCSPSigning: %v", err)
	}
	p.ExtKeyUsage = nil
	noEKU, key = issue(t, l.ca, p)
	raw = l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce, signer: noEKU, key: key, embed: []*x509.Certificate{noEKU}})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrUnauthorizedResponder) {
		t.Fatalf("delegate without any EKU: %v", err)
	}
}

func TestRejectExpiredDelegate(t *testing.T) {
	l := newLab(t, false)
	short, key := issue(t, l.ca, pki.OCSPResponderProfile("short", time.Hour))
	later := t0.Add(48 * time.Hour)
	raw := l.response(t, resp{this: later, next: later.Add(time.Hour), nonce: testNonce, signer: short, key: key, embed: []*x509.Certificate{short}})
	o := opts(testNonce)
	o.Now = later
	if _, err := Verify(raw, l.user, l.ca.Issuer(), o); !errors.Is(err, ErrResponderExpired) {
		t.Fatalf("expired delegate: %v", err)
	}
}

func TestRejectStaleNextUpdate(t *testing.T) {
	l := newLab(t, false)
	raw := l.response(t, resp{this: t0.Add(-2 * time.Hour), next: t0.Add(-time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrStale) {
		t.Fatalf("stale nextUpdate: %v", err)
	}
	// Within the skew it still passes.
	raw = l.response(t, resp{this: t0.Add(-2 * time.Hour), next: t0.Add(-2 * time.Minute), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); err != nil {
		t.Fatalf("nextUpdate within skew: %v", err)
	}
	// No nextUpdate and older than MaxAge.
	raw = l.response(t, resp{this: t0.Add(-2 * time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrStale) {
		t.Fatalf("old response without nextUpdate: %v", err)
	}
}

func TestRejectFutureThisUpdate(t *testing.T) {
	l := newLab(t, false)
	raw := l.response(t, resp{this: t0.Add(time.Hour), next: t0.Add(2 * time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("future thisUpdate: %v", err)
	}
	raw = l.response(t, resp{this: t0.Add(4 * time.Minute), next: t0.Add(2 * time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); err != nil {
		t.Fatalf("thisUpdate within skew: %v", err)
	}
}

func TestRejectWrongNonce(t *testing.T) {
	l := newLab(t, false)
	other, _ := asnOctets([]byte("fedcba9876543210"))
	raw := l.response(t, resp{next: t0.Add(time.Hour), nonce: other})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("wrong nonce: %v", err)
	}
	raw = l.response(t, resp{next: t0.Add(time.Hour)})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("missing nonce: %v", err)
	}
	o := opts(testNonce)
	o.AllowMissingNonce = true
	if _, err := Verify(raw, l.user, l.ca.Issuer(), o); err != nil {
		t.Fatalf("missing nonce allowed by policy: %v", err)
	}
	raw = l.response(t, resp{next: t0.Add(time.Hour), nonce: other})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), o); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("wrong nonce with AllowMissingNonce: %v", err)
	}
}

func TestRejectResponseForAnotherCertificate(t *testing.T) {
	l := newLab(t, false)
	raw := l.response(t, resp{serial: l.other.SerialNumber, next: t0.Add(time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrCertIDMismatch) {
		t.Fatalf("other serial: %v", err)
	}
	// Same serial, another issuer in the CertID: x/crypto/ocsp would accept it.
	rogue := newNamedLab(t, "Rogue CA", false)
	raw = l.response(t, resp{idIssuer: rogue.ca.Issuer(), next: t0.Add(time.Hour), nonce: testNonce})
	if _, err := Verify(raw, l.user, l.ca.Issuer(), opts(testNonce)); !errors.Is(err, ErrCertIDMismatch) {
		t.Fatalf("other issuer: %v", err)
	}
}

func TestRejectResponderErrorAndGarbage(t *testing.T) {
	l := newLab(t, false)
	if _, err := Verify(pki.ErrorResponse(ocsp.TryLater), l.user, l.ca.Issuer(), opts(nil)); !errors.Is(err, ErrResponderError) {
		t.Fatalf("tryLater: %v", err)
	}
	raw := l.response(t, resp{next: t0.Add(time.Hour)})
	for _, bad := range [][]byte{nil, {0x30, 0x00}, append(append([]byte(nil), raw...), 0), raw[:len(raw)-3]} {
		if _, err := Verify(bad, l.user, l.ca.Issuer(), opts(nil)); !errors.Is(err, ErrMalformed) {
			t.Errorf("garbage %x…: %v", bad[:min(len(bad), 8)], err)
		}
	}
}

// server answers with the lab's responder and counts requests.
func (l *lab) server(t testing.TB, now func() time.Time, block chan struct{}) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	r, err := pki.NewResponder(l.ca, pki.ResponderOptions{Options: pki.Options{Now: now}, Cert: l.delegate, Key: l.delKey})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n.Add(1)
		// Read the body first: only then does net/http notice a client that
		// hangs up and cancel the request's context.
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if block != nil {
			select {
			case <-block:
			case <-req.Context().Done():
				return
			}
		}
		r.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestCheckerGoodRevokedAndCache(t *testing.T) {
	l := newLab(t, true)
	now := t0.Add(time.Minute)
	clock := func() time.Time { return now }
	srv, hits := l.server(t, clock, nil)
	c := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	ctx := context.Background()
	res, err := c.Check(ctx, l.user, l.ca.Issuer())
	if err != nil || res.Status != Good || res.Cached {
		t.Fatalf("first check: %+v %v", res, err)
	}
	res, err = c.Check(ctx, l.user, l.ca.Issuer())
	if err != nil || !res.Cached || hits.Load() != 1 {
		t.Fatalf("second check not from cache: %+v %v hits=%d", res, err, hits.Load())
	}
	if _, err := l.ca.Revoke(l.other.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	_, err = c.Check(ctx, l.other, l.ca.Issuer())
	var re *RevokedError
	if !errors.Is(err, ErrRevoked) || !errors.As(err, &re) || re.Reason != int(pki.KeyCompromise) {
		t.Fatalf("revoked: %v", err)
	}
	// After nextUpdate (1h) the cache is bypassed.
	now = now.Add(2 * time.Hour)
	if _, err := c.Check(ctx, l.user, l.ca.Issuer()); err != nil || hits.Load() != 3 {
		t.Fatalf("expired cache entry reused: %v hits=%d", err, hits.Load())
	}
}

func TestCheckerSingleFlight(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	block := make(chan struct{})
	srv, hits := l.server(t, clock, block)
	c := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Check(context.Background(), l.user, l.ca.Issuer())
			errs <- err
		}()
	}
	// Let every caller join the flight before the responder answers.
	for deadline := time.Now().Add(5 * time.Second); hits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d queries for one certificate", hits.Load())
	}
}

func TestCheckerTimeoutHardAndSoft(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	block := make(chan struct{})
	srv, _ := l.server(t, clock, block)
	t.Cleanup(func() { close(block) }) // runs before srv.Close

	hard := NewChecker(Options{Policy: Policy{HardFail: true, Timeout: 100 * time.Millisecond, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	start := time.Now()
	_, err := hard.Check(context.Background(), l.user, l.ca.Issuer())
	if !errors.Is(err, ErrStatusUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hard-fail timeout: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("timeout took %v", time.Since(start))
	}
	soft := NewChecker(Options{Policy: Policy{Timeout: 100 * time.Millisecond, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	res, err := soft.Check(context.Background(), l.user, l.ca.Issuer())
	if err != nil || res.Status != Unknown || res.Cause == nil {
		t.Fatalf("soft-fail timeout: %+v %v", res, err)
	}
	// The caller's own context ends the wait too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	slow := NewChecker(Options{Policy: Policy{HardFail: true, Timeout: time.Minute, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	if _, err := slow.Check(ctx, l.user, l.ca.Issuer()); !errors.Is(err, ErrStatusUnknown) {
		t.Fatalf("caller context: %v", err)
	}
}

func TestCheckerNoResponderAndBadResponse(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	noAIA := *l.user
	noAIA.OCSPServer = nil
	hard := NewChecker(Options{Policy: Policy{HardFail: true}, Now: clock})
	if _, err := hard.Check(context.Background(), &noAIA, l.ca.Issuer()); !errors.Is(err, ErrStatusUnknown) || !errors.Is(err, ErrNoResponder) {
		t.Fatalf("no AIA: %v", err)
	}
	// A response that fails verification is an error even under soft-fail.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce}))
	}))
	defer bad.Close()
	soft := NewChecker(Options{Policy: Policy{ResponderURL: bad.URL}, HTTP: bad.Client(), Now: clock})
	if _, err := soft.Check(context.Background(), l.user, l.ca.Issuer()); !errors.Is(err, ErrNonceMismatch) || !errors.Is(err, ErrStatusUnknown) {
		t.Fatalf("replayed response under soft-fail: %v", err)
	}
}

func TestCheckerCacheBounded(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	srv, _ := l.server(t, clock, nil)
	c := NewChecker(Options{Policy: Policy{HardFail: true, CacheSize: 2, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	up, _ := pki.UserProfile(pki.User{UPN: "bob@example.com"})
	third, _ := issue(t, l.ca, up)
	for _, cert := range []*x509.Certificate{l.user, l.other, third} {
		if _, err := c.Check(context.Background(), cert, l.ca.Issuer()); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.CacheLen(); n != 2 {
		t.Fatalf("cache holds %d, bound is 2", n)
	}
}

func TestCheckStapled(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	c := NewChecker(Options{Policy: Policy{HardFail: true}, Now: clock})
	// Stapled responses carry no nonce of ours.
	res, err := c.CheckStapled(l.response(t, resp{next: t0.Add(time.Hour)}), l.user, l.ca.Issuer())
	if err != nil || res.Status != Good || !res.Stapled {
		t.Fatalf("stapled: %+v %v", res, err)
	}
	if _, err := c.CheckStapled(l.response(t, resp{this: t0.Add(-3 * time.Hour), next: t0.Add(-time.Hour)}), l.user, l.ca.Issuer()); !errors.Is(err, ErrStale) {
		t.Fatalf("stale stapled: %v", err)
	}
	rogue := newNamedLab(t, "Rogue CA", false)
	raw := l.response(t, resp{next: t0.Add(time.Hour), signer: rogue.delegate, key: rogue.delKey, embed: []*x509.Certificate{rogue.delegate}})
	if _, err := c.CheckStapled(raw, l.user, l.ca.Issuer()); !errors.Is(err, ErrUnauthorizedResponder) {
		t.Fatalf("stapled from a foreign delegate: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	l := newLab(f, false)
	f.Add(l.response(f, resp{next: t0.Add(time.Hour), nonce: testNonce}))
	f.Add(pki.ErrorResponse(ocsp.TryLater))
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := Verify(in, l.user, l.ca.Issuer(), opts(testNonce))
		if err == nil && res.Responder == nil {
			t.Fatal("verified without a responder")
		}
	})
}

// TestCheckerRevokedIsFinal: under soft-fail, a certificate seen revoked
// stays refused after its answer's nextUpdate has passed with the responder
// down; a certificate never seen revoked gets soft-fail's Unknown.
func TestCheckerRevokedIsFinal(t *testing.T) {
	l := newLab(t, false)
	now := t0.Add(time.Minute)
	clock := func() time.Time { return now }
	srv, _ := l.server(t, clock, nil)
	c := NewChecker(Options{Policy: Policy{ResponderURL: srv.URL, Timeout: time.Second}, HTTP: srv.Client(), Now: clock})
	ctx := context.Background()
	if _, err := l.ca.Revoke(l.other.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(ctx, l.other, l.ca.Issuer()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked certificate: %v", err)
	}
	srv.Close()
	now = now.Add(2 * time.Hour) // past the answer's nextUpdate (1h)
	res, err := c.Check(ctx, l.other, l.ca.Issuer())
	var re *RevokedError
	if !errors.As(err, &re) || re.Reason != int(pki.KeyCompromise) || !res.Cached {
		t.Fatalf("revoked certificate, answer expired, responder down: %+v %v; want it still revoked", res, err)
	}
	if res, err := c.Check(ctx, l.user, l.ca.Issuer()); err != nil || res.Status != Unknown {
		t.Fatalf("certificate never seen revoked, responder down: %+v %v; want soft-fail", res, err)
	}
	// Until the certificate expires.
	now = l.other.NotAfter.Add(time.Second)
	if _, err := c.Check(ctx, l.other, l.ca.Issuer()); errors.Is(err, ErrRevoked) {
		t.Fatalf("expired certificate still remembered: %v", err)
	}
}

// TestCheckerRevokedSurvivesGood: a "good" answer does not undo a
// revocation, except a newer one for a certificateHold; a replayed older
// "good" does not lift the hold either.
func TestCheckerRevokedSurvivesGood(t *testing.T) {
	l := newLab(t, false)
	now := t0.Add(time.Minute)
	clock := func() time.Time { return now }
	var mu sync.Mutex
	var answer []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(answer)
	}))
	defer srv.Close()
	respond := func(r resp) {
		mu.Lock()
		defer mu.Unlock()
		answer = l.response(t, r)
	}
	c := NewChecker(Options{Policy: Policy{ResponderURL: srv.URL, AllowMissingNonce: true}, HTTP: srv.Client(), Now: clock})
	check := func(step string, cert *x509.Certificate, want Status) {
		t.Helper()
		res, err := c.Check(context.Background(), cert, l.ca.Issuer())
		if err != nil && !errors.Is(err, ErrRevoked) {
			t.Fatalf("%s: %v", step, err)
		}
		if res.Status != want || (want == Revoked) != (err != nil) {
			t.Fatalf("%s: status %v (%v), want %v", step, res.Status, err, want)
		}
	}
	bob, _ := pki.UserProfile(pki.User{UPN: "bob@example.com"})
	for _, tc := range []struct {
		reason pki.Reason
		lifted bool
	}{{pki.KeyCompromise, false}, {pki.CertificateHold, true}} {
		cert, _ := issue(t, l.ca, bob)
		now = now.Add(3 * time.Hour)
		revokedAt := now.Add(-time.Minute)
		respond(resp{serial: cert.SerialNumber, status: ocsp.Revoked, reason: tc.reason, revokedAt: revokedAt, this: now, next: now.Add(time.Hour)})
		check("revoked", cert, Revoked)
		// A replayed "good" from before the revocation.
		now = now.Add(2 * time.Hour)
		respond(resp{serial: cert.SerialNumber, status: ocsp.Good, this: revokedAt.Add(-time.Hour), next: now.Add(time.Hour)})
		check("older good", cert, Revoked)
		// A newer "good", once the older one's nextUpdate has passed.
		now = now.Add(2 * time.Hour)
		respond(resp{serial: cert.SerialNumber, status: ocsp.Good, this: now, next: now.Add(time.Hour)})
		want := Revoked
		if tc.lifted {
			want = Good
		}
		check("newer good", cert, want)
	}
}
