package vcard

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// FuzzTransmit: whatever arrives, the card answers with a status word and
// never panics; a session is a sequence of APDUs split at 0xFF 0xFF.
func FuzzTransmit(f *testing.F) {
	for _, s := range []string{
		"00A4040005A000000308", "00CB3FFF035C017E", "00CB3FFF055C035FC10508", "00200080",
		"0020008008313233343536FFFF", "0087039B047C028000", "1087119A027C00", "00C0000000",
		"00DB3FFF0000055C035FC105", "00470098AC03800111", "00FD000000", "00F7009B00",
	} {
		f.Add(append(h("00A4040005A000000308FFFF"), h(s)...))
	}
	st, err := NewState(bytes.NewReader(make([]byte, 64)))
	if err != nil {
		f.Fatal(err)
	}
	if err := st.SetKey(SlotAuthentication, testKey(f, "p256"), PINPolicyNever); err != nil {
		f.Fatal(err)
	}
	base, _ := st.MarshalBinary()
	f.Fuzz(func(t *testing.T, session []byte) {
		var s State
		if err := s.UnmarshalBinary(base); err != nil {
			t.Fatal(err)
		}
		c := New(&s, Options{Rand: rand.Reader})
		for _, apdu := range bytes.Split(session, []byte{0xFF, 0xFF}) {
			resp, err := c.Transmit(apdu)
			if err != nil || len(resp) < 2 {
				t.Fatalf("Transmit(%X) = %X, %v", apdu, resp, err)
			}
		}
	})
}

// FuzzStateFile: a state file never panics the parser.
func FuzzStateFile(f *testing.F) {
	st, _ := NewState(bytes.NewReader(make([]byte, 64)))
	b, _ := st.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		_ = s.UnmarshalBinary(b)
	})
}
