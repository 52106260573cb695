package krbcrypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// FuzzDecrypt: no input makes Decrypt panic; what does not verify fails
// with ErrIntegrity and returns nothing.
func FuzzDecrypt(f *testing.F) {
	_, k, _ := testKeys(f, AES128)
	for _, n := range []int{0, 8, 100} {
		ct, err := k.Encrypt(2, bytes.Repeat([]byte{1}, n), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
		f.Add(ct[:len(ct)-1])
	}
	f.Add([]byte{})
	f.Add(make([]byte, Overhead-1))
	f.Add(make([]byte, Overhead))
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := k.Decrypt(2, ct)
		if err != nil && (got != nil || !errors.Is(err, ErrIntegrity)) {
			t.Fatalf("%x: %x, %v", ct, got, err)
		}
	})
}

// FuzzEncryptRoundTrip: whatever is encrypted decrypts to itself, with
// the HMAC checked.
func FuzzEncryptRoundTrip(f *testing.F) {
	perCall, _, _ := testKeys(f, AES256)
	f.Add([]byte{}, uint32(2))
	f.Add(bytes.Repeat([]byte{7}, 33), uint32(17))
	f.Fuzz(func(t *testing.T, plain []byte, usage uint32) {
		ct, err := perCall.Encrypt(usage, plain, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := perCall.Decrypt(usage, ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%x: %x, %v", plain, got, err)
		}
	})
}
