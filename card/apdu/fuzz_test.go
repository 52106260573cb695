package apdu

import "testing"

// FuzzTLV: the TLV readers never panic and never return more than they read.
func FuzzTLV(f *testing.F) {
	f.Add([]byte{0x53, 0x04, 0x70, 0x02, 0x30, 0x00})
	f.Add([]byte{0x7C, 0x82, 0x00, 0x02, 0x82, 0x00})
	f.Add([]byte{0x5F, 0xC1, 0x81, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, rest, ok := readTLV(b, 0x53); ok && len(v)+len(rest) > len(b) {
			t.Fatal("readTLV returned more than it read")
		}
		_, _ = findTLV(b, 0x70)
		_, _ = parseCertObject(b)
	})
}
