package pkcs11

import (
	"crypto"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// digestInfoPrefix is the DER of DigestInfo up to the digest (RFC 8017
// §9.2, note 1): CKM_RSA_PKCS pads what it is given and nothing more.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// digestInfo is the DigestInfo of digest under h, for CKM_RSA_PKCS.
func digestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	prefix, ok := digestInfoPrefix[h]
	if !ok {
		return nil, fmt.Errorf("pkcs11: RSA signatures with %v are not supported", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("pkcs11: a %v digest has %d bytes, not %d", h, h.Size(), len(digest))
	}
	return append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...), nil
}

// ecdsaASN1 re-encodes CKM_ECDSA's r‖s (two equal halves, PKCS #11 v2.40
// §2.3.1) as the ECDSA-Sig-Value of RFC 5480 §2.2.3. size is the curve's
// order length in bytes.
func ecdsaASN1(raw []byte, size int) ([]byte, error) {
	if len(raw) != 2*size || size == 0 {
		return nil, fmt.Errorf("pkcs11: an ECDSA signature of %d bytes, want %d", len(raw), 2*size)
	}
	r := new(big.Int).SetBytes(raw[:size])
	s := new(big.Int).SetBytes(raw[size:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, errors.New("pkcs11: an ECDSA signature with a zero half")
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}
