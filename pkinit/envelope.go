package pkinit

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// EnvelopeData returns a DER ContentInfo holding an EnvelopedData that carries
// content (of type id-signedData, as RFC 4556 §3.2.3.2 requires for
// encKeyPack) for the RSA key of recipient, encrypted with AES-256-CBC and
// the key transported with RSA PKCS #1 v1.5 (RFC 5652 §6).
func EnvelopeData(content []byte, recipient *x509.Certificate, rand io.Reader) ([]byte, error) {
	return envelope(content, oidSignedData, recipient, rand)
}

func envelope(content []byte, contentType asn1.ObjectIdentifier, recipient *x509.Certificate, rand io.Reader) ([]byte, error) {
	pub, ok := recipient.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: recipient key %T", ErrUnsupportedKey, recipient.PublicKey)
	}
	cek := make([]byte, 32)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, cek); err != nil {
		return nil, fmt.Errorf("pkinit: content key: %w", err)
	}
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("pkinit: iv: %w", err)
	}
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 and RFC 3370 §4.2.1: PKINIT key transport is rsaEncryption (PKCS #1 v1.5), the one algorithm every client decrypts
	encKey, err := rsa.EncryptPKCS1v15(rand, pub, cek)
	if err != nil {
		return nil, fmt.Errorf("pkinit: key transport: %w", err)
	}
	block, _ := aes.NewCipher(cek)
	pad := aes.BlockSize - len(content)%aes.BlockSize
	ct := append(bytes.Clone(content), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidEnvelopedData)
		b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(0)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(0)
						addIssuerAndSerial(b, recipient)
						addAlgorithm(b, oidRSAEncryption, true)
						b.AddASN1OctetString(encKey)
					})
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(contentType)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidAES256CBC)
						b.AddASN1OctetString(iv)
					})
					b.AddASN1(tagCtx0Prim, func(b *cryptobyte.Builder) { b.AddBytes(ct) })
				})
			})
		})
	})
	return b.Bytes()
}

// OpenEnvelopedData decrypts a ContentInfo holding an EnvelopedData (DER or
// BER, RFC 5652 §6) with the private key of cert, which may sit on a card
// (any crypto.Decrypter for an RSA key). It returns the content type and the
// plaintext: for a PKINIT encKeyPack, a SignedData to pass to
// [VerifySignedData].
func OpenEnvelopedData(der []byte, cert *x509.Certificate, key crypto.Decrypter, rand io.Reader) (asn1.ObjectIdentifier, []byte, error) {
	ed, err := contentOf(der, oidEnvelopedData, "EnvelopedData", false)
	if err != nil {
		return nil, nil, err
	}
	var version int64
	var ris, eci berString
	if !ed.readInteger(&version) {
		return nil, nil, malformed("EnvelopedData", nil)
	}
	if ed.peek(tagCtx0Cons) && !ed.skip(tagCtx0Cons) { // originatorInfo
		return nil, nil, malformed("EnvelopedData originatorInfo", nil)
	}
	if !ed.read(&ris, cbasn1.SET) || !ed.read(&eci, cbasn1.SEQUENCE) {
		return nil, nil, malformed("EnvelopedData", nil)
	}
	if ed.peek(tagCtx1Cons) && !ed.skip(tagCtx1Cons) { // unprotectedAttrs
		return nil, nil, malformed("EnvelopedData unprotectedAttrs", nil)
	}
	if !ed.empty() {
		return nil, nil, malformed("EnvelopedData", errTrailing)
	}
	encKey, err := findRecipient(ris, cert)
	if err != nil {
		return nil, nil, err
	}
	ec, err := readEncryptedContent(eci)
	if err != nil {
		return nil, nil, err
	}
	plain, err := ec.decrypt(encKey, key, rand)
	if err != nil {
		return nil, nil, err
	}
	return ec.contentType, plain, nil
}

// encryptedContent is an EncryptedContentInfo, RFC 5652 §6.1.
type encryptedContent struct {
	contentType asn1.ObjectIdentifier
	alg         asn1.ObjectIdentifier
	iv          []byte
	ciphertext  []byte
}

