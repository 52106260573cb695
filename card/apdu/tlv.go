package apdu

// PIV BER-TLV: one- or two-byte tags (5Fxx), lengths up to 82 xx xx. These
// parsers never panic.

func readTag(b []byte) (tag uint32, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0]&0x1F != 0x1F {
		return uint32(b[0]), 1, true
	}
	if len(b) < 2 || b[1]&0x80 != 0 {
		return 0, 0, false
	}
	return uint32(b[0])<<8 | uint32(b[1]), 2, true
}

func readLength(b []byte) (l, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch {
	case b[0] < 0x80:
		return int(b[0]), 1, true
	case b[0] == 0x81 && len(b) >= 2:
		return int(b[1]), 2, true
	case b[0] == 0x82 && len(b) >= 3:
		return int(b[1])<<8 | int(b[2]), 3, true
	}
	return 0, 0, false
}

// next splits off the first TLV.
func next(b []byte) (tag uint32, value, rest []byte, ok bool) {
	tag, tn, ok := readTag(b)
	if !ok {
		return 0, nil, nil, false
	}
	l, ln, ok := readLength(b[tn:])
	if !ok || len(b) < tn+ln+l {
		return 0, nil, nil, false
	}
	return tag, b[tn+ln : tn+ln+l], b[tn+ln+l:], true
}

// readTLV reads one TLV that must carry want.
func readTLV(b []byte, want uint32) (value, rest []byte, ok bool) {
	tag, v, rest, ok := next(b)
	if !ok || tag != want {
		return nil, nil, false
	}
	return v, rest, true
}

// findTLV finds want among the TLVs of b.
func findTLV(b []byte, want uint32) ([]byte, bool) {
	for len(b) > 0 {
		tag, v, rest, ok := next(b)
		if !ok {
			return nil, false
		}
		if tag == want {
			return v, true
		}
		b = rest
	}
	return nil, false
}

func appendTLV(dst []byte, tag byte, v []byte) []byte {
	dst = append(dst, tag)
	switch n := len(v); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, v...)
}
