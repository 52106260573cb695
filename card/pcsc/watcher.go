//go:build cgo && (linux || freebsd || openbsd)

package pcsc

import (
	"context"
	"fmt"
)

// Watcher follows the cards in the readers without polling: [Watcher.Cards]
// names the card in each reader, and [Watcher.Changed] blocks in
// SCardGetStatusChange until a card comes or goes, a reader appears or
// disappears, or pcsc-lite's event count of a reader moves. A card counts
// as another when its identity (CHUID GUID or serial) or the event count
// differs, so a card swapped between two looks is seen as removed.
type Watcher struct {
	p      Provider
	ctx    *Context
	states []ReaderState
	ids    map[string]string // reader → the card's name, as last read
}

// NewWatcher connects to pcscd. The provider's Short is used to read the
// cards' identities; Close the watcher when done.
func (p Provider) NewWatcher() (*Watcher, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	return &Watcher{p: p, ctx: ctx, ids: map[string]string{}}, nil
}

// Close disconnects from pcscd.
func (w *Watcher) Close() error { return w.ctx.Release() }

// Readers lists the readers that hold a card (a pam.Presence).
func (w *Watcher) Readers() ([]string, error) {
	cards, err := w.Cards()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(cards))
	for _, s := range w.states {
		if _, ok := cards[s.Reader]; ok {
			out = append(out, s.Reader)
		}
	}
	return out, nil
}

// Cards reads the readers' states and returns, for each reader holding a
// card, a name of that card: its identity and the reader's event count.
// The name changes whenever the card in the reader is another one (or was
// taken out and put back). A card whose identity cannot be read (not a PIV
// card, or held by another application) is named by the event count alone.
func (w *Watcher) Cards() (map[string]string, error) {
	states, err := w.ctx.States()
	if err != nil {
		w.states = nil
		return nil, err
	}
	w.states = states
	out := map[string]string{}
	ids := map[string]string{}
	for _, s := range states {
		if !s.Present() {
			continue
		}
		prefix := fmt.Sprintf("%d/", s.Events())
		name, seen := w.ids[s.Reader]
		if !seen || len(name) < len(prefix) || name[:len(prefix)] != prefix {
			name = prefix
			if id, err := w.p.identify(s.Reader); err == nil && !id.IsZero() {
				name += id.String()
			}
		}
		out[s.Reader], ids[s.Reader] = name, name
	}
	w.ids = ids
	return out, nil
}

// Changed blocks until a reader's state differs from what [Watcher.Cards]
// last read, or ctx ends (ctx.Err()).
func (w *Watcher) Changed(ctx context.Context) error {
	_, err := w.ctx.WaitChange(ctx, w.states, 0)
	return err
}
