package selection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/certs/logon"
)

// Chooser picks one of several usable certificates and returns its index.
type Chooser func(choices []logon.Verdict) (int, error)

// Request says where to look and what may log on.
type Request struct {
	// Provider finds the cards (PC/SC, piv-go, or in process).
	Provider card.Provider
	// Reader names the reader: its exact name, or a part of it that one
	// reader holding a card contains. Empty means every reader holding a
	// card.
	Reader string
	// Cache holds the certificates of cards seen before; nil reads every
	// card in full.
	Cache *card.Cache
	// Policy is the logon rules; its UserHint is the name hint.
	Policy logon.Policy
	// Pick names the certificate: a slot, a UPN or a SHA-256 fingerprint
	// (see [logon.Find]); empty lets Select choose.
	Pick string
	// Choose is asked when several certificates are usable and Pick is
	// empty; nil makes that a [*logon.AmbiguousError].
	Choose Chooser
	// Trace, if set, receives each step.
	Trace func(format string, args ...any)
}

func (r *Request) trace(format string, args ...any) {
	if r.Trace != nil {
		r.Trace(format, args...)
	}
}

// Card is one open card and what the policy says of its certificates.
type Card struct {
	Card     *card.CachedCard
	ID       card.ID
	Verdicts []logon.Verdict
}

// Reader names the card's reader.
func (c *Card) Reader() string { return c.Card.Reader() }

// Selection is the chosen certificate on its open card. Close ends the
// card session.
type Selection struct {
	Card    *card.CachedCard
	ID      card.ID
	Verdict logon.Verdict
	// FromCache reports whether the certificates came from the cache (the
	// chosen one was then read again from the card).
	FromCache bool
}

// Reader names the chosen card's reader.
func (s *Selection) Reader() string { return s.Card.Reader() }

// Close ends the card session.
func (s *Selection) Close() error { return s.Card.Close() }

// ErrChanged: the card's certificate changed between two reads in a row.
var ErrChanged = errors.New("selection: the card's certificate changed while it was read")

// ReaderError: the reader service could not list the readers, or a card
// could not be opened. Err is the provider's error (a *pcsc.Error,
// pcsc.ErrUnavailable, a piv-go error).
type ReaderError struct {
	Reader string // empty when listing failed
	Err    error
}

func (e *ReaderError) Error() string {
	if e.Reader == "" {
		return fmt.Sprintf("selection: listing the card readers: %v", e.Err)
	}
	return fmt.Sprintf("selection: opening the card in %q: %v", e.Reader, e.Err)
}

func (e *ReaderError) Unwrap() error { return e.Err }

// NoUsableError: cards were read, and no certificate on them passed the
// logon rules. It matches [logon.ErrNoUsable].
type NoUsableError struct {
	Cards []Verdicts
}

// Verdicts is what the rules said of one card's certificates.
type Verdicts struct {
	Reader   string
	Verdicts []logon.Verdict
}

func (e *NoUsableError) Error() string {
	n := 0
	var rs []string
	for _, c := range e.Cards {
		n += len(c.Verdicts)
		rs = append(rs, fmt.Sprintf("%q", c.Reader))
	}
	return fmt.Sprintf("selection: none of the %d certificate(s) on the card in %s may log on", n, strings.Join(rs, ", "))
}

// Is makes a NoUsableError match [logon.ErrNoUsable].
func (e *NoUsableError) Is(target error) bool { return target == logon.ErrNoUsable }

// Absent reports whether err means there was no card to try: no reader
// holds one, or the reader service cannot be reached.
func Absent(err error) bool {
	var re *ReaderError
	return errors.Is(err, card.ErrNoCard) || errors.As(err, &re)
}

// Select chooses the logon certificate (see the package documentation).
func Select(req Request) (*Selection, error) {
	for attempt := 0; ; attempt++ {
		// After a stale entry was forgotten, the card is read in full and
		// the cache refreshed.
		cards, err := scan(&req, req.Cache)
		if err != nil {
			return nil, err
		}
		sel, err := choose(&req, cards)
		if err != nil {
			closeCards(cards, nil)
			return nil, err
		}
		if sel.Card.Hit && !stillOnCard(sel) {
			req.trace("the cached certificates of %s are stale; reading the card", sel.ID)
			_ = sel.Card.Forget()
			closeCards(cards, nil)
			if attempt > 0 {
				return nil, fmt.Errorf("%w (slot %s)", ErrChanged, sel.Verdict.Slot)
			}
			continue
		}
		closeCards(cards, sel.Card)
		req.trace("logon certificate: card %s (%s, cache hit %v) slot %s, %q", sel.Reader(), sel.ID, sel.FromCache, sel.Verdict.Slot, sel.Verdict.Label)
		return sel, nil
	}
}

