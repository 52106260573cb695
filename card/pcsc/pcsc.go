//go:build cgo && (linux || freebsd || openbsd)

package pcsc

// #cgo linux pkg-config: libpcsclite
// #cgo freebsd openbsd CFLAGS: -I/usr/local/include/ -I/usr/local/include/PCSC
// #cgo freebsd openbsd LDFLAGS: -L/usr/local/lib/ -lpcsclite
// #include <stdlib.h>
// #include <PCSC/winscard.h>
// #include <PCSC/wintypes.h>
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"
)

// Error is a PC/SC return code.
type Error struct {
	Op   string
	Code uint32
}

func (e *Error) Error() string {
	msg := ""
	switch e.Code {
	case 0x8010000C:
		msg = "no smart card in the reader"
	case 0x80100069:
		msg = "the card was removed"
	case 0x8010002E:
		msg = "no readers"
	case 0x8010001D:
		msg = "the PC/SC daemon is not running"
	case 0x8010000B:
		msg = "the card is in use by another application"
	case 0x80100009:
		msg = "unknown reader"
	}
	if msg == "" {
		return fmt.Sprintf("pcsc: %s: error 0x%08X", e.Op, e.Code)
	}
	return fmt.Sprintf("pcsc: %s: %s (0x%08X)", e.Op, msg, e.Code)
}

func check(op string, rc C.LONG) error {
	if rc == C.SCARD_S_SUCCESS {
		return nil
	}
	return &Error{Op: op, Code: uint32(C.ulong(rc))}
}

// Context is a connection to the PC/SC daemon.
type Context struct {
	ctx C.SCARDCONTEXT
}

// Establish connects to the PC/SC daemon.
func Establish() (*Context, error) {
	var ctx C.SCARDCONTEXT
	if err := check("establish context", C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &ctx)); err != nil {
		return nil, err
	}
	return &Context{ctx: ctx}, nil
}

// Release disconnects from the daemon.
func (c *Context) Release() error {
	return check("release context", C.SCardReleaseContext(c.ctx))
}

// Readers lists the readers pcscd knows, with or without a card.
func (c *Context) Readers() ([]string, error) {
	var n C.DWORD
	rc := C.SCardListReaders(c.ctx, nil, nil, &n)
	if uint32(C.ulong(rc)) == 0x8010002E {
		return nil, nil
	}
	if err := check("list readers", rc); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if err := check("list readers", C.SCardListReaders(c.ctx, nil, (*C.char)(unsafe.Pointer(&buf[0])), &n)); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range bytes.Split(buf[:n], []byte{0}) {
		if len(r) > 0 {
			out = append(out, string(r))
		}
	}
	return out, nil
}

// Present reports whether reader holds a powered card.
func (c *Context) Present(reader string) (bool, error) {
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	var st C.SCARD_READERSTATE
	st.szReader = name
	st.dwCurrentState = C.SCARD_STATE_UNAWARE
	if err := check("reader state", C.SCardGetStatusChange(c.ctx, 0, &st, 1)); err != nil {
		return false, err
	}
	return st.dwEventState&C.SCARD_STATE_PRESENT != 0 && st.dwEventState&C.SCARD_STATE_MUTE == 0, nil
}

// Conn is a connection to the card in one reader, inside a transaction.
type Conn struct {
	h    C.SCARDHANDLE
	pci  *C.SCARD_IO_REQUEST
	open bool
}

// Connect connects to the card in reader (shared, T=1 or T=0) and begins
// a transaction that lasts until Close.
func (c *Context) Connect(reader string) (*Conn, error) {
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	var h C.SCARDHANDLE
	var proto C.DWORD
	if err := check("connect", C.SCardConnect(c.ctx, name, C.SCARD_SHARE_SHARED, C.SCARD_PROTOCOL_T1|C.SCARD_PROTOCOL_T0, &h, &proto)); err != nil {
		return nil, err
	}
	pci := &C.g_rgSCardT1Pci
	if proto == C.SCARD_PROTOCOL_T0 {
		pci = &C.g_rgSCardT0Pci
	}
	if err := check("begin transaction", C.SCardBeginTransaction(h)); err != nil {
		C.SCardDisconnect(h, C.SCARD_LEAVE_CARD)
		return nil, err
	}
	return &Conn{h: h, pci: pci, open: true}, nil
}

// Transmit sends one command APDU.
func (c *Conn) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("pcsc: empty command")
	}
	var resp [C.MAX_BUFFER_SIZE_EXTENDED]byte
	n := C.DWORD(len(resp))
	rc := C.SCardTransmit(c.h, c.pci, (*C.BYTE)(unsafe.Pointer(&cmd[0])), C.DWORD(len(cmd)), nil, (*C.BYTE)(unsafe.Pointer(&resp[0])), &n)
	if err := check("transmit", rc); err != nil {
		return nil, err
	}
	out := bytes.Clone(resp[:n])
	clear(resp[:n]) // may hold a decrypted key
	return out, nil
}

// Close ends the transaction, resetting the card so that the verified PIN
// does not outlive the session, and disconnects.
func (c *Conn) Close() error {
	if !c.open {
		return nil
	}
	c.open = false
	err := check("end transaction", C.SCardEndTransaction(c.h, C.SCARD_RESET_CARD))
	if err2 := check("disconnect", C.SCardDisconnect(c.h, C.SCARD_RESET_CARD)); err == nil {
		err = err2
	}
	return err
}
