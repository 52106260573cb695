package kdcload

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/pkinit"
)

func TestParseStatCPU(t *testing.T) {
	// Field 2 with spaces and parentheses, utime 250 and stime 50 ticks.
	stat := "4242 (krb5 (kdc) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 200\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("a truncated stat line parsed")
	}
}

func TestParseStatusHWM(t *testing.T) {
	got, err := parseStatusHWM([]byte("Name:\tkrb5kdc\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n"))
	if err != nil || got != 1234*1024 {
		t.Fatalf("parseStatusHWM = %d, %v", got, err)
	}
	if _, err := parseStatusHWM([]byte("Name:\tx\n")); err == nil {
		t.Fatal("a status without VmHWM parsed")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}

// TestPairedRateRatio: rows compared round by round, not by their medians
// (which would give 450/150 = 3 here), and a round without a rate left out.
func TestPairedRateRatio(t *testing.T) {
	res := func(rates ...int) []Result {
		var out []Result
		for _, r := range rates {
			out = append(out, Result{Exchanges: r, Wall: time.Second})
		}
		return out
	}
	if got := pairedRateRatio(res(500, 300, 450), res(100, 150, 300)); got != 2 { // 5, 2, 1.5
		t.Errorf("paired ratio %v, want 2", got)
	}
	if got := pairedRateRatio(res(500, 300), res(100, 0)); got != 5 {
		t.Errorf("with a round at 0/s: %v, want 5", got)
	}
	if got := pairedRateRatio(nil, res(100)); got != 0 {
		t.Errorf("no rounds: %v, want 0", got)
	}
}

// TestRunVerifiesLogons drives an in-process KDC, configured from the file
// the benchmarks give sclogon's KDC, with a storm of each key exchange:
// every logon must succeed and be counted.
func TestRunVerifiesLogons(t *testing.T) {
	r, err := NewRealm(t.TempDir(), 2, Keys{})
	if err != nil {
		t.Fatal(err)
	}
	path, addr, err := WriteSclogonConfig(r, SclogonOptions{DHKeyReuse: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := kdc.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(fc.Config, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := kdc.Listen([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&kdc.Server{Handler: k, Realm: RealmName}).Serve(ctx, ls, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	pol, err := r.ClientPolicy()
	if err != nil {
		t.Fatal(err)
	}
	// A storm serves every user once whatever the machine's speed: the
	// count is exact.
	for _, kx := range []kinit.KeyExchange{{Group: pkinit.MODPGroup14}, {Curve: pkinit.CurveP256}, {RSA: true}} {
		res, err := RunStorm(ctx, Storm{Addr: addr, Users: r.Users, KeyExchange: kx, Concurrency: 2, Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 {
			t.Fatalf("%s: %d failed logons; first: %v", kx, res.Errors, res.FirstErr)
		}
		if res.Exchanges != len(r.Users) || len(res.Latencies) != res.Exchanges || res.Wall <= 0 {
			t.Fatalf("%s: %d exchanges, %d latencies for %d users in %v", kx, res.Exchanges, len(res.Latencies), len(r.Users), res.Wall)
		}
	}
	// A timed load counts only what ended in its window, which on a busy
	// machine may be nothing; none of it may fail, with fresh client keys
	// or reused ones (against a KDC that reuses its own, the reused keys'
	// remembered secrets must give the reply key of every logon).
	for _, l := range []Load{
		{KeyExchange: kinit.KeyExchange{Curve: pkinit.CurveP256}},
		{KeyExchange: kinit.KeyExchange{Curve: pkinit.CurveP256}, ReuseClientKeys: true},
		{KeyExchange: kinit.KeyExchange{Group: pkinit.MODPGroup14}, ReuseClientKeys: true},
	} {
		l.Addr, l.Users, l.Concurrency, l.Duration, l.Policy = addr, r.Users, 2, 300*time.Millisecond, pol
		res, err := Run(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 || len(res.Latencies) != res.Exchanges {
			t.Fatalf("timed load %s, reused keys %v: %d errors (first %v), %d exchanges, %d latencies", l.KeyExchange, l.ReuseClientKeys, res.Errors, res.FirstErr, res.Exchanges, len(res.Latencies))
		}
	}
}

// TestReusedKeys: one key per key exchange, the same at every request.
func TestReusedKeys(t *testing.T) {
	keys := reusedKeys()
	dh, ec := kinit.KeyExchange{Group: pkinit.MODPGroup14}, kinit.KeyExchange{Curve: pkinit.CurveP256}
	k1, err := keys(dh)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := keys(dh)
	k3, err := keys(ec)
	if err != nil {
		t.Fatal(err)
	}
	if k1 != k2 || k1 == k3 || bytes.Equal(k1.PublicValue(), k3.PublicValue()) {
		t.Fatal("reusedKeys: not one key per key exchange")
	}
	if k4, _ := reusedKeys()(dh); bytes.Equal(k4.PublicValue(), k1.PublicValue()) {
		t.Fatal("two clients share a key")
	}
}
