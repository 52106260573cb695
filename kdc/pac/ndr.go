package pac

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/sclogon/sclogon/certs"
)

// ndrWriter writes the little-endian NDR 1.0 transfer syntax ([C706] §14,
// [MS-RPCE] §2.2.5). Offsets are aligned relative to the start of the
// buffer, which is also the start of the type-serialization headers; the
// headers are 16 bytes, so alignment is the same as in the body.
type ndrWriter struct {
	b   []byte
	ref uint32 // last referent id handed out
}

func newNDRWriter() *ndrWriter {
	// Referent ids start at 0x00020000 and step by 4, as MIDL numbers them.
	return &ndrWriter{b: make([]byte, 0, 1024), ref: 0x00020000 - 4}
}

func (w *ndrWriter) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *ndrWriter) u16(v uint16) {
	w.align(2)
	w.b = binary.LittleEndian.AppendUint16(w.b, v)
}

func (w *ndrWriter) u32(v uint32) {
	w.align(4)
	w.b = binary.LittleEndian.AppendUint32(w.b, v)
}

// fileTime writes a FILETIME ([MS-DTYP] §2.3.3): two 32-bit halves, low
// first.
func (w *ndrWriter) fileTime(v uint64) {
	w.u32(uint32(v))
	w.u32(uint32(v >> 32))
}

// ptr writes a unique or full pointer: a fresh referent id, or 0 for NULL.
func (w *ndrWriter) ptr(present bool) {
	if !present {
		w.u32(0)
		return
	}
	w.ref += 4
	w.u32(w.ref)
}

// ndrString is an RPC_UNICODE_STRING ([MS-DTYP] §2.3.10): UTF-16 code
// units, MaximumLength in bytes, and whether Buffer is NULL.
type ndrString struct {
	units []uint16
	max   uint16
	null  bool
}

// newNDRString returns s with MaximumLength = Length + extra bytes. AD
// writes extra 2 (room for a terminator) for the logon server and domain
// names and 0 for the others.
func newNDRString(field, s string, extra int) (ndrString, error) {
	u := utf16.Encode([]rune(s))
	if 2*len(u)+extra > 0xFFFF {
		return ndrString{}, fmt.Errorf("pac: %s is %d UTF-16 code units, too long for an RPC_UNICODE_STRING", field, len(u))
	}
	return ndrString{units: u, max: uint16(2*len(u) + extra)}, nil
}

// stringHeader writes Length, MaximumLength and the Buffer pointer.
func (w *ndrWriter) stringHeader(s ndrString) {
	w.u16(uint16(2 * len(s.units)))
	w.u16(s.max)
	w.ptr(!s.null)
}

// stringBody writes the deferred Buffer: a conformant varying array of
// WCHAR (maximum count, offset 0, actual count, the units).
func (w *ndrWriter) stringBody(s ndrString) {
	if s.null {
		return
	}
	w.u32(uint32(s.max / 2))
	w.u32(0)
	w.u32(uint32(len(s.units)))
	for _, c := range s.units {
		w.u16(c)
	}
}

// sid writes an RPC_SID ([MS-DTYP] §2.4.2.3), a conformant structure: the
// conformance (sub-authority count) first, then the fields.
func (w *ndrWriter) sid(s certs.SID) {
	sub := s.SubAuthorities()
	w.u32(uint32(len(sub)))
	b := s.Marshal()
	w.b = append(w.b, b[:8]...) // Revision, SubAuthorityCount, IdentifierAuthority
	for _, v := range sub {
		w.u32(v)
	}
}

// typeSerialize wraps an NDR body in the type-serialization version 1
// headers ([MS-RPCE] §2.2.6.1, §2.2.6.2): the common header (version 1,
// little-endian, ASCII, IEEE, length 8, filler 0xCCCCCCCC) and the private
// header (body length padded to 8, filler 0).
func typeSerialize(body []byte) []byte {
	padded := (len(body) + 7) &^ 7
	out := make([]byte, 0, 16+padded)
	out = append(out, 0x01, 0x10, 0x08, 0x00, 0xCC, 0xCC, 0xCC, 0xCC)
	out = binary.LittleEndian.AppendUint32(out, uint32(padded))
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = append(out, body...)
	return append(out, make([]byte, padded-len(body))...)
}

// FILETIME constants ([MS-DTYP] §2.3.3).
const (
	fileTimeNever      uint64 = 0x7FFFFFFFFFFFFFFF // "never" in KERB_VALIDATION_INFO, [MS-PAC] §2.5
	unixToFileTimeSecs int64  = 11644473600        // seconds from 1601-01-01 to 1970-01-01
)
