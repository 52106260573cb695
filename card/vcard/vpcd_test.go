package vcard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// fakeVPCD is the reader side of the vpcd protocol, as pcscd's driver speaks it.
type fakeVPCD struct {
	t    *testing.T
	conn net.Conn
}

func (v *fakeVPCD) send(payload []byte) {
	v.t.Helper()
	// The driver writes length and payload separately.
	if _, err := v.conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(payload)))); err != nil {
		v.t.Fatal(err)
	}
	if _, err := v.conn.Write(payload); err != nil {
		v.t.Fatal(err)
	}
}

func (v *fakeVPCD) recv() []byte {
	v.t.Helper()
	v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(v.conn, hdr[:]); err != nil {
		v.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(v.conn, b); err != nil {
		v.t.Fatal(err)
	}
	return b
}

func TestServeVPCDProtocolAndReconnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, _ := NewState(rand.Reader)
	card := New(st, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- card.ServeVPCD(ctx, l.Addr().String(), nil) }()

	for round := 0; round < 2; round++ {
		conn, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		v := &fakeVPCD{t: t, conn: conn}
		v.send([]byte{vpcdGetATR})
		if got := v.recv(); !bytes.Equal(got, atr) {
			t.Fatalf("ATR %X", got)
		}
		v.send([]byte{vpcdPowerOn})
		v.send([]byte{vpcdReset})
		v.send(h("00A4040005A000000308"))
		if got := v.recv(); !bytes.HasSuffix(got, h("9000")) || got[0] != 0x61 {
			t.Fatalf("SELECT through vpcd: %X", got)
		}
		v.send(h("0020008008313233343536FFFF"))
		if got := v.recv(); !bytes.Equal(got, h("9000")) {
			t.Fatalf("VERIFY through vpcd: %X", got)
		}
		v.send([]byte{vpcdPowerOff})
		v.send([]byte{vpcdPowerOn})
		v.send(h("00A4040005A000000308"))
		v.recv()
		v.send(h("00200080"))
		if got := v.recv(); !bytes.Equal(got, h("63C3")) {
			t.Fatalf("PIN status after power-off: %X, want 63C3", got)
		}
		// pcscd goes away: the card reconnects.
		conn.Close()
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("ServeVPCD returned %v", err)
	}
}
