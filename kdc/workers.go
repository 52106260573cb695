package kdc

import (
	"net/netip"
	"time"
)

// The requests a Server handles run on a pool of worker goroutines, not on
// the goroutine that read them. A PKINIT request needs a deep stack (the
// ASN.1 decoders, the P-256 and MODP arithmetic): a goroutine started per
// datagram or per connection grows its stack by copying several times per
// request, some 6% of the KDC's CPU under load. A worker keeps the stack
// it grew for the next request, and a connection's goroutine, which only
// reads and writes frames, stays small while it waits.
//
// Workers are started as requests need them, never more than MaxInFlight
// (acquire bounds the requests in progress), and one idle for
// workerIdleTimeout ends, so a burst leaves no crowd behind. A worker
// counts itself idle as it finishes a request, before its reply goes out:
// the client's next request then finds it, instead of starting another.
// A dispatch claims an idle worker by taking one off that count, so each
// claim has a worker that will take its request; an idle worker ends only
// by taking itself off the count, and one that finds nothing left to take
// has been claimed and waits for its request.

// workerIdleTimeout is how long a worker waits for a request before it
// ends (a variable for the tests).
var workerIdleTimeout = 10 * time.Second

// job is one request for a worker. A TCP request's reply goes back on done
// to the connection's goroutine, which writes it; a datagram's reply is
// sent by the worker, on dc.
type job struct {
	req     []byte
	from    netip.AddrPort
	network string
	done    chan<- []byte // TCP: receives the reply (nil for none)
	dc      datagramConn  // UDP: where the reply goes
}

// dispatch hands j to an idle worker, or to a new one while fewer than
// MaxInFlight run, or else waits for a worker to be free. The caller holds
// a slot of acquire, which is released when j is done.
func (s *Server) dispatch(j job) {
	for {
		if s.claimIdle() {
			select {
			case s.jobs <- j:
			case <-s.stopped:
				s.run(j, false)
			}
			return
		}
		if s.workers.Add(1) <= int64(s.MaxInFlight) {
			go s.work(j)
			return
		}
		s.workers.Add(-1)
		select {
		case <-s.freed:
		case <-s.stopped:
			s.run(j, false)
			return
		}
	}
}

// claimIdle takes one worker off the idle count, if there is one.
func (s *Server) claimIdle() bool {
	for {
		n := s.idle.Load()
		if n == 0 {
			return false
		}
		if s.idle.CompareAndSwap(n, n-1) {
			if n > 1 {
				// Another dispatch may be waiting: there is a worker for it too.
				s.signalFreed()
			}
			return true
		}
	}
}

// signalFreed wakes a dispatch waiting for a worker, if one waits.
func (s *Server) signalFreed() {
	select {
	case s.freed <- struct{}{}:
	default:
	}
}

// work runs j, then the requests dispatched to it, until it has waited
// workerIdleTimeout for one or the server stops.
func (s *Server) work(j job) {
	defer func() {
		s.workers.Add(-1)
		s.signalFreed()
	}()
	idle := time.NewTimer(s.workerIdle)
	defer idle.Stop()
	for ok := true; ok; j, ok = s.nextJob(idle) {
		s.run(j, true)
		idle.Reset(s.workerIdle)
	}
}

// nextJob waits for the worker's next request; false when the worker ends.
func (s *Server) nextJob(idle *time.Timer) (job, bool) {
	select {
	case j := <-s.jobs:
		return j, true
	case <-s.stopped:
		return job{}, false
	case <-idle.C:
	}
	for {
		n := s.idle.Load()
		if n == 0 {
			// Every idle worker has been claimed, this one too: its request
			// is on the way.
			select {
			case j := <-s.jobs:
				return j, true
			case <-s.stopped:
				return job{}, false
			}
		}
		if s.idle.CompareAndSwap(n, n-1) {
			return job{}, false
		}
	}
}

// run handles j, delivers its reply and releases j's slot. A worker counts
// itself idle before the reply goes out.
func (s *Server) run(j job, worker bool) {
	reply := s.handle(j.req, j.from, j.network)
	if worker {
		s.idle.Add(1)
		s.signalFreed()
	}
	if j.done != nil {
		// The connection's goroutine writes the reply after the slot is
		// free: a slow reader holds its connection, not a worker.
		s.release()
		j.done <- reply
		return
	}
	if reply != nil && s.mayReply(reply, j.from) {
		_, _ = j.dc.WriteToUDPAddrPort(reply, j.from)
	}
	s.release()
}
