package vcard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// DefaultVPCDAddr is where pcscd's vpcd driver waits for a card by default
// (/etc/reader.conf.d/vpcd, first reader).
const DefaultVPCDAddr = "127.0.0.1:35963"

// vpcd control messages: a one-byte payload (vsmartcard's vpcd protocol).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// ServeVPCD inserts the card into a pcscd reader: it connects to the vpcd
// driver's card port at addr and answers its messages (a two-byte big-endian
// length, then a payload) until ctx is done. When pcscd goes away or is not
// there yet, it tries again every retry interval (100 ms); the card loses
// power with each lost connection. It returns ctx.Err() when ctx ends.
//
// onConnect, if not nil, is called after each successful connection.
func (c *Card) ServeVPCD(ctx context.Context, addr string, onConnect func()) error {
	const retry = 100 * time.Millisecond
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.tracef("connected to vpcd at %s", addr)
			if onConnect != nil {
				onConnect()
			}
			err = c.serveConn(ctx, conn.(*net.TCPConn))
			c.PowerOff()
			if ctx.Err() == nil {
				c.tracef("vpcd connection ended: %v", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
}

func (c *Card) serveConn(ctx context.Context, conn *net.TCPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	_ = conn.SetNoDelay(true)
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var hdr [2]byte
	buf := make([]byte, 0xFFFF)
	for {
		// The driver writes the length and the payload with two send()
		// calls; without an immediate ACK, Nagle on its side holds the
		// payload back for the delayed-ACK timer (~40 ms per APDU). Linux
		// clears TCP_QUICKACK by itself, so set it again before each read.
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			return errors.New("vcard: vpcd sent an empty message")
		}
		msg := buf[:n]
		if _, err := io.ReadFull(conn, msg); err != nil {
			return err
		}
		var reply []byte
		if n == 1 {
			switch msg[0] {
			case vpcdPowerOff:
				c.PowerOff()
			case vpcdPowerOn:
				c.PowerOn()
			case vpcdReset:
				c.Reset()
			case vpcdGetATR:
				reply = c.ATR()
			default:
				return fmt.Errorf("vcard: unknown vpcd control message %#02x", msg[0])
			}
		} else {
			reply, err = c.Transmit(msg)
			if err != nil {
				// An APDU to an unpowered card: power it, as the reader would have.
				c.PowerOn()
				if reply, err = c.Transmit(msg); err != nil {
					return err
				}
			}
		}
		if reply == nil {
			continue
		}
		out := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		copy(out[2:], reply)
		if _, err := conn.Write(out); err != nil {
			return err
		}
	}
}
