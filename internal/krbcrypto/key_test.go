package krbcrypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"
)

// testUsages are the KDC's usages (tickets 2, AS and TGS replies 3 and 8,
// authenticators 7, PAC checksums 17, freshness 514) and a few others.
var testUsages = []uint32{1, 2, 3, 7, 8, 11, 12, 17, 25, 514, 1 << 31}

var testLengths = []int{0, 1, 8, 15, 16, 17, 31, 32, 33, 100, 1500}

// testKeys returns a per-exchange and a long-term key of etype over one
// base key, and that base key as gokrb5 takes it.
func testKeys(t testing.TB, etype int32) (perCall, longTerm *Key, gk types.EncryptionKey) {
	t.Helper()
	value := make([]byte, 16)
	if etype == AES256 {
		value = make([]byte, 32)
	}
	for i := range value {
		value[i] = byte(etype) ^ byte(i*29)
	}
	perCall, err := NewKey(etype, value)
	if err != nil {
		t.Fatal(err)
	}
	longTerm, err = NewLongTermKey(etype, value)
	if err != nil {
		t.Fatal(err)
	}
	return perCall, longTerm, types.EncryptionKey{KeyType: etype, KeyValue: value}
}

// TestDerivedKeysMatchGokrb5: Ke, Ki and Kc of both etypes over many
// usages are gokrb5's derived keys, kept or not, and a kept one is the
// same on its second use.
func TestDerivedKeysMatchGokrb5(t *testing.T) {
	for _, etype := range []int32{AES128, AES256} {
		perCall, longTerm, gk := testKeys(t, etype)
		et, err := crypto.GetEtype(etype)
		if err != nil {
			t.Fatal(err)
		}
		for _, usage := range testUsages {
			for _, kind := range []byte{kindKe, kindKi, kindKc} {
				c := usageConstant(usage, kind)
				want, err := et.DeriveKey(gk.KeyValue, c[:])
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []*Key{perCall, longTerm, longTerm} {
					if got := k.deriveRaw(c); !bytes.Equal(got, want) {
						t.Fatalf("etype %d usage %d kind %#x: %x, gokrb5 %x", etype, usage, kind, got, want)
					}
					if kind == kindKe {
						continue
					}
					d, err := k.derive(c)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(d.raw, want) {
						t.Fatalf("etype %d usage %d kind %#x (kept %v): %x, gokrb5 %x", etype, usage, kind, k.keep, d.raw, want)
					}
				}
			}
		}
	}
}

// TestEncryptInteroperatesWithGokrb5: what gokrb5 encrypts decrypts here
// and the other way round, for both etypes, several usages and lengths,
// with either kind of key.
func TestEncryptInteroperatesWithGokrb5(t *testing.T) {
	for _, etype := range []int32{AES128, AES256} {
		perCall, longTerm, gk := testKeys(t, etype)
		for _, k := range []*Key{perCall, longTerm} {
			for _, usage := range testUsages {
				for _, n := range testLengths {
					plain := bytes.Repeat([]byte{byte(n)}, n)
					theirs, err := crypto.GetEncryptedData(plain, gk, usage, 1)
					if err != nil {
						t.Fatal(err)
					}
					if got, err := k.Decrypt(usage, theirs.Cipher); err != nil || !bytes.Equal(got, plain) {
						t.Fatalf("etype %d usage %d len %d: gokrb5's ciphertext decrypted to %x, %v", etype, usage, n, got, err)
					}
					ours, err := k.Encrypt(usage, plain, rand.Reader)
					if err != nil {
						t.Fatal(err)
					}
					if len(ours) != n+Overhead {
						t.Fatalf("etype %d len %d: ciphertext of %d bytes", etype, n, len(ours))
					}
					got, err := crypto.DecryptEncPart(types.EncryptedData{EType: etype, Cipher: ours}, gk, usage)
					if err != nil || !bytes.Equal(got, plain) {
						t.Fatalf("etype %d usage %d len %d: gokrb5 decrypted ours to %x, %v", etype, usage, n, got, err)
					}
				}
			}
		}
	}
}

