package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// TestDigestInfo: CKM_RSA_PKCS over our DigestInfo is what crypto/rsa signs
// for every hash it names.
func TestDigestInfo(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for h := range digestInfoPrefix {
		d := h.New()
		d.Write([]byte("authpack"))
		digest := d.Sum(nil)
		di, err := digestInfo(h, digest)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := rsa.SignPKCS1v15(nil, key, 0, di) // the token's CKM_RSA_PKCS
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, h, digest, raw); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
	if _, err := digestInfo(crypto.MD5, make([]byte, 16)); err == nil {
		t.Error("MD5 accepted")
	}
	if _, err := digestInfo(crypto.SHA256, make([]byte, 20)); err == nil {
		t.Error("a short digest accepted")
	}
}

// TestECDSAASN1: r‖s becomes a signature crypto/ecdsa verifies, leading
// zeros and all; malformed lengths and zero halves are refused.
func TestECDSAASN1(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authpack"))
	for i := 0; i < 64; i++ {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		der, err := ecdsaASN1(raw, 32)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], der) {
			t.Fatalf("signature %x does not verify", der)
		}
	}
	for _, raw := range [][]byte{nil, make([]byte, 63), make([]byte, 64), bytes.Repeat([]byte{1}, 66)} {
		if _, err := ecdsaASN1(raw, 32); err == nil {
			t.Errorf("%x accepted", raw)
		}
	}
}

func FuzzECDSAASN1(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x80}, 64), 32)
	f.Fuzz(func(t *testing.T, raw []byte, size int) {
		if size < 0 || size > 1<<10 {
			return
		}
		_, _ = ecdsaASN1(raw, size)
	})
}
