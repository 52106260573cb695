//go:build cgo

package piv

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/card"
)

// statusErr stands for piv-go's unexported APDU error: a status word.
type statusErr uint16

func (e statusErr) Error() string  { return fmt.Sprintf("smart card error %04x", uint16(e)) }
func (e statusErr) Status() uint16 { return uint16(e) }

// piv-go's errors are read by their types (AuthErr, the status word, what
// they wrap), never by their text.
func TestErrorMapping(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("command failed: %w", err) }
	var pe *card.PINError
	if err := mapAuth(wrap(piv.AuthErr{Retries: 2}), false); !errors.As(err, &pe) || pe.Retries != 2 || pe.PUK {
		t.Errorf("AuthErr{2}: %v", err)
	}
	if err := mapAuth(wrap(piv.AuthErr{Retries: 0}), false); !errors.Is(err, card.ErrPINBlocked) {
		t.Errorf("AuthErr{0}: %v", err)
	}
	if err := mapAuth(wrap(piv.AuthErr{Retries: 0}), true); !errors.Is(err, card.ErrPUKBlocked) {
		t.Errorf("AuthErr{0} for the PUK: %v", err)
	}
	if err := mapAuth(wrap(statusErr(0x6982)), false); !errors.Is(err, card.ErrSecurityStatus) {
		t.Errorf("6982: %v", err)
	}
	if err := mapAuth(wrap(statusErr(0x6A80)), false); errors.Is(err, card.ErrSecurityStatus) || err == nil {
		t.Errorf("6A80: %v", err)
	}
	// A response piv-go found wrong (flattened with %v) is not the card's
	// failure; a status word or a wrapped transport error is.
	if fromCard(errors.New("parsing certificate: x509: malformed certificate")) {
		t.Error("a parse error counted as a card failure")
	}
	if !fromCard(wrap(statusErr(0x6A82))) || !fromCard(fmt.Errorf("transmitting request: %w", errors.New("pcsc"))) {
		t.Error("a card failure not recognised")
	}
	if sw, ok := statusOf(wrap(statusErr(0x6D00))); !ok || sw != 0x6D00 {
		t.Errorf("status word %04x %v", sw, ok)
	}
}