// TestChecksumMatchesGokrb5: checksum types 15 and 16 as gokrb5 makes
// them, over several usages.
func TestChecksumMatchesGokrb5(t *testing.T) {
	for _, etype := range []int32{AES128, AES256} {
		perCall, longTerm, gk := testKeys(t, etype)
		et, err := crypto.GetEtype(etype)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []*Key{perCall, longTerm} {
			for _, usage := range testUsages {
				for _, n := range testLengths {
					data := bytes.Repeat([]byte{0xd1}, n)
					want, err := et.GetChecksumHash(gk.KeyValue, data, usage)
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.Checksum(usage, data)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("etype %d usage %d len %d: %x, %v; gokrb5 %x", etype, usage, n, got, err, want)
					}
					if err := k.VerifyChecksum(usage, data, want); err != nil {
						t.Fatal(err)
					}
					want[0] ^= 1
					if err := k.VerifyChecksum(usage, data, want); !errors.Is(err, ErrIntegrity) {
						t.Fatalf("a modified checksum: %v", err)
					}
					if err := k.VerifyChecksum(usage, data, want[:MACLen-1]); !errors.Is(err, ErrIntegrity) {
						t.Fatalf("a short checksum: %v", err)
					}
				}
			}
		}
	}
}

// TestDecryptRefuses: every flipped bit, a wrong usage, a wrong key and
// every length too short for a confounder and an HMAC fail with
// ErrIntegrity and return no plaintext.
func TestDecryptRefuses(t *testing.T) {
	perCall, longTerm, _ := testKeys(t, AES256)
	other, _, _ := testKeys(t, AES128)
	ct, err := longTerm.Encrypt(3, []byte("a ticket"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, k *Key, usage uint32, c []byte) {
		t.Helper()
		if got, err := k.Decrypt(usage, c); !errors.Is(err, ErrIntegrity) || got != nil {
			t.Fatalf("%s: %x, %v", what, got, err)
		}
	}
	for i := range len(ct) * 8 {
		bad := bytes.Clone(ct)
		bad[i/8] ^= 0x80 >> (i % 8)
		refused(fmt.Sprintf("bit %d flipped", i), perCall, 3, bad)
	}
	refused("wrong usage", longTerm, 2, ct)
	refused("wrong key", other, 3, ct)
	for n := range Overhead {
		refused(fmt.Sprintf("%d bytes", n), perCall, 3, ct[:n])
	}
	if got, err := perCall.Decrypt(3, ct); err != nil || string(got) != "a ticket" {
		t.Fatalf("the original: %q, %v", got, err)
	}
}

// TestNewKeyRefuses: other etypes, and keys of the wrong length.
func TestNewKeyRefuses(t *testing.T) {
	for _, c := range []struct {
		etype int32
		n     int
	}{{AES128, 32}, {AES256, 16}, {AES256, 0}, {23, 16}, {19, 16}, {20, 32}, {0, 16}} {
		if _, err := NewKey(c.etype, make([]byte, c.n)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("etype %d, %d bytes: %v", c.etype, c.n, err)
		}
		if _, err := NewLongTermKey(c.etype, make([]byte, c.n)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("long-term etype %d, %d bytes: %v", c.etype, c.n, err)
		}
	}
}

// TestLongTermKeyConcurrent: a long-term key used from many goroutines at
// once, for usages it has not derived yet, encrypts and decrypts correctly
// (and, under -race, without a race).
func TestLongTermKeyConcurrent(t *testing.T) {
	_, longTerm, gk := testKeys(t, AES256)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				usage := uint32(100 + (g+i)%5)
				plain := []byte{byte(g), byte(i)}
				ct, err := longTerm.Encrypt(usage, plain, rand.Reader)
				if err != nil {
					errs <- err
					return
				}
				got, err := crypto.DecryptEncPart(types.EncryptedData{EType: AES256, Cipher: ct}, gk, usage)
				if err != nil || !bytes.Equal(got, plain) {
					errs <- fmt.Errorf("usage %d: %x, %v", usage, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestKeyFormatRedacted: fmt prints no key material.
func TestKeyFormatRedacted(t *testing.T) {
	_, k, _ := testKeys(t, AES128)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if got := fmt.Sprintf(verb, k); got != "krbcrypto.Key{etype: 17}" {
			t.Errorf("%s: %s", verb, got)
		}
	}
}
