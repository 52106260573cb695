package pki

import (
	"os"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	// Recorded once from `openssl ocsp -reqout` (OpenSSL 3.0: SHA-1 CertID,
	// 16-byte nonce).
	seed, err := os.ReadFile("testdata/openssl-3.0-ocsp-request-nonce.der")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRequest(in)
		if err != nil {
			return
		}
		if len(r.CertIDs) == 0 {
			t.Fatal("parsed a request with no CertID")
		}
		for _, id := range r.CertIDs {
			if id.Serial == nil {
				t.Fatal("nil serial")
			}
		}
	})
}
