package conform

// schedule is the listener's mode: each PKINIT request a client sends by
// hand gets the next fault that applies to its key exchange, the control
// first; a fault with several tries takes that many requests.
type schedule struct {
	faults  []Fault
	queues  map[Exchange][]*Attempt
	order   []Exchange // the exchanges in the order first seen
	pending *Attempt   // a downgrade waiting for the client's group-2 retry
}

// Schedule puts the KDC in the listener's mode with faults (the control
// first); [KDC.Attempts] then reports what each client did.
func (k *KDC) Schedule(faults []Fault) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = nil
	k.schedule = &schedule{faults: faults, queues: map[Exchange][]*Attempt{}}
}

// next is the attempt for a request of r's exchange. Called with k.mu held.
func (s *schedule) next(k *KDC, r Request) *Attempt {
	if a := s.pending; a != nil {
		s.pending = nil
		if r.Exchange == ExchangeMODP && r.Group == 2 {
			return a
		}
	}
	q, seen := s.queues[r.Exchange]
	if !seen {
		for _, f := range s.faults {
			if f.applies(r) {
				a := &Attempt{Fault: f}
				q = append(q, a)
				k.attempts = append(k.attempts, a)
			}
		}
		s.queues[r.Exchange] = q
		s.order = append(s.order, r.Exchange)
	}
	for _, a := range q {
		if a.Tries < a.Fault.Tries {
			a.Tries++
			var p plan
			a.Fault.tamper(&p)
			if p.downgrade {
				s.pending = a
			}
			return a
		}
	}
	return nil
}

// Finished reports whether every fault that applies to the exchanges seen
// has been shown as many times as it takes, and at least one exchange was seen.
func (k *KDC) Finished() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.schedule == nil || len(k.schedule.order) == 0 {
		return false
	}
	for _, q := range k.schedule.queues {
		for _, a := range q {
			if a.Tries < a.Fault.Tries {
				return false
			}
		}
	}
	return true
}

// ListenerReport is the listener's table: one row per fault and exchange
// seen, accepted when a TGS-REQ came with the attempt's TGT; faults that
// applied to no exchange seen are n/a.
func (k *KDC) ListenerReport() *Report {
	k.mu.Lock()
	defer k.mu.Unlock()
	rep := &Report{}
	if k.schedule == nil {
		return rep
	}
	shown := map[string]bool{}
	for _, ex := range k.schedule.order {
		for _, a := range k.schedule.queues[ex] {
			shown[a.Fault.Name] = true
			res := newResult(a.Fault, string(ex))
			res.Tries = a.Tries
			if a.Request != nil {
				res.Exchange = describe(*a.Request)
			}
			switch {
			case a.UsedTicket:
				res.Observed = Accepted
			case a.Failed != "":
				res.Observed, res.Note = KDCFailed, a.Failed
			case a.Tries == 0:
				res.Observed = NoRequest
			default:
				res.Observed = Refused
				res.Note = "no TGS-REQ came with this attempt's TGT"
			}
			rep.Results = append(rep.Results, res)
		}
	}
	for _, f := range k.schedule.faults {
		if !shown[f.Name] {
			res := newResult(f, "")
			res.Observed = NotApplicable
			res.Note = "applies to no key exchange the client asked for"
			if len(k.schedule.order) == 0 {
				res.Observed, res.Note = NoRequest, "no PKINIT request arrived"
			}
			rep.Results = append(rep.Results, res)
		}
	}
	return rep
}
