package card_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
)

func TestParsePINCachePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want card.PINCachePolicy
	}{
		{"normal", card.PINCachePolicy{Mode: card.PINCacheNormal}},
		{"", card.PINCachePolicy{Mode: card.PINCacheNormal}},
		{"timed:300s", card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: 300 * time.Second}},
		{"timed:90", card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: 90 * time.Second}},
		{"Timed:2m", card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: 2 * time.Minute}},
		{"none", card.PINCachePolicy{Mode: card.PINCacheNone}},
		{"always-prompt", card.PINCachePolicy{Mode: card.PINCacheAlwaysPrompt}},
	} {
		got, err := card.ParsePINCachePolicy(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := card.ParsePINCachePolicy(got.String()); err != nil || again != got {
			t.Errorf("%q: %q does not read back: %+v, %v", tc.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"timed", "timed:", "timed:0", "timed:-5s", "timed:soon", "none:5", "forever", "normal:1"} {
		if _, err := card.ParsePINCachePolicy(bad); !errors.Is(err, card.ErrPINCachePolicy) {
			t.Errorf("%q: %v, want ErrPINCachePolicy", bad, err)
		}
	}
}

// TestPINCacheTimedExpiry: a timed entry serves until its TTL has passed on
// the injected clock, then is gone (and wiped); entries are per card and role.
func TestPINCacheTimedExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: time.Minute}, func() time.Time { return now })
	pin := mustPIN(t, "123456")
	c.Put("guid:01", card.RolePIN, pin)
	has := func(key string, role card.PINRole) bool {
		found, err := c.Use(key, role, func(p *card.PIN) error { return p.Use(func([]byte) error { return nil }) })
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	now = now.Add(59 * time.Second)
	if !has("guid:01", card.RolePIN) || has("guid:02", card.RolePIN) || has("guid:01", card.RoleGlobalPIN) {
		t.Fatal("the entry is not held per card and role")
	}
	now = now.Add(time.Second)
	if has("guid:01", card.RolePIN) {
		t.Fatal("the entry outlived its minute")
	}
	if err := pin.Use(func([]byte) error { return nil }); err == nil {
		t.Fatal("the expired PIN was not wiped")
	}
}

// TestPINCacheKeepsNothing: under none and always-prompt Put wipes the PIN.
func TestPINCacheKeepsNothing(t *testing.T) {
	for _, mode := range []card.PINCacheMode{card.PINCacheNone, card.PINCacheAlwaysPrompt} {
		c := card.NewPINCache(card.PINCachePolicy{Mode: mode}, nil)
		pin := mustPIN(t, "123456")
		c.Put("guid:01", card.RolePIN, pin)
		if found, _ := c.Use("guid:01", card.RolePIN, func(*card.PIN) error { return nil }); found {
			t.Errorf("mode %d kept a PIN", mode)
		}
		if err := pin.Use(func([]byte) error { return nil }); err == nil {
			t.Errorf("mode %d did not wipe the PIN", mode)
		}
	}
}

func TestPINRequestPrompt(t *testing.T) {
	for _, tc := range []struct {
		req  card.PINRequest
		want string
	}{
		{card.PINRequest{Role: card.RolePIN, Purpose: card.PurposeSignLogon, For: "alice@EXAMPLE.COM", Retries: 3}, "PIV PIN for alice@EXAMPLE.COM to sign the logon request (3 tries left): "},
		{card.PINRequest{Role: card.RoleGlobalPIN, Purpose: card.PurposeDecryptReply, For: "alice@EXAMPLE.COM", Retries: 1}, "global PIN for alice@EXAMPLE.COM to decrypt the KDC's reply (1 try left): "},
		{card.PINRequest{Role: card.RolePUK, Purpose: card.PurposeChange, For: "Virtual PCD 00 00", Retries: 3}, "PUK for Virtual PCD 00 00 to change it (3 tries left): "},
	} {
		if got := tc.req.Prompt(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

func TestDefaultKeyPINPolicy(t *testing.T) {
	for slot, want := range map[card.Slot]card.KeyPINPolicy{
		card.SlotAuthentication: card.KeyPINOnce, card.SlotSignature: card.KeyPINAlways,
		card.SlotKeyManagement: card.KeyPINOnce, card.SlotCardAuthentication: card.KeyPINNever, card.SlotRetiredFirst: card.KeyPINOnce,
	} {
		if got := card.DefaultKeyPINPolicy(slot); got != want {
			t.Errorf("slot %s: %s, want %s", slot, got, want)
		}
	}
}

func mustPIN(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
