//go:build cgo && (linux || freebsd || openbsd)

package pcsc_test

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/integration/harness"
)

// readersResult is what a Readers call in the background returned.
type readersResult struct {
	readers []string
	err     error
}

func readersAsync(p pcsc.Provider) <-chan readersResult {
	ch := make(chan readersResult, 1)
	go func() {
		rs, err := p.Readers()
		ch <- readersResult{rs, err}
	}()
	return ch
}

// within bounds a background call (a bound, not a speed).
func within(t *testing.T, ch <-chan readersResult) readersResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("Readers did not return")
		return readersResult{}
	}
}

// TestWaitForCard: without Wait, Readers answers at once with no reader;
// with Wait it blocks in SCardGetStatusChange, says so once, and returns the
// reader when the card is inserted; a wait that ends is ErrWaitEnded (a
// card.ErrNoCard); a cancelled context ends the wait (SCardCancel).
func TestWaitForCard(t *testing.T) {
	p := harness.StartPCSCD(t)

	if rs, err := (pcsc.Provider{}).Readers(); err != nil || len(rs) != 0 {
		t.Fatalf("no card, no wait: %q, %v", rs, err)
	}
	if _, err := card.List(pcsc.Provider{}); !errors.Is(err, card.ErrNoCard) {
		t.Fatalf("no card, no wait: card.List says %v", err)
	}

	// The card is inserted when the provider says it waits.
	asked := make(chan struct{}, 4)
	ch := readersAsync(pcsc.Provider{Wait: 20 * time.Second, Waiting: func() { asked <- struct{}{} }})
	select {
	case <-asked:
	case r := <-ch:
		t.Fatalf("Readers returned %q, %v without waiting", r.readers, r.err)
	}
	insert(t, p.CardAddrs[1])
	r := within(t, ch)
	if r.err != nil || !slices.Equal(r.readers, []string{p.Readers[1]}) {
		t.Fatalf("after the insertion: %q, %v", r.readers, r.err)
	}
	if len(asked) != 0 {
		t.Fatalf("told to insert the card %d more times", len(asked))
	}

	// A card in the reader: no wait, no notice.
	rs, err := (pcsc.Provider{Wait: time.Minute, Waiting: func() { t.Error("asked to insert a card that is in") }}).Readers()
	if err != nil || !slices.Equal(rs, []string{p.Readers[1]}) {
		t.Fatalf("a card in: %q, %v", rs, err)
	}

	// A card that is not inserted: the wait ends; a cancel ends it too.
	if _, err := (pcsc.Provider{Reader: p.Readers[0], Wait: 200 * time.Millisecond}).Readers(); !errors.Is(err, pcsc.ErrWaitEnded) || !errors.Is(err, card.ErrNoCard) {
		t.Fatalf("a wait that ends (empty reader): %v", err)
	}
	want := hex.EncodeToString(make([]byte, 16))
	if _, err := (pcsc.Provider{Card: want, Wait: 200 * time.Millisecond}).Readers(); !errors.Is(err, pcsc.ErrWaitEnded) || !errors.Is(err, card.ErrNoCard) {
		t.Fatalf("a wait that ends: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch = readersAsync(pcsc.Provider{Card: want, Wait: time.Hour, Context: ctx, Waiting: cancel})
	if r := within(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("a cancelled wait: %q, %v", r.readers, r.err)
	}
}

// TestCardGUID: Card picks the reader holding the card with that CHUID GUID;
// a GUID no card has is a CardNotFoundError naming the cards present, and
// with Wait the card is waited for.
func TestCardGUID(t *testing.T) {
	p := harness.StartPCSCD(t)
	_, first, _ := insert(t, p.CardAddrs[0])
	waitPresent(t, p.Readers[0])
	g := first.GUID()
	firstGUID := hex.EncodeToString(g[:])

	rs, err := (pcsc.Provider{Card: firstGUID}).Readers()
	if err != nil || !slices.Equal(rs, []string{p.Readers[0]}) {
		t.Fatalf("--card %s: %q, %v", firstGUID, rs, err)
	}
	missing := "serial:4242"
	var nf *pcsc.CardNotFoundError
	if _, err := (pcsc.Provider{Card: missing}).Readers(); !errors.As(err, &nf) || len(nf.Present) != 1 || nf.Present[0].Value != firstGUID || !errors.Is(err, card.ErrNoCard) {
		t.Fatalf("--card %s: %v", missing, err)
	}

	// The second card is waited for while the first stays in: it is
	// inserted when the provider says it waits.
	st := newState(t)
	g = st.GUID()
	secondGUID := hex.EncodeToString(g[:])
	ch := readersAsync(pcsc.Provider{Card: secondGUID, Wait: 20 * time.Second, Waiting: func() { serve(t, st, p.CardAddrs[1]) }})
	r := within(t, ch)
	if r.err != nil || !slices.Equal(r.readers, []string{p.Readers[1]}) {
		t.Fatalf("--card %s --wait: %q, %v", secondGUID, r.readers, r.err)
	}
}
