package kdc

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestDeriveAESKeyMatchesGokrb5: Ke, Ki and Kc of both RFC 3962 etypes,
// over usages the KDC uses and others, are gokrb5's derived keys.
func TestDeriveAESKeyMatchesGokrb5(t *testing.T) {
	for _, etype := range []int32{17, 18} {
		et, err := crypto.GetEtype(etype)
		if err != nil {
			t.Fatal(err)
		}
		base := bytes.Repeat([]byte{0x5c}, et.GetKeyByteSize())
		base[0] = byte(etype)
		for _, usage := range []uint32{1, 2, 3, 8, 11, 17, 25, 1 << 31} {
			for _, kind := range []byte{0xAA, 0x55, 0x99} {
				c := usageConstant(usage, kind)
				want, err := et.DeriveKey(base, c[:])
				if err != nil {
					t.Fatal(err)
				}
				for range 2 { // the second call reads the kept n-fold
					got, err := deriveAESKey(base, c)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("etype %d usage %d kind %#x: derived %x, gokrb5 %x", etype, usage, kind, got, want)
					}
				}
			}
		}
		if c := usageConstant(7, 0xAA); !bytes.Equal(c[:], common.GetUsageKe(7)) {
			t.Fatalf("usage constant %x, gokrb5's %x", c, common.GetUsageKe(7))
		}
	}
}

// TestEncryptedDataMatchesGokrb5: what encryptedData writes, gokrb5
// decrypts (its HMAC checked) to the plaintext, for every etype the KDC
// issues, fast path or not; a flipped bit fails gokrb5's integrity check,
// so the checksum is over the right bytes with the right key.
func TestEncryptedDataMatchesGokrb5(t *testing.T) {
	for etype, size := range map[int32]int{17: 16, 18: 32, 19: 16, 20: 32, 23: 16} {
		key := types.EncryptionKey{KeyType: etype, KeyValue: bytes.Repeat([]byte{0xa7}, size)}
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1500} {
			plain := bytes.Repeat([]byte{byte(n)}, n)
			for _, usage := range []uint32{keyusage.KDC_REP_TICKET, keyusage.AS_REP_ENCPART, keyusage.TGS_REP_ENCPART_SESSION_KEY} {
				ed, err := encryptedData(plain, key, usage, 7)
				if err != nil {
					t.Fatalf("etype %d len %d: %v", etype, n, err)
				}
				if ed.EType != etype || ed.KVNO != 7 {
					t.Fatalf("etype %d: EncryptedData %d/%d", etype, ed.EType, ed.KVNO)
				}
				back, err := crypto.DecryptEncPart(ed, key, usage)
				if err != nil {
					t.Fatalf("etype %d len %d usage %d: gokrb5 cannot decrypt: %v", etype, n, usage, err)
				}
				if !bytes.Equal(back, plain) {
					t.Fatalf("etype %d len %d usage %d: decrypted to %x", etype, n, usage, back)
				}
				ed.Cipher[len(ed.Cipher)/2] ^= 1
				if _, err := crypto.DecryptEncPart(ed, key, usage); err == nil {
					t.Fatalf("etype %d len %d usage %d: a flipped bit decrypted", etype, n, usage)
				}
			}
		}
	}
}

func BenchmarkEncryptedData(b *testing.B) {
	key := types.EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{0xa7}, 32)}
	plain := make([]byte, 1200)
	b.Run("derived", func(b *testing.B) {
		for b.Loop() {
			if _, err := encryptedData(plain, key, keyusage.KDC_REP_TICKET, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gokrb5", func(b *testing.B) {
		for b.Loop() {
			if _, err := crypto.GetEncryptedData(plain, key, keyusage.KDC_REP_TICKET, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
