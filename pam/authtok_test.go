package pam

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAuthtok(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"123456\x00", "123456", nil},        // pam_exec: password and NUL
		{"123456\x00garbage", "123456", nil}, // nothing after the NUL is read as PIN
		{"123456\n", "123456", nil},          // by hand: echo PIN |
		{"123456", "123456", nil},            // no terminator
		{"\x00", "", ErrNoAuthtok},           // pam_exec's blank password
		{"", "", ErrNoAuthtok},               // nothing at all
		{strings.Repeat("1", MaxAuthtok), strings.Repeat("1", MaxAuthtok), nil},
	} {
		a, err := ReadAuthtok(iotest.OneByteReader(strings.NewReader(tc.in)))
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && string(a.b) != tc.want {
			t.Errorf("%q: read %q, want %q", tc.in, a.b, tc.want)
		}
	}
	if _, err := ReadAuthtok(strings.NewReader(strings.Repeat("1", MaxAuthtok+1))); err == nil {
		t.Error("a PIN longer than PAM_MAX_RESP_SIZE was accepted")
	}
}

func TestAuthtokIsRedactedAndWiped(t *testing.T) {
	a, err := ReadAuthtok(strings.NewReader("123456\x00"))
	if err != nil {
		t.Fatal(err)
	}
	b := a.b
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%x", "%q"} {
		if s := fmt.Sprintf(verb, a); strings.Contains(s, "123456") || strings.Contains(s, "313233") {
			t.Errorf("%s shows the PIN: %s", verb, s)
		}
	}
	a.Wipe()
	if string(b) != "\x00\x00\x00\x00\x00\x00" || a.Bytes() != nil {
		t.Errorf("after Wipe the bytes are %q", b)
	}
}
