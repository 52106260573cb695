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

// TestTokenPIN: a token's own bounds apply (a 4-digit PIN, a long
// passphrase) instead of PIV's 6 to 8; out of bounds is refused and wiped.
func TestTokenPIN(t *testing.T) {
	for _, tc := range []struct {
		pin      string
		min, max uint
		ok       bool
	}{
		{"1234", 4, 8, true},
		{"correct horse battery staple", 4, 255, true},
		{"123", 4, 8, false},
		{"123456789", 4, 8, false},
		{"", 0, 0, false},
		{"a passphrase of any length", 6, 0, true},
	} {
		raw := []byte(tc.pin)
		p, err := card.NewTokenPIN(raw, tc.min, tc.max)
		if (err == nil) != tc.ok {
			t.Errorf("%q in %d..%d: %v", tc.pin, tc.min, tc.max, err)
			continue
		}
		if err != nil {
			if tc.pin != "" && strings.Contains(err.Error(), tc.pin) {
				t.Errorf("the error shows the PIN: %v", err)
			}
			if strings.Trim(string(raw), "\x00") != "" {
				t.Errorf("%q not wiped after refusal", tc.pin)
			}
			continue
		}
		if got := fmt.Sprintf("%v", p); got != "[REDACTED]" {
			t.Errorf("%q prints %q", tc.pin, got)
		}
		p.Wipe()
		if strings.Trim(string(raw), "\x00") != "" {
			t.Errorf("%q not wiped", tc.pin)
		}
	}
}
