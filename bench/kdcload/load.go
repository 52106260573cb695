package kdcload

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/pkinit"
)

// Load is one measurement: Concurrency clients, each running PKINIT logons
// back to back against Addr for Duration after a Warmup whose logons are not
// counted.
type Load struct {
	Addr        string
	Users       []User // client i logs on as Users[i % len(Users)]
	KeyExchange kinit.KeyExchange
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	Policy      kinit.Policy // the client's trust in the KDC (pkinit_anchors)
	// KDC, when set, is measured over the counted window.
	KDC *Process
	// ReuseClientKeys has each client make one key-agreement key and reuse
	// it, remembering the secret of its last agreement (pkinit.DHKey.ForReuse),
	// where a logon makes a fresh key and computes every secret. With the
	// clients on a core of their own, their cost then does not bound the
	// rate: against a KDC that reuses its key too (sclogon's dh_key_reuse)
	// a client computes each secret once. The KDC's work is the same: it
	// validates the client's value and computes the secret for every request.
	ReuseClientKeys bool
}

// Result is what a Load measured. One exchange is one PKINIT logon as any
// kinit makes it: an AS-REQ without pre-authentication answered with
// PREAUTH_REQUIRED (and a freshness token), then the signed AS-REQ and the
// AS-REP, verified.
type Result struct {
	Exchanges int           // verified logons in the counted window
	Errors    int           // failed logons in it (each a failure of the run)
	FirstErr  error         // the first failure, for the report
	Wall      time.Duration // the counted window
	Latencies []time.Duration
	KDCCPU    time.Duration // CPU time the KDC used in the window
	KDCPeak   int64         // the KDC's peak RSS at the end, bytes
	LoadCPU   time.Duration // CPU time this process (the clients) used in it
}

// PerSecond is exchanges per second.
func (r Result) PerSecond() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Exchanges) / r.Wall.Seconds()
}

// Percentile is the p-th percentile latency (nearest rank), p in (0, 100].
func (r Result) Percentile(p float64) time.Duration {
	return percentile(r.Latencies, p)
}

// KDCCPUPerExchange is the KDC's CPU time per verified exchange.
func (r Result) KDCCPUPerExchange() time.Duration {
	if r.Exchanges == 0 {
		return 0
	}
	return r.KDCCPU / time.Duration(r.Exchanges)
}

// LoadCPUPerExchange is the clients' CPU time per verified exchange.
func (r Result) LoadCPUPerExchange() time.Duration {
	if r.Exchanges == 0 {
		return 0
	}
	return r.LoadCPU / time.Duration(r.Exchanges)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

// Run runs l and returns what it measured. It fails only when it cannot
// measure; failed logons are counted in the Result.
func Run(ctx context.Context, l Load) (Result, error) {
	if l.Concurrency < 1 || len(l.Users) == 0 || l.Duration <= 0 {
		return Result{}, errors.New("kdcload: a load needs Concurrency ≥ 1, users and a Duration")
	}
	workers := make([]worker, l.Concurrency)
	start := time.Now()
	countFrom := start.Add(l.Warmup)
	until := countFrom.Add(l.Duration)

	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(ctx, l.Users[i%len(l.Users)], countFrom, until, &workers[i])
		}()
	}
	// The KDC's and our CPU time at the window's edges.
	var before, after Usage
	var beforeSelf, afterSelf time.Duration
	var measureErr error
	wait := func(t time.Time) bool {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	read := func(u *Usage, self *time.Duration) {
		*self = SelfCPU()
		if l.KDC != nil && measureErr == nil {
			*u, measureErr = l.KDC.Usage()
		}
	}
	if wait(countFrom) {
		read(&before, &beforeSelf)
		if wait(until) {
			read(&after, &afterSelf)
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if measureErr != nil {
		return Result{}, measureErr
	}
	var r Result
	r.Wall = l.Duration
	for _, w := range workers {
		r.Exchanges += w.ok
		r.Errors += w.errs
		if r.FirstErr == nil {
			r.FirstErr = w.firstErr
		}
		r.Latencies = append(r.Latencies, w.lat...)
	}
	r.LoadCPU = afterSelf - beforeSelf
	if l.KDC != nil {
		r.KDCCPU = after.CPU - before.CPU
		r.KDCPeak = after.PeakRSS
	}
	return r, nil
}

// worker is what one client counted.
type worker struct {
	lat      []time.Duration
	ok, errs int
	firstErr error
}

// client logs on as u back to back until until, counting into w the
// logons that end at or after countFrom.
func (l Load) client(ctx context.Context, u User, countFrom, until time.Time, w *worker) {
	c := &kinit.Client{Transport: &transport.Client{Timeout: 10 * time.Second}}
	if l.ReuseClientKeys {
		c.AgreementKey = reusedKeys()
	}
	req := kinit.Request{
		Client:      ccache.Principal{NameType: 1, Components: []string{u.Name}, Realm: RealmName},
		Identity:    u.Identity,
		KeyExchange: l.KeyExchange,
		Policy:      l.Policy,
		KDCs:        []transport.KDC{{Addr: l.Addr}},
	}
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(until) {
			return
		}
		res, err := c.Run(ctx, req)
		t1 := time.Now()
		if err == nil && (len(res.TGT.Ticket) == 0 || len(res.TGT.Key.Value) == 0) {
			err = errors.New("kdcload: a logon returned no ticket or no session key")
		}
		// Counted when it ends in the window: in a steady state the
		// exchanges that end in it are the work done in it.
		if t1.Before(countFrom) || t1.After(until) {
			continue
		}
		if err != nil {
			w.errs++
			if w.firstErr == nil {
				w.firstErr = fmt.Errorf("%s as %s: %w", l.KeyExchange, u.Name, err)
			}
			continue
		}
		w.ok++
		w.lat = append(w.lat, t1.Sub(t0))
	}
}

// reusedKeys supplies one client's key-agreement keys: one per key
// exchange, made on first use and reused after. A client runs its logons
// one after another, so the map needs no lock.
func reusedKeys() func(kinit.KeyExchange) (*pkinit.DHKey, error) {
	keys := map[kinit.KeyExchange]*pkinit.DHKey{}
	return func(kx kinit.KeyExchange) (*pkinit.DHKey, error) {
		if k := keys[kx]; k != nil {
			return k, nil
		}
		k, err := pkinit.NewAgreementKey(kx.Curve, kx.Group, rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[kx] = k.ForReuse()
		return keys[kx], nil
	}
}
