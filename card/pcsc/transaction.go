//go:build cgo && (linux || freebsd || openbsd)

package pcsc

// #include <PCSC/winscard.h>
// #include <PCSC/wintypes.h>
import "C"

// scardWResetCard is SCARD_W_RESET_CARD: another application reset the
// card since this connection last used it.
const scardWResetCard = 0x80100068

// EndTransaction ends the transaction [Context.Connect] began (or
// [Conn.BeginTransaction] began again): other applications may use the card
// until the transaction is taken again. With reset the card is reset, which
// ends every verified PIN; without, the card keeps its security state for
// whoever uses it meanwhile, so the caller ends that first.
func (c *Conn) EndTransaction(reset bool) error {
	disposition := C.DWORD(C.SCARD_LEAVE_CARD)
	if reset {
		disposition = C.SCARD_RESET_CARD
	}
	return check("end transaction", C.SCardEndTransaction(c.h, disposition))
}

// BeginTransaction takes the card's transaction again. reset is true when
// another application reset the card meanwhile: the connection is then
// reconnected, and the caller must select its application again; the
// card's PINs are no longer verified.
func (c *Conn) BeginTransaction() (reset bool, err error) {
	rc := C.SCardBeginTransaction(c.h)
	if uint32(C.ulong(rc)) == scardWResetCard {
		var proto C.DWORD
		if err := check("reconnect", C.SCardReconnect(c.h, C.SCARD_SHARE_SHARED, C.SCARD_PROTOCOL_T1|C.SCARD_PROTOCOL_T0, C.SCARD_LEAVE_CARD, &proto)); err != nil {
			return false, err
		}
		c.pci = &C.g_rgSCardT1Pci
		if proto == C.SCARD_PROTOCOL_T0 {
			c.pci = &C.g_rgSCardT0Pci
		}
		reset = true
		rc = C.SCardBeginTransaction(c.h)
	}
	return reset, check("begin transaction", rc)
}
