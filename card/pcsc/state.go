package pcsc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sclogon/sclogon/card"
)

// ReaderState is one reader's state as SCardGetStatusChange reports it
// (dwEventState).
type ReaderState struct {
	Reader string
	State  uint32
}

// The SCARD_STATE_* bits of a reader state (PC/SC part 5; pcsclite.h).
const (
	stateChanged     = 0x0002
	stateUnknown     = 0x0004
	stateUnavailable = 0x0008
	statePresent     = 0x0020
	stateMute        = 0x0200
)

// Present reports a card in the reader that answered its reset.
func (s ReaderState) Present() bool {
	return s.State&statePresent != 0 && s.State&(stateMute|stateUnknown|stateUnavailable) == 0
}

// Events is pcsc-lite's count of cards inserted and removed in this reader
// (the high word of dwEventState): a card swapped for another between two
// looks shows as a change of this count even when both looks see a card.
func (s ReaderState) Events() uint16 { return uint16(s.State >> 16) }

// errTimeout: SCardGetStatusChange saw no change within its timeout.
var errTimeout = errors.New("pcsc: no reader changed state in time")

// ErrWaitEnded: [Provider.Wait] passed and no card was inserted. It is a
// [card.ErrNoCard].
var ErrWaitEnded = fmt.Errorf("%w (the wait for one ended)", card.ErrNoCard)

// CardNotFoundError: [Provider.Card] names a card that no reader holds. It
// is a [card.ErrNoCard].
type CardNotFoundError struct {
	// Want is the GUID or serial asked for.
	Want string
	// Present are the identities of the cards in the readers.
	Present []card.ID
}

func (e *CardNotFoundError) Error() string {
	if len(e.Present) == 0 {
		return fmt.Sprintf("pcsc: no card %s in any reader (no card is inserted)", e.Want)
	}
	ids := make([]string, len(e.Present))
	for i, id := range e.Present {
		ids[i] = id.String()
	}
	return fmt.Sprintf("pcsc: no card %s in any reader (cards present: %s)", e.Want, strings.Join(ids, ", "))
}

// Is makes it a [card.ErrNoCard].
func (e *CardNotFoundError) Is(target error) bool { return target == card.ErrNoCard }

// MatchID reports whether want names the card id: its CHUID GUID (hex,
// dashes, braces and case ignored) or its serial number, optionally with
// the "guid:" or "serial:" prefix [card.ID.String] writes.
func MatchID(want string, id card.ID) bool {
	if id.IsZero() {
		return false
	}
	w := strings.ToLower(strings.TrimSpace(want))
	if kind, v, ok := strings.Cut(w, ":"); ok {
		if kind != id.Kind {
			return false
		}
		w = v
	}
	if id.Kind == "guid" {
		w = strings.NewReplacer("-", "", "{", "", "}", "").Replace(w)
	}
	return w != "" && w == id.Value
}
