//go:build cgo

package harness_test

import (
	"slices"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/integration/harness"
)

func TestPCSCDListsVirtualReaders(t *testing.T) {
	p := harness.StartPCSCD(t)
	readers, err := piv.Cards()
	if err != nil {
		t.Fatalf("list readers through libpcsclite: %v", err)
	}
	for _, want := range p.Readers {
		if !slices.Contains(readers, want) {
			t.Errorf("pcscd lists %q, want %q among them", readers, want)
		}
	}
}
