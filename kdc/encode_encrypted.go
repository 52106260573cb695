package kdc

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3961"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3962"
	"github.com/jcmturner/gokrb5/v8/types"
)

// encryptedData makes the EncryptedData of plain under key and usage, as
// gokrb5's crypto.GetEncryptedData does, with the same result for the
// receiver. For aes128- and aes256-cts-hmac-sha1-96 (RFC 3962), the etypes
// of every reply and ticket in practice, it derives Ke and Ki itself:
// gokrb5 n-folds the usage constant bit by bit on each of the two
// derivations of every encryption, a visible share of the KDC's profile,
// though the n-fold depends only on the usage, never on the key. Here the
// n-folded constants are computed once per usage (with gokrb5's Nfold) and
// kept; they are public values, so keeping them keeps nothing secret. The
// key-dependent part, DR(K, constant) = E(K, nfold(constant)) ‖ E(K, that)
// … (RFC 3961 §5.1), is done per call. Other etypes go to gokrb5.
// TestEncryptedDataMatchesGokrb5 checks the derived keys against gokrb5's
// and gokrb5's decryption of the result.
func encryptedData(plain []byte, key types.EncryptionKey, usage uint32, kvno int) (types.EncryptedData, error) {
	if (key.KeyType != 17 || len(key.KeyValue) != 16) && (key.KeyType != 18 || len(key.KeyValue) != 32) {
		return crypto.GetEncryptedData(plain, key, usage, kvno)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return types.EncryptedData{}, err
	}
	ke, err := deriveAESKey(key.KeyValue, usageConstant(usage, 0xAA))
	if err != nil {
		return types.EncryptedData{}, err
	}
	ki, err := deriveAESKey(key.KeyValue, usageConstant(usage, 0x55))
	if err != nil {
		return types.EncryptedData{}, err
	}
	// RFC 3962 §6: a random confounder of one block before the plaintext;
	// AES-CTS with a zero IV under Ke; then HMAC-SHA1 under Ki over the
	// confounder and plaintext, truncated to 96 bits.
	conf := make([]byte, aes.BlockSize, aes.BlockSize+len(plain))
	if _, err := rand.Read(conf); err != nil {
		return types.EncryptedData{}, fmt.Errorf("kdc: confounder: %w", err)
	}
	data := append(conf, plain...)
	_, ct, err := rfc3962.EncryptData(ke, data, et)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kdc: encrypt: %w", err)
	}
	mac := hmac.New(sha1.New, ki)
	mac.Write(data)
	ct = mac.Sum(ct)[:len(ct)+12]
	clear(ke)
	clear(ki)
	return types.EncryptedData{EType: key.KeyType, Cipher: ct, KVNO: kvno}, nil
}

// usageConstant is RFC 3961 §5.3's key usage constant: the usage number,
// big-endian, and 0xAA (Ke), 0x55 (Ki) or 0x99 (Kc).
func usageConstant(usage uint32, kind byte) [5]byte {
	var c [5]byte
	binary.BigEndian.PutUint32(c[:], usage)
	c[4] = kind
	return c
}

// nfolded holds nfold(constant, 128) by usage constant: public values,
// a handful of usages (the KDC encrypts under a fixed few).
var nfolded sync.Map // [5]byte → []byte

func nfold128(c [5]byte) []byte {
	if v, ok := nfolded.Load(c); ok {
		return v.([]byte)
	}
	v := rfc3961.Nfold(c[:], 128)
	nfolded.Store(c, v)
	return v
}

// deriveAESKey is DK(key, constant) for the RFC 3962 etypes: random-to-key
// is the identity, DR the AES encryption of the n-folded constant, chained
// until the key's length.
func deriveAESKey(key []byte, c [5]byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("kdc: derive key: %w", err)
	}
	out := make([]byte, len(key))
	in := nfold128(c)
	for i := 0; i < len(out); i += aes.BlockSize {
		block.Encrypt(out[i:i+aes.BlockSize], in)
		in = out[i : i+aes.BlockSize]
	}
	return out, nil
}
