package krbcrypto

import (
	"crypto/rand"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"
)

// BenchmarkEncrypt: a ticket-sized plaintext under a long-term key, a
// per-exchange key, and gokrb5.
func BenchmarkEncrypt(b *testing.B) {
	perCall, longTerm, gk := testKeys(b, AES256)
	plain := make([]byte, 1200)
	for name, k := range map[string]*Key{"longterm": longTerm, "perexchange": perCall} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Encrypt(2, plain, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := crypto.GetEncryptedData(plain, gk, 2, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecrypt: a freshness token (8 bytes) under the krbtgt key.
func BenchmarkDecrypt(b *testing.B) {
	perCall, longTerm, gk := testKeys(b, AES256)
	ct, err := longTerm.Encrypt(514, make([]byte, 8), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for name, k := range map[string]*Key{"longterm": longTerm, "perexchange": perCall} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Decrypt(514, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		ed := types.EncryptedData{EType: AES256, Cipher: ct}
		for b.Loop() {
			if _, err := crypto.DecryptEncPart(ed, gk, 514); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChecksum: a PAC signature (usage 17) over a PAC-sized buffer.
func BenchmarkChecksum(b *testing.B) {
	perCall, longTerm, gk := testKeys(b, AES256)
	data := make([]byte, 600)
	for name, k := range map[string]*Key{"longterm": longTerm, "perexchange": perCall} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Checksum(17, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		et, err := crypto.GetEtype(AES256)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := et.GetChecksumHash(gk.KeyValue, data, 17); err != nil {
				b.Fatal(err)
			}
		}
	})
}
