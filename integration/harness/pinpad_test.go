//go:build cgo

package harness_test

import (
	"slices"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/integration/harness"
)

// TestPinPadReaderListed: with PCSCOptions.PINPad, pcscd loads the PIN-pad
// IFD handler (compiled from integration/pinpad) beside vpcd and lists its
// reader with vpcd's; keys typed wait on the keypad until the reader takes
// them. The reader's part 10 features are tested with a client in
// card/pcsc (TestPinPadUnderPCSCD).
func TestPinPadReaderListed(t *testing.T) {
	p := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true})
	if p.PINPad == nil || p.PINPad.Reader != harness.PINPadReader {
		t.Fatalf("PINPad %+v", p.PINPad)
	}
	readers, err := piv.Cards()
	if err != nil {
		t.Fatalf("list readers through libpcsclite: %v", err)
	}
	for _, want := range append(slices.Clone(p.Readers), p.PINPad.Reader) {
		if !slices.Contains(readers, want) {
			t.Errorf("pcscd lists %q, want %q among them", readers, want)
		}
	}
	if p.PINPad.Pending() {
		t.Fatal("keys pending before any were typed")
	}
	p.PINPad.Type(t, "123456")
	if !p.PINPad.Pending() {
		t.Fatal("the keys typed are not on the keypad")
	}
}
