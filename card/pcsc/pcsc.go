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
	"context"
	"fmt"
	"time"
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
	case 0x80100002:
		msg = "the wait was cancelled"
	case 0x80100022:
		msg = "the reader does not offer this feature"
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
func (c *Conn) Close() error { return c.close(C.SCARD_RESET_CARD) }

// Leave ends the transaction and disconnects without resetting the card:
// for a session that verified nothing (reading the card's identity), so
// that another application's verified PIN survives it.
func (c *Conn) Leave() error { return c.close(C.SCARD_LEAVE_CARD) }

func (c *Conn) close(disposition C.DWORD) error {
	if !c.open {
		return nil
	}
	c.open = false
	err := check("end transaction", C.SCardEndTransaction(c.h, disposition))
	if err2 := check("disconnect", C.SCardDisconnect(c.h, disposition)); err == nil {
		err = err2
	}
	return err
}

// Control sends a reader control command (SCardControl): code is one the
// reader named for a PC/SC part 10 feature, or CM_IOCTL_GET_FEATURE_REQUEST.
func (c *Conn) Control(code uint32, in []byte) ([]byte, error) {
	var out [C.MAX_BUFFER_SIZE_EXTENDED]byte
	var n C.DWORD
	var inPtr C.LPCVOID
	if len(in) > 0 {
		inPtr = C.LPCVOID(unsafe.Pointer(&in[0]))
	}
	rc := C.SCardControl(c.h, C.DWORD(code), inPtr, C.DWORD(len(in)), C.LPVOID(unsafe.Pointer(&out[0])), C.DWORD(len(out)), &n)
	if err := check("control", rc); err != nil {
		return nil, err
	}
	resp := bytes.Clone(out[:n])
	clear(out[:n])
	return resp, nil
}

// pnpNotification is the pseudo-reader whose state changes when a reader
// comes or goes (pcsc-lite and Windows).
const pnpNotification = `\\?PnP?\Notification`

// States reads every reader's state now.
func (c *Context) States() ([]ReaderState, error) {
	names, err := c.Readers()
	if err != nil || len(names) == 0 {
		return nil, err
	}
	known := make([]ReaderState, len(names))
	for i, r := range names {
		known[i] = ReaderState{Reader: r, State: C.SCARD_STATE_UNAWARE}
	}
	got, _, err := c.statusChange(context.Background(), known, 0, false)
	return got, err
}

// WaitChange blocks in SCardGetStatusChange until a reader's state differs
// from known (a card in or out, the event counter moved, a reader came or
// went), timeout passes (errTimeout) or ctx ends (SCardCancel; ctx.Err()). It
// returns every reader's state after the change.
func (c *Context) WaitChange(ctx context.Context, known []ReaderState, timeout time.Duration) ([]ReaderState, error) {
	if _, _, err := c.statusChange(ctx, known, timeout, true); err != nil {
		return nil, err
	}
	return c.States()
}

// statusChange runs SCardGetStatusChange over known (and, with pnp, the
// reader-list pseudo-reader) and returns the readers' new states and the
// pseudo-reader's.
func (c *Context) statusChange(ctx context.Context, known []ReaderState, timeout time.Duration, pnp bool) ([]ReaderState, uint32, error) {
	n := len(known)
	if pnp {
		n++
	}
	if n == 0 {
		return nil, 0, nil
	}
	// The array holds C pointers (the names), so it lives in C memory.
	size := C.size_t(unsafe.Sizeof(C.SCARD_READERSTATE{})) * C.size_t(n)
	arr := (*[1 << 16]C.SCARD_READERSTATE)(C.calloc(1, size))[:n:n]
	defer C.free(unsafe.Pointer(&arr[0]))
	for i, k := range known {
		arr[i].szReader = C.CString(k.Reader)
		arr[i].dwCurrentState = C.DWORD(k.State) &^ C.SCARD_STATE_CHANGED
	}
	if pnp {
		arr[n-1].szReader = C.CString(pnpNotification)
		// pcsc-lite keeps the reader count in the high word.
		arr[n-1].dwCurrentState = C.DWORD(len(known)) << 16
	}
	defer func() {
		for i := range arr {
			C.free(unsafe.Pointer(arr[i].szReader))
		}
	}()
	ms := C.DWORD(0xFFFFFFFF) // INFINITE
	if timeout > 0 || !pnp {
		ms = C.DWORD(min(timeout.Milliseconds(), 0xFFFFFFFE))
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	// A cancel that lands before the call starts waiting is lost, so it is
	// repeated until the call returns.
	returned := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			C.SCardCancel(c.ctx)
			select {
			case <-returned:
				return
			case <-t.C:
			}
		}
	})
	rc := C.SCardGetStatusChange(c.ctx, ms, &arr[0], C.DWORD(n))
	close(returned)
	stop()
	if ctx.Err() != nil {
		return nil, 0, ctx.Err()
	}
	if uint32(C.ulong(rc)) == 0x8010000A { // SCARD_E_TIMEOUT
		return nil, 0, errTimeout
	}
	if err := check("reader state", rc); err != nil {
		return nil, 0, err
	}
	out := make([]ReaderState, len(known))
	for i, k := range known {
		out[i] = ReaderState{Reader: k.Reader, State: uint32(arr[i].dwEventState)}
	}
	var pnpState uint32
	if pnp {
		pnpState = uint32(arr[n-1].dwEventState)
	}
	return out, pnpState, nil
}
