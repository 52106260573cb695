package pac

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/sclogon/sclogon/certs"
)

// utf16LE encodes s as UTF-16LE without a terminator.
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// fromUTF16LE decodes UTF-16LE; an odd length is malformed.
func fromUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: UTF-16 string of odd length %d", ErrMalformed, len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// marshalClientInfo writes PAC_CLIENT_INFO ([MS-PAC] §2.7): ClientId (the
// authtime as FILETIME), NameLength in bytes, Name in UTF-16LE.
func marshalClientInfo(authTime time.Time, name string) ([]byte, error) {
	ft, err := fileTime("AuthTime", authTime)
	if err != nil {
		return nil, err
	}
	n := utf16LE(name)
	if len(n) > 0xFFFF {
		return nil, fmt.Errorf("pac: ClientName is %d bytes in UTF-16, at most 65535 fit", len(n))
	}
	b := make([]byte, 0, 10+len(n))
	b = binary.LittleEndian.AppendUint64(b, ft)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(n)))
	return append(b, n...), nil
}

// ClientInfo is PAC_CLIENT_INFO ([MS-PAC] §2.7). A TGS compares it with
// the ticket: Name with the client principal, AuthTime with the authtime.
type ClientInfo struct {
	AuthTime time.Time
	Name     string
}

func parseClientInfo(b []byte) (ClientInfo, error) {
	if len(b) < 10 {
		return ClientInfo{}, fmt.Errorf("%w: PAC_CLIENT_INFO is %d bytes, shorter than 10", ErrMalformed, len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if len(b) != 10+n {
		return ClientInfo{}, fmt.Errorf("%w: PAC_CLIENT_INFO is %d bytes, NameLength says %d", ErrMalformed, len(b), 10+n)
	}
	name, err := fromUTF16LE(b[10:])
	if err != nil {
		return ClientInfo{}, err
	}
	return ClientInfo{AuthTime: timeFromFileTime(binary.LittleEndian.Uint64(b)), Name: name}, nil
}

// UPN_DNS_INFO flags ([MS-PAC] §2.10).
const (
	upnConstructed uint32 = 0x1 // U: the account has no userPrincipalName; the UPN is built
	upnExtended    uint32 = 0x2 // S: SamName and Sid follow
)

// UPNDNSInfo is UPN_DNS_INFO ([MS-PAC] §2.10). SamName and SID are set
// only in the extended form.
type UPNDNSInfo struct {
	UPN         string
	DNSDomain   string
	Constructed bool // the account has no UPN; UPN is Account@DNSDomain
	SamName     string
	SID         certs.SID
}

// marshalUPNDNSInfo writes the extended form: a 24-byte header of
// (length, offset) pairs and flags, then the UPN, DNS domain, SAM name and
// binary SID, each at an 8-byte aligned offset from the buffer start.
func marshalUPNDNSInfo(u UPNDNSInfo) ([]byte, error) {
	fields := [][]byte{utf16LE(u.UPN), utf16LE(u.DNSDomain), utf16LE(u.SamName), u.SID.Marshal()}
	hdr := make([]byte, 24)
	data := make([]byte, 0, 128)
	pos := len(hdr)
	slots := [][2]int{{0, 2}, {4, 6}, {12, 14}, {16, 18}} // (length, offset) positions in hdr
	for i, f := range fields {
		if len(f) > 0xFFFF || pos+len(f) > 0xFFFF {
			return nil, fmt.Errorf("pac: UPN_DNS_INFO does not fit 64 KiB")
		}
		binary.LittleEndian.PutUint16(hdr[slots[i][0]:], uint16(len(f)))
		binary.LittleEndian.PutUint16(hdr[slots[i][1]:], uint16(pos))
		data = append(data, f...)
		pos += len(f)
		if i < len(fields)-1 {
			pad := (8 - pos%8) % 8
			data = append(data, make([]byte, pad)...)
			pos += pad
		}
	}
	flags := upnExtended
	if u.Constructed {
		flags |= upnConstructed
	}
	binary.LittleEndian.PutUint32(hdr[8:], flags)
	return append(hdr, data...), nil
}

func parseUPNDNSInfo(b []byte) (UPNDNSInfo, error) {
	if len(b) < 12 {
		return UPNDNSInfo{}, fmt.Errorf("%w: UPN_DNS_INFO is %d bytes, shorter than 12", ErrMalformed, len(b))
	}
	field := func(at int) ([]byte, error) {
		n := int(binary.LittleEndian.Uint16(b[at:]))
		off := int(binary.LittleEndian.Uint16(b[at+2:]))
		if off > len(b) || n > len(b)-off {
			return nil, fmt.Errorf("%w: UPN_DNS_INFO field at %d+%d runs past its %d bytes", ErrMalformed, off, n, len(b))
		}
		return b[off : off+n], nil
	}
	var u UPNDNSInfo
	flags := binary.LittleEndian.Uint32(b[8:])
	u.Constructed = flags&upnConstructed != 0
	upn, err := field(0)
	if err != nil {
		return UPNDNSInfo{}, err
	}
	dns, err := field(4)
	if err != nil {
		return UPNDNSInfo{}, err
	}
	if u.UPN, err = fromUTF16LE(upn); err != nil {
		return UPNDNSInfo{}, err
	}
	if u.DNSDomain, err = fromUTF16LE(dns); err != nil {
		return UPNDNSInfo{}, err
	}
	if flags&upnExtended == 0 {
		return u, nil
	}
	if len(b) < 20 {
		return UPNDNSInfo{}, fmt.Errorf("%w: extended UPN_DNS_INFO is %d bytes, shorter than 20", ErrMalformed, len(b))
	}
	sam, err := field(12)
	if err != nil {
		return UPNDNSInfo{}, err
	}
	if u.SamName, err = fromUTF16LE(sam); err != nil {
		return UPNDNSInfo{}, err
	}
	sid, err := field(16)
	if err != nil {
		return UPNDNSInfo{}, err
	}
	if len(sid) > 0 {
		if u.SID, err = certs.UnmarshalSID(sid); err != nil {
			return UPNDNSInfo{}, fmt.Errorf("%w: UPN_DNS_INFO SID: %w", ErrMalformed, err)
		}
	}
	return u, nil
}

// Attributes is the Flags field of PAC_ATTRIBUTES_INFO ([MS-PAC] §2.14).
type Attributes uint32

// PAC_ATTRIBUTES_INFO flags ([MS-PAC] §2.14).
const (
	PACWasRequested       Attributes = 0x1 // PAC_WAS_REQUESTED: PA-PAC-OPTIONS asked for it
	PACWasGivenImplicitly Attributes = 0x2 // PAC_WAS_GIVEN_IMPLICITLY: the client neither asked nor declined
)

// marshalAttributes writes FlagsLength (in bits: the two defined flags) and
// one 32-bit Flags word.
func marshalAttributes(a Attributes) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	return binary.LittleEndian.AppendUint32(b, uint32(a))
}

func parseAttributes(b []byte) (Attributes, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: PAC_ATTRIBUTES_INFO is %d bytes, shorter than 4", ErrMalformed, len(b))
	}
	bits := binary.LittleEndian.Uint32(b)
	words := (uint64(bits) + 31) / 32
	if words == 0 || uint64(len(b)-4) != 4*words {
		return 0, fmt.Errorf("%w: PAC_ATTRIBUTES_INFO of %d bits is %d bytes", ErrMalformed, bits, len(b))
	}
	return Attributes(binary.LittleEndian.Uint32(b[4:])), nil
}
