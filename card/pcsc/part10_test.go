package pcsc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sclogon/sclogon/card"
)

// TestPinPadStructures checks the part 10 structures field by field
// against the layout of pcsc-lite's reader.h (packed, host order).
func TestPinPadStructures(t *testing.T) {
	v := verifyStructure(30, 0x80)
	if len(v) != 19+13 {
		t.Fatalf("PIN_VERIFY_STRUCTURE of %d bytes, want 19 + 13", len(v))
	}
	if v[0] != 30 || v[2] != 0x82 || v[3] != 0x08 || v[4] != 0 || binary.NativeEndian.Uint16(v[5:]) != 0x0608 || v[7] != 0x02 {
		t.Errorf("PIN_VERIFY_STRUCTURE head % X", v[:19])
	}
	if binary.NativeEndian.Uint32(v[15:]) != 13 || !bytes.Equal(v[19:24], []byte{0x00, 0x20, 0x00, 0x80, 0x08}) {
		t.Errorf("PIN_VERIFY_STRUCTURE APDU % X", v[15:])
	}
	m := modifyStructure(0, 0x00)
	if len(m) != 24+21 {
		t.Fatalf("PIN_MODIFY_STRUCTURE of %d bytes, want 24 + 21", len(m))
	}
	if m[5] != 0 || m[6] != 8 || m[9] != 0x03 || binary.NativeEndian.Uint32(m[20:]) != 21 || !bytes.Equal(m[24:29], []byte{0x00, 0x24, 0x00, 0x00, 0x10}) {
		t.Errorf("PIN_MODIFY_STRUCTURE % X", m)
	}
}

func TestPinPadFeatures(t *testing.T) {
	fs, err := features([]byte{0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x0A, 4, 0x42, 0x33, 0x00, 0x0A})
	if err != nil || fs[featureVerifyPINDirect] != 0x42330006 || fs[featureModifyPINDirect] != 0 || len(fs) != 2 {
		t.Fatalf("features %v, %v", fs, err)
	}
	for _, bad := range [][]byte{{0x06}, {0x06, 2, 0, 0}, {0x06, 4, 0, 0, 0, 1, 7}} {
		if _, err := features(bad); err == nil {
			t.Errorf("features(% X) accepted", bad)
		}
	}
}

func TestPinPadStatus(t *testing.T) {
	var pe *card.PINError
	if err := padStatus("VERIFY", []byte{0x63, 0xC2}, card.RolePIN); !errors.As(err, &pe) || pe.Retries != 2 || pe.PUK {
		t.Errorf("63C2: %v", err)
	}
	if err := padStatus("CHANGE", []byte{0x63, 0xC1}, card.RolePUK); !errors.As(err, &pe) || pe.Retries != 1 || !pe.PUK {
		t.Errorf("63C1 PUK: %v", err)
	}
	for sw, want := range map[uint16]error{
		0x9000: nil, 0x6983: card.ErrPINBlocked, 0x6400: ErrPINPadTimeout,
		0x6401: ErrPINPadCancelled, 0x6402: ErrPINPadMismatch, 0x6403: ErrPINPadLength,
	} {
		if err := padStatus("VERIFY", binary.BigEndian.AppendUint16(nil, sw), card.RolePIN); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%04X: %v, want %v", sw, err, want)
		}
	}
	var se *card.StatusError
	if err := padStatus("VERIFY", []byte{0x6A, 0x88}, card.RolePIN); !errors.As(err, &se) || se.SW != 0x6A88 {
		t.Errorf("6A88: %v", err)
	}
	if err := padStatus("VERIFY", []byte{0x90}, card.RolePIN); err == nil {
		t.Error("a one-byte answer accepted")
	}
}

func TestMatchCardID(t *testing.T) {
	guid := card.ID{Kind: "guid", Value: "00112233445566778899aabbccddeeff"}
	serial := card.ID{Kind: "serial", Value: "12345678"}
	for _, tc := range []struct {
		want string
		id   card.ID
		ok   bool
	}{
		{"00112233-4455-6677-8899-AABBCCDDEEFF", guid, true},
		{"{00112233445566778899aabbccddeeff}", guid, true},
		{"guid:00112233445566778899aabbccddeeff", guid, true},
		{"serial:00112233445566778899aabbccddeeff", guid, false},
		{"00112233445566778899aabbccddeef0", guid, false},
		{"12345678", serial, true},
		{"serial:12345678", serial, true},
		{"1234567", serial, false},
		{"", card.ID{}, false},
	} {
		if got := MatchID(tc.want, tc.id); got != tc.ok {
			t.Errorf("MatchID(%q, %v) = %v", tc.want, tc.id, got)
		}
	}
}

func FuzzFeatures(f *testing.F) {
	f.Add([]byte{0x06, 4, 0x42, 0x33, 0x00, 0x06})
	f.Add([]byte{0x06, 4, 0x42})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := features(b)
		if err == nil && len(fs) > len(b)/6 {
			t.Fatalf("%d features from %d bytes", len(fs), len(b))
		}
	})
}