// stillOnCard reads the chosen certificate from its slot (one APDU) and
// compares it with the cached one.
func stillOnCard(sel *Selection) bool {
	fresh, err := sel.Card.Certificate(sel.Verdict.Slot)
	return err == nil && bytes.Equal(fresh.Raw, sel.Verdict.Cert.Raw)
}

// choose applies Pick, the only-one rule, or the chooser.
func choose(req *Request, cards []*Card) (*Selection, error) {
	var usable []logon.Verdict
	owner := map[string]*Card{}
	for _, c := range cards {
		for _, v := range c.Verdicts {
			req.trace("card %s slot %s %q: usable %v %v", c.Reader(), v.Slot, v.Label, v.Usable(), v.Rejections)
			if v.Usable() {
				usable = append(usable, v)
				owner[v.Fingerprint] = c
			}
		}
	}
	if len(usable) == 0 {
		e := &NoUsableError{}
		for _, c := range cards {
			e.Cards = append(e.Cards, Verdicts{Reader: c.Reader(), Verdicts: c.Verdicts})
		}
		return nil, e
	}
	v, err := logon.Choose(usable, req.Pick, req.Choose)
	if err != nil {
		return nil, err
	}
	c := owner[v.Fingerprint]
	return &Selection{Card: c.Card, ID: c.ID, Verdict: v, FromCache: c.Card.Hit}, nil
}

// Scan opens the card in req.Reader, or every card, and judges its
// certificates; Pick and Choose are not used. The caller closes the cards.
func Scan(req Request) ([]*Card, error) { return scan(&req, req.Cache) }

func scan(req *Request, cache *card.Cache) ([]*Card, error) {
	readers, err := readers(req)
	if err != nil {
		return nil, err
	}
	var out []*Card
	for _, r := range readers {
		c, err := req.Provider.Open(r)
		if err != nil {
			if len(readers) > 1 {
				req.trace("reader %s: %v", r, err)
				continue // another reader may hold the card
			}
			closeCards(out, nil)
			return nil, &ReaderError{Reader: r, Err: err}
		}
		cc := card.WithCache(c, cache)
		list, err := cc.Certificates()
		if err != nil {
			cc.Close()
			closeCards(out, nil)
			return nil, fmt.Errorf("selection: reading the card in %q: %w", r, err)
		}
		id, _ := cc.ID()
		out = append(out, &Card{Card: cc, ID: id, Verdicts: req.Policy.CheckAll(list)})
	}
	if len(out) == 0 {
		return nil, card.ErrNoCard
	}
	return out, nil
}

// readers is the reader req.Reader names, else every reader holding a card.
// A name no listed reader matches is opened as it is, so the provider says
// what is wrong with it. A listing that failed is the answer even for a
// named reader: a wait for a card that ended ([card.ErrNoCard], such as
// pcsc.ErrWaitEnded or a *pcsc.CardNotFoundError) or was cancelled
// (context.Canceled) must reach the person as it is, not as the empty
// reader's "no card" from opening it anyway.
func readers(req *Request) ([]string, error) {
	all, err := req.Provider.Readers()
	switch {
	case waitEnded(err):
		return nil, err
	case err != nil:
		return nil, &ReaderError{Err: err}
	case req.Reader != "":
		if named := MatchReaders(all, req.Reader); len(named) > 0 {
			return named[:1], nil
		}
		return []string{req.Reader}, nil
	case len(all) == 0:
		return nil, card.ErrNoCard
	}
	return all, nil
}

// waitEnded reports a provider's wait for a card that ended without one
// (its time passed, or the card asked for is not in) or was cancelled.
func waitEnded(err error) bool {
	return errors.Is(err, card.ErrNoCard) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// MatchReaders is the rule [Request.Reader] follows, for a caller that
// picks a reader among names itself (sclogon watch): the reader named
// exactly, else those whose name contains name, in the order given; every
// one when name is empty.
func MatchReaders(names []string, name string) []string {
	if name == "" {
		return names
	}
	for _, r := range names {
		if r == name {
			return []string{r}
		}
	}
	var out []string
	for _, r := range names {
		if strings.Contains(r, name) {
			out = append(out, r)
		}
	}
	return out
}

func closeCards(cards []*Card, keep *card.CachedCard) {
	for _, c := range cards {
		if c.Card != keep {
			c.Card.Close()
		}
	}
}
