package kdcload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
)

// Storm is a logon storm: every user logs on once, Concurrency clients at a
// time, as a site does at nine in the morning. Unlike a [Load] it has no
// window: it ends when every user has been answered.
type Storm struct {
	Addr        string
	Users       []User
	KeyExchange kinit.KeyExchange
	Concurrency int
	Policy      kinit.Policy
	KDC         *Process // when set, its CPU time over the storm is measured
}

// RunStorm runs s. The Result's Wall is the time to serve all users, its
// Exchanges and Errors add up to len(s.Users).
func RunStorm(ctx context.Context, s Storm) (Result, error) {
	if s.Concurrency < 1 || len(s.Users) == 0 {
		return Result{}, errors.New("kdcload: a storm needs Concurrency ≥ 1 and users")
	}
	next := make(chan User, len(s.Users))
	for _, u := range s.Users {
		next <- u
	}
	close(next)
	var mu sync.Mutex
	var r Result
	var before Usage
	var err error
	if s.KDC != nil {
		if before, err = s.KDC.Usage(); err != nil {
			return Result{}, err
		}
	}
	selfBefore := SelfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range s.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &kinit.Client{Transport: &transport.Client{Timeout: 30 * time.Second}}
			for u := range next {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				res, err := c.Run(ctx, kinit.Request{
					Client:      ccache.Principal{NameType: 1, Components: []string{u.Name}, Realm: RealmName},
					Identity:    u.Identity,
					KeyExchange: s.KeyExchange,
					Policy:      s.Policy,
					KDCs:        []transport.KDC{{Addr: s.Addr}},
				})
				d := time.Since(t0)
				if err == nil && (len(res.TGT.Ticket) == 0 || len(res.TGT.Key.Value) == 0) {
					err = errors.New("kdcload: a logon returned no ticket or no session key")
				}
				mu.Lock()
				if err != nil {
					r.Errors++
					if r.FirstErr == nil {
						r.FirstErr = fmt.Errorf("%s as %s: %w", s.KeyExchange, u.Name, err)
					}
				} else {
					r.Exchanges++
					r.Latencies = append(r.Latencies, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r.Wall = time.Since(start)
	r.LoadCPU = SelfCPU() - selfBefore
	if s.KDC != nil {
		after, err := s.KDC.Usage()
		if err != nil {
			return Result{}, err
		}
		r.KDCCPU, r.KDCPeak = after.CPU-before.CPU, after.PeakRSS
	}
	return r, nil
}
