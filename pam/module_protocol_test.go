package pam

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/kinit/transport"
)

type frame struct {
	typ     byte
	payload string
}

func readFrame(t *testing.T, r io.Reader) frame {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return frame{hdr[0], string(b)}
}

func writeFrame(t *testing.T, w io.Writer, typ byte, payload string) {
	t.Helper()
	b := append([]byte{typ, 0, 0, 0, 0}, payload...)
	binary.BigEndian.PutUint32(b[1:5], uint32(len(payload)))
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

// The module's side of the protocol, played by the test: a prompt with
// the tries left and its answer, the last-try warning, an aborted prompt,
// an environment frame and the result.
func TestModuleConversation(t *testing.T) {
	helper, module := net.Pipe()
	defer helper.Close()
	defer module.Close()
	conv := NewModuleConv(helper, helper)
	done := make(chan error, 1)
	go func() {
		pin, err := conv.Secret("alice@EXAMPLE.COM", 2)
		if err == nil && string(pin) != "123456" {
			err = errors.New("answer " + string(pin))
		}
		if err == nil {
			_, err = conv.Secret("alice@EXAMPLE.COM", 1)
			if errors.Is(err, ErrConversation) {
				err = nil
			} else {
				err = errors.New("an aborted prompt answered")
			}
		}
		if err == nil {
			err = conv.Putenv("KRB5CCNAME", "FILE:/tmp/krb5cc_1000")
		}
		if err == nil {
			err = conv.Result(MaxTries)
		}
		done <- err
	}()
	if f := readFrame(t, module); f != (frame{'P', "PIN for alice@EXAMPLE.COM (2 tries left): "}) {
		t.Fatalf("first frame %q", f)
	}
	writeFrame(t, module, 'A', "123456")
	if f := readFrame(t, module); f.typ != 'E' {
		t.Fatalf("no warning before the last try: %q", f)
	}
	if f := readFrame(t, module); f != (frame{'P', "PIN for alice@EXAMPLE.COM (1 try left): "}) {
		t.Fatalf("last-try prompt %q", f)
	}
	writeFrame(t, module, 'X', "")
	if f := readFrame(t, module); f != (frame{'V', "KRB5CCNAME=FILE:/tmp/krb5cc_1000"}) {
		t.Fatalf("environment frame %q", f)
	}
	if f := readFrame(t, module); f != (frame{'R', "MAXTRIES"}) {
		t.Fatalf("result frame %q", f)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestResultCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{nil, Success},
		{card.ErrNoCard, AuthinfoUnavail},
		{&selection.ReaderError{Err: errors.New("pcscd down")}, AuthinfoUnavail},
		{transport.ErrNoKDC, AuthinfoUnavail},
		{&card.PINError{Retries: 2}, AuthErr},
		{&card.PINError{Retries: 0}, MaxTries},
		{card.ErrPINBlocked, MaxTries},
		{ErrNoCertificate, CredInsufficient},
		{ErrConversation, ConvErr},
		{ErrNotValidated, AuthErr},
		{ErrKeytab, SystemErr},
	} {
		if got := ResultCode(tc.err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}
