package card_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/card"
)

// TestPINSecrecy: a PIN prints as [REDACTED] with every verb, refuses bad
// lengths (wiping them), and is unusable once wiped.
func TestPINSecrecy(t *testing.T) {
	b := []byte("123456")
	p, err := card.NewPIN(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%s", "%+v", "%#v", "%x", "%q", "%d"} {
		if got := fmt.Sprintf(f, p); strings.Contains(got, "123456") || strings.Contains(got, "313233") || !strings.Contains(got, "REDACTED") {
			t.Errorf("%s: %q", f, got)
		}
		if got := fmt.Sprintf(f, *p); !strings.Contains(got, "REDACTED") {
			t.Errorf("%s of the value: %q", f, got)
		}
	}
	if err := fmt.Errorf("verify %v: %w", p, errors.New("x")); strings.Contains(err.Error(), "123456") {
		t.Error("the PIN is in an error")
	}
	var pad [8]byte
	if err := p.Padded(&pad); err != nil || string(pad[:6]) != "123456" || pad[6] != 0xFF || pad[7] != 0xFF {
		t.Errorf("padded %x, %v", pad, err)
	}
	p.Wipe()
	if string(b) == "123456" {
		t.Error("Wipe left the bytes")
	}
	if err := p.Padded(&pad); err == nil {
		t.Error("a wiped PIN was usable")
	}
	for _, bad := range []string{"12345", "123456789", "1234\xff6"} {
		raw := []byte(bad)
		if _, err := card.NewPIN(raw); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("the error shows the PIN: %v", err)
		}
		for _, c := range raw {
			if c != 0 {
				t.Errorf("%q not wiped after refusal", bad)
				break
			}
		}
	}
}

func TestSlots(t *testing.T) {
	s := card.Slots()
	if len(s) != 24 || s[0] != card.SlotAuthentication || s[23] != card.SlotRetiredLast {
		t.Fatalf("slots %v", s)
	}
	for _, v := range []string{"9a", "9C", "0x82", "95"} {
		if _, err := card.ParseSlot(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"9b", "81", "96", "zz", ""} {
		if _, err := card.ParseSlot(v); err == nil {
			t.Errorf("%q parsed", v)
		}
	}
	if tag, _ := card.Slot(0x95).Object(); tag != 0x5FC120 {
		t.Errorf("95 object %06X", tag)
	}
}
