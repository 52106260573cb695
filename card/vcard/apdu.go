package vcard

import "encoding/binary"

// Status words used by the card (ISO/IEC 7816-4 §5.1.3, SP 800-73-4 Part 2 §3).
const (
	swOK                  = 0x9000
	swBytesRemaining      = 0x6100 // 61xx: xx more bytes for GET RESPONSE
	swVerifyFail          = 0x63C0 // 63Cx: x tries left
	swMemoryFailure       = 0x6581
	swWrongLength         = 0x6700
	swSecureMessaging     = 0x6882
	swLastCommandExpected = 0x6883
	swSecurityStatus      = 0x6982
	swAuthBlocked         = 0x6983
	swConditions          = 0x6985
	swWrongData           = 0x6A80
	swFuncNotSupported    = 0x6A81
	swNotFound            = 0x6A82
	swNoSpace             = 0x6A84
	swIncorrectP1P2       = 0x6A86
	swRefNotFound         = 0x6A88
	swINSNotSupported     = 0x6D00
	swCLANotSupported     = 0x6E00
)

// command is one parsed command APDU (ISO/IEC 7816-4 §5.1), short or extended.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// ne is the most response data the terminal accepts. A command without
	// an Le field gets 256: piv-go never sends Le yet expects the answer, as
	// real cards give it over T=1.
	ne int
}

// parseCommand splits a command APDU into its header, data and Le. It
// returns false for a malformed encoding; it never panics.
func parseCommand(b []byte) (command, bool) {
	if len(b) < 4 {
		return command{}, false
	}
	c := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3], ne: 256}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, true
	case len(body) == 1: // case 2 short
		c.ne = leShort(body[0])
		return c, true
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			c.ne = leShort(body[1+lc])
		default:
			return command{}, false
		}
		c.data = body[1 : 1+lc]
		return c, true
	case len(body) == 3: // case 2 extended
		c.ne = leExtended(body[1:3])
		return c, true
	case len(body) < 3:
		return command{}, false
	}
	// case 3 or 4 extended: 00 Lc1 Lc2 data [Le1 Le2]
	lc := int(binary.BigEndian.Uint16(body[1:3]))
	if lc == 0 {
		return command{}, false
	}
	rest := body[3:]
	switch len(rest) {
	case lc:
	case lc + 2:
		c.ne = leExtended(rest[lc:])
	default:
		return command{}, false
	}
	c.data = rest[:lc]
	return c, true
}

func leShort(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

func leExtended(b []byte) int {
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 {
		return 65536
	}
	return n
}

// tlv appends a BER-TLV with a one- or two-byte tag (SP 800-73-4 uses both)
// and a definite length.
func tlv(dst []byte, tag uint16, value []byte) []byte {
	if tag > 0xFF {
		dst = append(dst, byte(tag>>8))
	}
	dst = append(dst, byte(tag))
	dst = appendLength(dst, len(value))
	return append(dst, value...)
}

func appendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, byte(n>>8), byte(n))
	default:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// readTLV reads one BER-TLV from b: a tag of one byte, or of several when the
// low five bits of the first are all set, and a definite length of up to
// three bytes. ok is false on truncated or malformed input.
func readTLV(b []byte) (tag uint32, value, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	i := 0
	tag = uint32(b[i])
	i++
	if tag&0x1F == 0x1F {
		for {
			if i >= len(b) || i > 3 {
				return 0, nil, nil, false
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, false
	}
	n := int(b[i])
	i++
	if n >= 0x80 {
		k := n & 0x7F
		if k == 0 || k > 3 || i+k > len(b) {
			return 0, nil, nil, false
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, false
	}
	return tag, b[i : i+n], b[i+n:], true
}

// parseTLVs reads a sequence of TLVs into a map from tag to value, keeping
// order of appearance in tags. Duplicate tags are rejected.
func parseTLVs(b []byte) (values map[uint32][]byte, tags []uint32, ok bool) {
	values = map[uint32][]byte{}
	for len(b) > 0 {
		tag, v, rest, ok := readTLV(b)
		if !ok {
			return nil, nil, false
		}
		if _, dup := values[tag]; dup {
			return nil, nil, false
		}
		values[tag] = v
		tags = append(tags, tag)
		b = rest
	}
	return values, tags, true
}

// onlyTLV reads exactly one TLV with the given tag and no trailing data.
func onlyTLV(b []byte, want uint32) ([]byte, bool) {
	tag, v, rest, ok := readTLV(b)
	if !ok || tag != want || len(rest) != 0 {
		return nil, false
	}
	return v, true
}
