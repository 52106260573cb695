package pac

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"
)

// FuzzParse: Parse and every reader never panic on any input; what parses
// lays out again into bytes that parse to the same buffers.
func FuzzParse(f *testing.F) {
	key := mustKey(f, etypeAES256, 1)
	rc4 := mustKey(f, etypeRC4, 2)
	for _, k := range []Key{key, rc4} {
		b, err := Build(testInfo(f), k, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawPAC(2, 0, []rawBuf{{1, 3, 40}, {10, 5, 48}}, 53))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		_, _ = p.ClientInfo()
		_, _, _ = p.UPNDNSInfo()
		_, _, _ = p.Requestor()
		_, _, _ = p.Attributes()
		_ = p.VerifyServer(key)
		_ = p.VerifyKDC(rc4)
		again, _, err := layout(p.Buffers)
		if err != nil {
			t.Fatalf("layout of parsed buffers: %v", err)
		}
		q, err := Parse(again)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		for i := range p.Buffers {
			if p.Buffers[i].Type != q.Buffers[i].Type || !bytes.Equal(p.Buffers[i].Data, q.Buffers[i].Data) {
				t.Fatalf("buffer %d changed in layout", i)
			}
		}
		if _, err := Resign(b, key, rc4); err == nil {
			if _, err := Verify(b, key, &key); err != nil {
				t.Fatal("Resign accepted a PAC Verify rejects")
			}
		}
	})
}

// FuzzBufferParsers: the readers of single buffers never panic, and what
// PAC_CLIENT_INFO accepts re-encodes to the same bytes.
func FuzzBufferParsers(f *testing.F) {
	info := testInfo(f)
	ci, _ := marshalClientInfo(info.AuthTime, info.ClientName)
	u, _ := marshalUPNDNSInfo(UPNDNSInfo{UPN: info.UPN, DNSDomain: info.DNSDomain, SamName: info.Account, SID: info.DomainSID})
	f.Add(ci)
	f.Add(u)
	f.Add(marshalAttributes(PACWasRequested))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := parseClientInfo(b); err == nil && !c.AuthTime.IsZero() {
			if again, err := marshalClientInfo(c.AuthTime, c.Name); err == nil && len(again) == len(b) && !bytes.Equal(again, b) {
				// Only unpaired surrogates may differ: UTF-16 → string → UTF-16
				// replaces them with U+FFFD.
				if utf16Valid(b[10:]) {
					t.Fatalf("PAC_CLIENT_INFO round trip: %x → %x", b, again)
				}
			}
		}
		_, _ = parseUPNDNSInfo(b)
		_, _ = parseAttributes(b)
		_, _, _ = FromAuthorizationData(types.AuthorizationData{{ADType: 1, ADData: b}})
	})
}

func utf16Valid(b []byte) bool {
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c >= 0xD800 && c < 0xE000 {
			return false
		}
	}
	return true
}
