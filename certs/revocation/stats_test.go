package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
)

// TestCheckerStats: each Check counts once, as a cache hit (the cache or the
// revoked set), a wait on another Check's query, or a query of its own; a
// query without a verified answer counts as a failure.
func TestCheckerStats(t *testing.T) {
	l := newLab(t, false)
	now := t0.Add(time.Minute)
	clock := func() time.Time { return now }
	srv, sent := l.server(t, clock, nil)
	c := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	ctx := context.Background()
	step := func(what string, cert *x509.Certificate, wantErr error, want Stats) {
		t.Helper()
		if _, err := c.Check(ctx, cert, l.ca.Issuer()); !errors.Is(err, wantErr) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if got := c.Stats(); got != want {
			t.Fatalf("%s: stats %+v, want %+v", what, got, want)
		}
	}
	step("first check", l.user, nil, Stats{Queries: 1})
	step("cached good", l.user, nil, Stats{CacheHits: 1, Queries: 1})
	if _, err := l.ca.Revoke(l.other.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	step("revoked", l.other, ErrRevoked, Stats{CacheHits: 1, Queries: 2})
	step("remembered revoked", l.other, ErrRevoked, Stats{CacheHits: 2, Queries: 2})
	now = now.Add(2 * time.Hour) // past the good answer's nextUpdate
	step("expired good", l.user, nil, Stats{CacheHits: 2, Queries: 3})
	if sent.Load() != 3 {
		t.Fatalf("responder saw %d queries, stats say 3", sent.Load())
	}

	// Failures: a response that does not verify, and no responder at all.
	clock = func() time.Time { return t0.Add(time.Minute) }
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(l.response(t, resp{next: t0.Add(time.Hour), nonce: testNonce}))
	}))
	defer bad.Close()
	f := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: bad.URL}, HTTP: bad.Client(), Now: clock})
	if _, err := f.Check(ctx, l.user, l.ca.Issuer()); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("bad response: %v", err)
	}
	noAIA := *l.user
	noAIA.OCSPServer = nil
	n := NewChecker(Options{Policy: Policy{HardFail: true}, Now: clock})
	if _, err := n.Check(ctx, &noAIA, l.ca.Issuer()); !errors.Is(err, ErrNoResponder) {
		t.Fatalf("no responder: %v", err)
	}
	for _, x := range []*Checker{f, n} {
		if got, want := x.Stats(), (Stats{Queries: 1, QueryFailures: 1}); got != want {
			t.Errorf("after a failed query: %+v, want %+v", got, want)
		}
	}
}

// TestCheckerStatsWaits: Checks that join a query in flight count as waits,
// not as queries.
func TestCheckerStatsWaits(t *testing.T) {
	l := newLab(t, false)
	clock := func() time.Time { return t0.Add(time.Minute) }
	block := make(chan struct{})
	srv, sent := l.server(t, clock, block)
	c := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: srv.URL}, HTTP: srv.Client(), Now: clock})
	const callers = 4
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Check(context.Background(), l.user, l.ca.Issuer())
			errs <- err
		}()
	}
	// The responder holds its answer until every caller has joined.
	for deadline := time.Now().Add(10 * time.Second); c.Stats().Waits < callers-1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.Stats(), (Stats{Waits: callers - 1, Queries: 1}); got != want || sent.Load() != 1 {
		t.Fatalf("stats %+v, want %+v; responder saw %d queries", got, want, sent.Load())
	}
}
