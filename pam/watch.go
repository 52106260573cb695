package pam

import (
	"context"
	"slices"
	"time"

	"github.com/sclogon/sclogon/card/selection"
)

// Presence says which readers hold a card; every [card.Provider] is one,
// and so is a [pkcs11.Presence] (the slots holding a PKCS #11 token).
//
// [card.Provider]: https://pkg.go.dev/github.com/sclogon/sclogon/card#Provider
// [pkcs11.Presence]: https://pkg.go.dev/github.com/sclogon/sclogon/card/pkcs11#Presence
type Presence interface {
	Readers() ([]string, error)
}

// CardEvents is a [Presence] that is not polled: it names the card in each
// reader and blocks until the cards may have changed. A [pcsc.Watcher] is
// one (SCardGetStatusChange; a card is named by its CHUID GUID or serial
// and pcsc-lite's event count, so a swapped card is another name).
//
// [pcsc.Watcher]: https://pkg.go.dev/github.com/sclogon/sclogon/card/pcsc#Watcher
type CardEvents interface {
	Presence
	// Cards maps each reader holding a card to a name of that card which
	// changes whenever the card in the reader is another one.
	Cards() (map[string]string, error)
	// Changed blocks until a reader's state differs from what Cards last
	// read, or ctx ends.
	Changed(ctx context.Context) error
}

// DefaultWatchInterval is how often [Watch] asks a Presence that is not
// [CardEvents] (a PKCS #11 module) for its readers, and how long it waits
// before asking again after an error.
const DefaultWatchInterval = 250 * time.Millisecond

// Watch follows one card: the first card seen in a reader matching Reader.
// When that reader no longer holds that card (taken out, or swapped for
// another), it calls OnRemove and then follows the next card. A Presence
// error counts as "no card" (a dead pcscd must not keep a session
// unlocked).
type Watch struct {
	Presence Presence
	// Reader limits the watch to the reader it names, or to readers whose
	// name contains it, as card selection's Reader does.
	Reader   string
	Interval time.Duration
	// OnRemove acts on a removal from reader; its error is logged.
	OnRemove func(ctx context.Context, reader string) error
	// Once returns after the first removal.
	Once bool
	// Log receives what happens; may be nil.
	Log func(format string, args ...any)
}

func (w *Watch) log(format string, args ...any) {
	if w.Log != nil {
		w.Log(format, args...)
	}
}

// Run watches until ctx ends (it returns nil then) or, with Once, until the
// first removal has been acted on.
func (w *Watch) Run(ctx context.Context) error {
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	ev, events := w.Presence.(CardEvents)
	var watched, name string
	failing := false // the readers could not be listed last time: logged once a spell
	for {
		cards, err := w.look(ev, events)
		if err != nil {
			if !failing {
				w.log("cannot list the card readers: %v", err)
			}
			cards = nil
		}
		failing = err != nil
		if watched != "" && cards[watched] != name {
			if _, in := cards[watched]; in {
				w.log("card swapped in %q", watched)
			} else {
				w.log("card removed from %q", watched)
			}
			if w.OnRemove != nil {
				if err := w.OnRemove(ctx, watched); err != nil {
					w.log("%v", err)
				}
			}
			watched = ""
			if w.Once {
				return nil
			}
		}
		if watched == "" {
			watched, name = w.pick(cards)
		}
		if !w.next(ctx, ev, events && err == nil, interval) {
			return nil
		}
	}
}

// look reads the cards: named by CardEvents, or by reader alone.
func (w *Watch) look(ev CardEvents, events bool) (map[string]string, error) {
	if events {
		return ev.Cards()
	}
	readers, err := w.Presence.Readers()
	if err != nil {
		return nil, err
	}
	cards := make(map[string]string, len(readers))
	for _, r := range readers {
		cards[r] = r
	}
	return cards, nil
}

// pick chooses the card to follow by the rule of card selection's
// --reader ([selection.MatchReaders]: the reader named exactly, else one
// whose name contains Reader): the first such reader in name order.
func (w *Watch) pick(cards map[string]string) (reader, name string) {
	readers := make([]string, 0, len(cards))
	for r := range cards {
		readers = append(readers, r)
	}
	slices.Sort(readers)
	if readers = selection.MatchReaders(readers, w.Reader); len(readers) == 0 {
		return "", ""
	}
	w.log("card present in %q", readers[0])
	return readers[0], cards[readers[0]]
}

// next waits for the next look: a change of CardEvents, else an interval.
// It is false when ctx has ended.
func (w *Watch) next(ctx context.Context, ev CardEvents, events bool, interval time.Duration) bool {
	if events {
		err := ev.Changed(ctx)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			return true
		}
		w.log("waiting for the card readers: %v", err)
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