func readEncryptedContent(eci berString) (*encryptedContent, error) {
	var ec encryptedContent
	var params berString
	if !eci.readOID(&ec.contentType) || !eci.readAlgorithm(&ec.alg, &params) {
		return nil, malformed("EncryptedContentInfo", nil)
	}
	// encryptedContent [0] IMPLICIT OCTET STRING: primitive, or constructed
	// as streaming encoders write it.
	if !eci.peek(tagCtx0Prim) && !eci.peek(tagCtx0Cons) {
		return nil, malformed("EncryptedContentInfo", errors.New("no encryptedContent"))
	}
	if !eci.readOctetString(&ec.ciphertext, tagCtx0Prim) {
		return nil, malformed("encryptedContent", nil)
	}
	if !eci.empty() {
		return nil, malformed("EncryptedContentInfo", errTrailing)
	}
	// The CBC ciphers' parameters are the IV, RFC 3565 §4.1, RFC 3370 §5.1.
	if !params.empty() && !params.readOctetString(&ec.iv, cbasn1.OCTET_STRING) {
		return nil, malformed("content-encryption parameters", nil)
	}
	if !params.empty() {
		return nil, malformed("content-encryption parameters", errTrailing)
	}
	return &ec, nil
}

// decrypt unwraps the content-encryption key with key and decrypts the content.
func (ec *encryptedContent) decrypt(encKey []byte, key crypto.Decrypter, rand io.Reader) ([]byte, error) {
	var newCipher func([]byte) (cipher.Block, error)
	var keyLen int
	switch {
	case ec.alg.Equal(oidAES128CBC):
		newCipher, keyLen = aes.NewCipher, 16
	case ec.alg.Equal(oidAES192CBC):
		newCipher, keyLen = aes.NewCipher, 24
	case ec.alg.Equal(oidAES256CBC):
		newCipher, keyLen = aes.NewCipher, 32
	case ec.alg.Equal(oidDESEDE3CBC):
		newCipher, keyLen = des.NewTripleDESCipher, 24
	default:
		return nil, fmt.Errorf("%w: content encryption %v", ErrUnsupportedAlgorithm, ec.alg)
	}
	cek, err := key.Decrypt(rand, encKey, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: key transport: %v", ErrDecrypt, err)
	}
	if len(cek) != keyLen {
		return nil, fmt.Errorf("%w: content key is %d bytes, want %d", ErrDecrypt, len(cek), keyLen)
	}
	block, err := newCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	bs := block.BlockSize()
	if len(ec.iv) != bs || len(ec.ciphertext) == 0 || len(ec.ciphertext)%bs != 0 {
		return nil, fmt.Errorf("%w: bad iv or ciphertext length", ErrDecrypt)
	}
	plain := make([]byte, len(ec.ciphertext))
	cipher.NewCBCDecrypter(block, ec.iv).CryptBlocks(plain, ec.ciphertext)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs || subtle.ConstantTimeCompare(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) != 1 {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	return plain[:len(plain)-pad], nil
}

// findRecipient returns the encryptedKey of the KeyTransRecipientInfo for
// cert (RFC 5652 §6.2.1); other RecipientInfo kinds are skipped.
func findRecipient(ris berString, cert *x509.Certificate) ([]byte, error) {
	for !ris.empty() {
		var ri berString
		var tag cbasn1.Tag
		if !ris.readAny(nil, &ri, &tag) {
			return nil, malformed("RecipientInfo", nil)
		}
		if tag != cbasn1.SEQUENCE {
			continue
		}
		var version int64
		var alg asn1.ObjectIdentifier
		var encKey []byte
		if !ri.readInteger(&version) {
			return nil, malformed("KeyTransRecipientInfo", nil)
		}
		rid, err := readIdentifier(&ri, "RecipientIdentifier")
		if err != nil {
			return nil, err
		}
		if !ri.readAlgorithm(&alg, nil) || !ri.readOctetString(&encKey, cbasn1.OCTET_STRING) || !ri.empty() {
			return nil, malformed("KeyTransRecipientInfo", nil)
		}
		if !rid.matches(cert) {
			continue
		}
		if !alg.Equal(oidRSAEncryption) {
			return nil, fmt.Errorf("%w: key transport %v", ErrUnsupportedAlgorithm, alg)
		}
		return encKey, nil
	}
	return nil, ErrNoRecipient
}
