//go:build cgo

package pkcs11_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/internal/softhsm"
)

// TestPresence: the slot holding a token with the right label is named as
// Token.Reader names it, while the token is in, and only then; another
// label is never present; the module stays loaded across looks.
func TestPresence(t *testing.T) {
	tok := softhsm.New(t, "alice-token")
	shim := tok.NewShim(t, 0)
	one := open(t, pkcs11.Config{Module: tok.Module, Token: "alice-token"})
	want := one.Reader()
	one.Close()

	p, err := pkcs11.NewPresence(pkcs11.Config{Module: shim.Module, Token: "alice-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	other, err := pkcs11.NewPresence(pkcs11.Config{Module: shim.Module, Token: "bob-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, step := range []struct {
		name    string
		act     func(testing.TB)
		present bool
	}{
		{"in", func(testing.TB) {}, true},
		{"taken out", shim.Remove, false},
		{"put back", shim.Insert, true},
	} {
		step.act(t)
		got, err := p.Readers()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if step.present != slices.Contains(got, want) || (!step.present && len(got) > 0) {
			t.Errorf("%s: %q, want %q present %v", step.name, got, want, step.present)
		}
		if got, err := other.Readers(); err != nil || len(got) > 0 {
			t.Errorf("%s: bob-token: %q, %v", step.name, got, err)
		}
	}
	if !strings.HasPrefix(want, "alice-token (PKCS #11 slot ") {
		t.Errorf("reader %q", want)
	}
}
