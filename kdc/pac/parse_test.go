package pac

import (
	"encoding/binary"
	"errors"
	"testing"
)

type rawBuf struct {
	typ  uint32
	size uint32
	off  uint64
}

// rawPAC writes a PACTYPE header for bufs and pads it with 0xAA to total
// bytes.
func rawPAC(count uint32, version uint32, bufs []rawBuf, total int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, count)
	b = binary.LittleEndian.AppendUint32(b, version)
	for _, x := range bufs {
		b = binary.LittleEndian.AppendUint32(b, x.typ)
		b = binary.LittleEndian.AppendUint32(b, x.size)
		b = binary.LittleEndian.AppendUint64(b, x.off)
	}
	for len(b) < total {
		b = append(b, 0xAA)
	}
	return b
}

// Acceptance 4: malformed PACTYPE framing is rejected with ErrMalformed.
func TestParseMalformed(t *testing.T) {
	two := func(a, b rawBuf, total int) []byte { return rawPAC(2, 0, []rawBuf{a, b}, total) }
	// Header of 2 entries ends at 40.
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", []byte{1, 0, 0, 0, 0, 0, 0}},
		{"no buffers", rawPAC(0, 0, nil, 8)},
		{"version 1", rawPAC(1, 1, []rawBuf{{1, 8, 24}}, 32)},
		{"count huge", rawPAC(0xFFFFFFFF, 0, []rawBuf{{1, 8, 24}}, 32)},
		{"count past entries", rawPAC(3, 0, []rawBuf{{1, 8, 56}, {10, 8, 64}}, 72)},
		{"offset past end", rawPAC(1, 0, []rawBuf{{1, 8, 4096}}, 32)},
		{"offset near 2^64", rawPAC(1, 0, []rawBuf{{1, 8, 0xFFFFFFFFFFFFFFF8}}, 32)},
		{"size past end", rawPAC(1, 0, []rawBuf{{1, 9, 24}}, 32)},
		{"size huge", rawPAC(1, 0, []rawBuf{{1, 0xFFFFFFFF, 24}}, 32)},
		{"empty buffer", rawPAC(1, 0, []rawBuf{{1, 0, 24}}, 24)},
		{"misaligned", rawPAC(1, 0, []rawBuf{{1, 8, 28}}, 40)},
		{"inside header", two(rawBuf{1, 8, 32}, rawBuf{10, 8, 40}, 48)},
		{"overlapping", two(rawBuf{1, 16, 40}, rawBuf{10, 8, 48}, 64)},
		{"same offset", two(rawBuf{1, 8, 40}, rawBuf{10, 8, 40}, 48)},
		{"overlapping out of order", two(rawBuf{10, 8, 48}, rawBuf{1, 16, 40}, 64)},
		{"gap", two(rawBuf{1, 8, 40}, rawBuf{10, 8, 56}, 64)},
		{"trailing data", two(rawBuf{1, 8, 40}, rawBuf{10, 8, 48}, 64)},
		{"trailing byte", two(rawBuf{1, 8, 40}, rawBuf{10, 5, 48}, 57)},
		{"duplicate type", two(rawBuf{6, 8, 40}, rawBuf{6, 8, 48}, 56)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := Parse(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", p, err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"one buffer", rawPAC(1, 0, []rawBuf{{1, 8, 24}}, 32)},
		{"unpadded end", rawPAC(2, 0, []rawBuf{{1, 3, 40}, {10, 5, 48}}, 53)},
		{"padded end", rawPAC(2, 0, []rawBuf{{1, 3, 40}, {10, 5, 48}}, 56)},
		{"out of order", rawPAC(2, 0, []rawBuf{{10, 8, 48}, {1, 8, 40}}, 56)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBufferParsersMalformed(t *testing.T) {
	for name, err := range map[string]error{
		"client info short":     second(parseClientInfo(make([]byte, 9))),
		"client info length":    second(parseClientInfo([]byte{0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 'a', 0})),
		"client info odd":       second(parseClientInfo([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 'a'})),
		"upn short":             second(parseUPNDNSInfo(make([]byte, 11))),
		"upn past end":          second(parseUPNDNSInfo([]byte{4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 0})),
		"upn offset past end":   second(parseUPNDNSInfo([]byte{0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0})),
		"upn extended short":    second(parseUPNDNSInfo([]byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0})),
		"upn bad SID":           second(parseUPNDNSInfo([]byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 20, 0, 1, 5})),
		"attributes short":      second(parseAttributes([]byte{2, 0, 0})),
		"attributes zero bits":  second(parseAttributes([]byte{0, 0, 0, 0})),
		"attributes word count": second(parseAttributes([]byte{33, 0, 0, 0, 1, 0, 0, 0})),
	} {
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
