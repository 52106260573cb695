package kdc

import (
	"crypto/rand"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/krbcrypto"
)

// encryptedData makes the EncryptedData of plain under key, a key for one
// exchange (a reply key, a session key), and usage. The RFC 3962 etypes,
// those of every reply and ticket in practice, go to krbcrypto, which
// n-folds each usage constant once where gokrb5 does it bit by bit on every
// derivation (a visible share of the KDC's profile) and wipes the keys it
// derives; other etypes go to gokrb5. TestEncryptedDataMatchesGokrb5 checks
// that gokrb5 decrypts the result.
func encryptedData(plain []byte, key types.EncryptionKey, usage uint32, kvno int) (types.EncryptedData, error) {
	if !krbcrypto.Supported(key.KeyType, len(key.KeyValue)) {
		return crypto.GetEncryptedData(plain, key, usage, kvno)
	}
	k, err := krbcrypto.NewKey(key.KeyType, key.KeyValue)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kdc: encrypt: %w", err)
	}
	return sealed(k, plain, usage, kvno)
}

func sealed(k *krbcrypto.Key, plain []byte, usage uint32, kvno int) (types.EncryptedData, error) {
	ct, err := k.Encrypt(usage, plain, rand.Reader)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kdc: encrypt: %w", err)
	}
	return types.EncryptedData{EType: k.EType(), Cipher: ct, KVNO: kvno}, nil
}

// encrypt makes the EncryptedData of plain under the long-term key k and
// usage, with the keys derived from k kept since the KeyStore loaded it.
func (k Key) encrypt(plain []byte, usage uint32) (types.EncryptedData, error) {
	if k.derived == nil || k.derived.crypt == nil {
		return encryptedData(plain, k.encryptionKey(), usage, int(k.KVNO))
	}
	return sealed(k.derived.crypt, plain, usage, int(k.KVNO))
}

// decrypt opens ed, made under the long-term key k and usage, with the
// keys derived from k kept since the KeyStore loaded it.
func (k Key) decrypt(ed types.EncryptedData, usage uint32) ([]byte, error) {
	if k.derived == nil || k.derived.crypt == nil {
		return decryptEncPart(ed, k.encryptionKey(), usage)
	}
	return opened(k.derived.crypt, ed, usage)
}

// decryptEncPart opens ed, made under key, a key for one exchange, and
// usage: the RFC 3962 etypes with krbcrypto, others with gokrb5.
func decryptEncPart(ed types.EncryptedData, key types.EncryptionKey, usage uint32) ([]byte, error) {
	if !krbcrypto.Supported(key.KeyType, len(key.KeyValue)) {
		return crypto.DecryptEncPart(ed, key, usage)
	}
	k, err := krbcrypto.NewKey(key.KeyType, key.KeyValue)
	if err != nil {
		return nil, fmt.Errorf("kdc: decrypt: %w", err)
	}
	return opened(k, ed, usage)
}

// opened decrypts ed under k, refusing a ciphertext that names another
// etype than the key's: it was not made under this key.
func opened(k *krbcrypto.Key, ed types.EncryptedData, usage uint32) ([]byte, error) {
	if ed.EType != k.EType() {
		return nil, fmt.Errorf("kdc: decrypt: ciphertext of etype %d, key of etype %d", ed.EType, k.EType())
	}
	plain, err := k.Decrypt(usage, ed.Cipher)
	if err != nil {
		return nil, fmt.Errorf("kdc: decrypt: %w", err)
	}
	return plain, nil
}
