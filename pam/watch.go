package pam

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Presence says which readers hold a card; every [card.Provider] is one,
// and so is a [pkcs11.Presence] (the slots holding a PKCS #11 token).
//
// [card.Provider]: https://pkg.go.dev/github.com/sclogon/sclogon/card#Provider
// [pkcs11.Presence]: https://pkg.go.dev/github.com/sclogon/sclogon/card/pkcs11#Presence
type Presence interface {
	Readers() ([]string, error)
}

// DefaultWatchInterval is how often [Watch] asks for the readers: pcscd
// itself notices a card leave within about 0.4 s.
const DefaultWatchInterval = 250 * time.Millisecond

// Watch follows one card: the first card seen in a reader matching Reader.
// When that reader no longer holds a card, it calls OnRemove and waits for
// the next card. A Presence error counts as "no card" (a dead pcscd must
// not keep a session unlocked).
type Watch struct {
	Presence Presence
	// Reader limits the watch to readers whose name contains it.
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
	t := time.NewTicker(interval)
	defer t.Stop()
	watched := ""
	var lastErr string
	for {
		readers, err := w.Presence.Readers()
		if err != nil {
			if err.Error() != lastErr {
				w.log("cannot list the card readers: %v", err)
				lastErr = err.Error()
			}
			readers = nil
		} else {
			lastErr = ""
		}
		switch {
		case watched == "":
			for _, r := range readers {
				if strings.Contains(r, w.Reader) {
					watched = r
					w.log("card present in %q", r)
					break
				}
			}
		case !slices.Contains(readers, watched):
			w.log("card removed from %q", watched)
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
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
