package pcsc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/card"
)

// PC/SC part 10 (v2.02.09): a reader with a PIN pad names its features in
// answer to CM_IOCTL_GET_FEATURE_REQUEST, each with the control code that
// runs it, and takes a PIN_VERIFY_STRUCTURE or PIN_MODIFY_STRUCTURE: the
// APDU and where the PIN typed on the pad goes in it. The reader sends the
// APDU and answers with the card's response.
const (
	ioctlGetFeatureRequest = 0x42000000 + 3400 // SCARD_CTL_CODE(3400)

	featureVerifyPINDirect = 0x06 // FEATURE_VERIFY_PIN_DIRECT
	featureModifyPINDirect = 0x07 // FEATURE_MODIFY_PIN_DIRECT
)

// Errors of a PIN pad: what the reader answers instead of the card (the
// status words 64xx of CCID readers).
var (
	// ErrPINPadTimeout: nobody typed the PIN on the reader in time (6400).
	ErrPINPadTimeout = errors.New("pcsc: no PIN was entered on the reader's PIN pad in time")
	// ErrPINPadCancelled: the person pressed Cancel on the reader (6401).
	ErrPINPadCancelled = errors.New("pcsc: the PIN entry was cancelled on the reader")
	// ErrPINPadMismatch: the new PIN and its confirmation differ (6402).
	ErrPINPadMismatch = errors.New("pcsc: the new PIN and its confirmation typed on the reader differ")
	// ErrPINPadLength: the PIN typed was too short or too long (6403).
	ErrPINPadLength = errors.New("pcsc: the PIN typed on the reader has the wrong length (6 to 8 digits)")
)

// features reads a GET_FEATURE_REQUEST answer: TLVs of a one-byte tag, a
// length of 4 and a big-endian control code (part 10 §2.2).
func features(b []byte) (map[byte]uint32, error) {
	out := map[byte]uint32{}
	for len(b) > 0 {
		if len(b) < 6 || b[1] != 4 {
			return nil, fmt.Errorf("pcsc: malformed feature list (%X)", b)
		}
		out[b[0]] = binary.BigEndian.Uint32(b[2:6])
		b = b[6:]
	}
	return out, nil
}

// The PIV PIN block as a PIN pad fills it: ASCII digits, left justified in
// 8 bytes the template pads with FF, no length field (SP 800-73-4 Part 2
// §2.4.3), 6 to 8 digits, entry ended by the validation key.
const (
	pivFormat     = 0x82   // bmFormatString: byte units, position 0, left justified, ASCII
	pivBlock      = 0x08   // bmPINBlockString: no length field, 8-byte block
	pivLength     = 0x00   // bmPINLengthFormat: no length field
	pivMinMax     = 0x0608 // wPINMaxExtraDigit: 6 to 8 digits
	validationKey = 0x02   // bEntryValidationCondition: the OK key
	langEnglishUS = 0x0409 // wLangId
)

// verifyStructure is the PIN_VERIFY_STRUCTURE of a PIV VERIFY of the PIN
// with key reference ref (00 20 00 80 08 FF… for the application PIN).
// Multi-byte fields are in host order, as pcsc-lite and CCID take them
// (reader.h).
func verifyStructure(timeout, ref byte) []byte {
	apdu := []byte{0x00, 0x20, 0x00, ref, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	b := []byte{timeout, 0, pivFormat, pivBlock, pivLength}
	b = binary.NativeEndian.AppendUint16(b, pivMinMax)
	b = append(b, validationKey, 1) // bEntryValidationCondition, bNumberMessage
	b = binary.NativeEndian.AppendUint16(b, langEnglishUS)
	b = append(b, 0, 0, 0, 0) // bMsgIndex, bTeoPrologue
	b = binary.NativeEndian.AppendUint32(b, uint32(len(apdu)))
	return append(b, apdu...)
}

// modifyStructure is the PIN_MODIFY_STRUCTURE of a PIV CHANGE REFERENCE
// DATA of key reference ref (00 24 00 80 10, old PIN block, new PIN block
// for the application PIN): the reader asks for the current PIN, the new
// one and its confirmation.
func modifyStructure(timeout, ref byte) []byte { return twoPINStructure(timeout, 0x24, ref) }

// unblockStructure is the PIN_MODIFY_STRUCTURE of a PIV RESET RETRY
// COUNTER (00 2C 00 80 10, PUK block, new PIN block; SP 800-73-4 Part 2
// §3.2.3): the reader asks for the PUK, the new PIN and its confirmation.
func unblockStructure(timeout byte) []byte {
	return twoPINStructure(timeout, 0x2C, card.RolePIN.KeyRef())
}

// twoPINStructure is the PIN_MODIFY_STRUCTURE of a command of instruction
// ins on key reference ref whose data are two 8-byte PIN blocks: the
// secret proving the right to it, then the new PIN.
func twoPINStructure(timeout, ins, ref byte) []byte {
	apdu := []byte{0x00, ins, 0x00, ref, 0x10}
	for range 16 {
		apdu = append(apdu, 0xFF)
	}
	b := []byte{timeout, 0, pivFormat, pivBlock, pivLength, 0, 8} // bInsertionOffsetOld, bInsertionOffsetNew
	b = binary.NativeEndian.AppendUint16(b, pivMinMax)
	b = append(b, 0x03, validationKey, 3) // bConfirmPIN: current PIN and confirmation; bNumberMessage
	b = binary.NativeEndian.AppendUint16(b, langEnglishUS)
	b = append(b, 0, 1, 2, 0, 0, 0) // bMsgIndex1-3, bTeoPrologue
	b = binary.NativeEndian.AppendUint32(b, uint32(len(apdu)))
	return append(b, apdu...)
}

// padStatus reads the reader's answer to a PIN command: the card's status
// word, or the reader's own 64xx; errors as for a PIN typed on the host.
func padStatus(op string, resp []byte, role card.PINRole) error {
	if len(resp) < 2 {
		return fmt.Errorf("pcsc: %s: the reader answered %d bytes", op, len(resp))
	}
	sw := binary.BigEndian.Uint16(resp[len(resp)-2:])
	switch {
	case sw == 0x9000:
		return nil
	case sw&0xFFF0 == 0x63C0:
		return &card.PINError{PUK: role == card.RolePUK, Role: role, Retries: int(sw & 0x0F)}
	case sw == 0x6983 && role == card.RolePUK:
		return card.ErrPUKBlocked
	case sw == 0x6983:
		return card.ErrPINBlocked
	case sw == 0x6400:
		return ErrPINPadTimeout
	case sw == 0x6401:
		return ErrPINPadCancelled
	case sw == 0x6402:
		return ErrPINPadMismatch
	case sw == 0x6403:
		return ErrPINPadLength
	}
	return &card.StatusError{Op: op, SW: sw}
}
