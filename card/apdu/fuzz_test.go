package apdu

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"testing"

	"github.com/sclogon/sclogon/card"
)

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

// FuzzParsePublicKey: the 7F49 reader of GENERATE never panics, rejects
// trailing data, and returns only keys of the algorithm asked for.
func FuzzParsePublicKey(f *testing.F) {
	f.Add([]byte{0x7F, 0x49, 0x03, 0x86, 0x01, 0x04}, byte(0x11))
	f.Add([]byte{0x7F, 0x49, 0x07, 0x81, 0x01, 0x05, 0x82, 0x02, 0x01, 0x00}, byte(0x07))
	f.Add([]byte{0x7F, 0x49, 0x82, 0x00, 0x00}, byte(0x14))
	f.Fuzz(func(t *testing.T, b []byte, alg byte) {
		pub, err := parsePublicKey(b, card.KeyAlgorithm(alg))
		if err != nil {
			return
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if card.KeyAlgorithm(alg) != card.KeyRSA2048 || k.N.BitLen() != 2048 {
				t.Fatalf("an RSA key of %d bits for %02x", k.N.BitLen(), alg)
			}
		case *ecdsa.PublicKey:
			if want := map[card.KeyAlgorithm]int{card.KeyP256: 256, card.KeyP384: 384}[card.KeyAlgorithm(alg)]; k.Curve.Params().BitSize != want {
				t.Fatalf("a %s key for %02x", k.Curve.Params().Name, alg)
			}
		default:
			t.Fatalf("%T", pub)
		}
	})
}
