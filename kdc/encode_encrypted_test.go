package kdc

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

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

// TestLongTermKeyInteroperatesWithGokrb5: a loaded key (its derived keys
// kept) and a Key made elsewhere (derived per use) encrypt what gokrb5
// decrypts and decrypt what gokrb5 encrypts, for the etypes the KDC
// generates and the others it reads; a flipped bit or a ciphertext naming
// another etype does not decrypt.
func TestLongTermKeyInteroperatesWithGokrb5(t *testing.T) {
	for etype, size := range map[int32]int{17: 16, 18: 32, 19: 16, 20: 32} {
		plain := Key{EType: etype, KVNO: 3, Value: bytes.Repeat([]byte{byte(etype)}, size)}
		loaded := plain.withDerived()
		if (loaded.derived.crypt != nil) != (etype == 17 || etype == 18) {
			t.Fatalf("etype %d: kept crypt %v", etype, loaded.derived.crypt)
		}
		for _, k := range []Key{plain, loaded} {
			for _, usage := range []uint32{keyusage.KDC_REP_TICKET, keyUsageFreshness} {
				ed, err := k.encrypt([]byte("the ticket"), usage)
				if err != nil {
					t.Fatal(err)
				}
				if ed.EType != etype || ed.KVNO != 3 {
					t.Fatalf("etype %d: EncryptedData %d/%d", etype, ed.EType, ed.KVNO)
				}
				if got, err := crypto.DecryptEncPart(ed, k.encryptionKey(), usage); err != nil || string(got) != "the ticket" {
					t.Fatalf("etype %d usage %d: gokrb5 decrypted %q, %v", etype, usage, got, err)
				}
				theirs, err := crypto.GetEncryptedData([]byte("theirs"), k.encryptionKey(), usage, 3)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := k.decrypt(theirs, usage); err != nil || string(got) != "theirs" {
					t.Fatalf("etype %d usage %d: decrypted gokrb5's to %q, %v", etype, usage, got, err)
				}
				theirs.Cipher[len(theirs.Cipher)-1] ^= 1
				if _, err := k.decrypt(theirs, usage); err == nil {
					t.Fatalf("etype %d usage %d: a flipped bit decrypted", etype, usage)
				}
			}
		}
		if etype == 17 || etype == 18 {
			ed, err := loaded.encrypt([]byte("x"), 2)
			if err != nil {
				t.Fatal(err)
			}
			ed.EType = 35 - etype
			if _, err := loaded.decrypt(ed, 2); err == nil {
				t.Fatalf("etype %d: a ciphertext naming etype %d decrypted", etype, ed.EType)
			}
			if _, err := decryptEncPart(ed, loaded.encryptionKey(), 2); err == nil {
				t.Fatalf("etype %d: a session-key ciphertext naming etype %d decrypted", etype, ed.EType)
			}
		}
	}
}

// TestDecryptEncPartMatchesGokrb5: what gokrb5 encrypts under a session
// key, decryptEncPart opens, krbcrypto's etypes and RC4 alike.
func TestDecryptEncPartMatchesGokrb5(t *testing.T) {
	for etype, size := range map[int32]int{17: 16, 18: 32, 23: 16} {
		key := types.EncryptionKey{KeyType: etype, KeyValue: bytes.Repeat([]byte{0x4e}, size)}
		usage := uint32(keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR)
		for _, n := range []int{0, 5, 16, 100} {
			plain := bytes.Repeat([]byte{byte(n)}, n)
			ed, err := crypto.GetEncryptedData(plain, key, usage, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := decryptEncPart(ed, key, usage); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("etype %d len %d: %x, %v", etype, n, got, err)
			}
			if _, err := decryptEncPart(ed, key, usage+1); err == nil {
				t.Fatalf("etype %d len %d: decrypted under another usage", etype, n)
			}
		}
	}
}

// TestKeyStoreKeepsDerivedKeys: every key version the store loads carries
// one set of derived keys, shared by the copies lookups return; a reload
// gives new sets, and a rollover hands none to the backend.
func TestKeyStoreKeepsDerivedKeys(t *testing.T) {
	ks, err := OpenKeyStore(t.TempDir(), rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Ensure(testKrbtgt); err != nil {
		t.Fatal(err)
	}
	a, _ := ks.Key(testKrbtgt, 0)
	b, _ := ks.Key(testKrbtgt, 0)
	if a.derived == nil || a.derived.crypt == nil || a.derived != b.derived {
		t.Fatalf("two lookups of one version: derived keys %p and %p", a.derived, b.derived)
	}
	if _, err := a.pacKey(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := ks.Key(testKrbtgt, 0); c.derived == nil || c.derived == a.derived {
		t.Fatalf("after a reload: derived keys %p, before %p", c.derived, a.derived)
	}
	if _, err := ks.Rollover(context.Background(), testKrbtgt); err != nil {
		t.Fatal(err)
	}
	stored, err := ks.backend.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range stored[testKrbtgt] {
		if k.derived != nil {
			t.Fatalf("the backend holds derived keys of kvno %d", k.KVNO)
		}
	}
	if old, ok := ks.KeyVersion(testKrbtgt, a.EType, a.KVNO); !ok || old.derived == nil || old.derived.crypt == nil {
		t.Fatalf("the retired version after a rollover: %v, derived %p", ok, old.derived)
	}
}

func BenchmarkEncryptedData(b *testing.B) {
	key := types.EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{0xa7}, 32)}
	plain := make([]byte, 1200)
	b.Run("perexchange", func(b *testing.B) {
		for b.Loop() {
			if _, err := encryptedData(plain, key, keyusage.KDC_REP_TICKET, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("longterm", func(b *testing.B) {
		k := Key{EType: key.KeyType, KVNO: 1, Value: key.KeyValue}.withDerived()
		for b.Loop() {
			if _, err := k.encrypt(plain, keyusage.KDC_REP_TICKET); err != nil {
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
