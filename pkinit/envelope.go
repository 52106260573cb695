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
	"fmt"
	"io"
	"math/big"

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

// OpenEnvelopedData decrypts a DER ContentInfo holding an EnvelopedData with
// the private key of cert, which may sit on a card (any crypto.Decrypter for
// an RSA key). It returns the content type and the plaintext: for a PKINIT
// encKeyPack, a SignedData to pass to [VerifySignedData].
func OpenEnvelopedData(der []byte, cert *x509.Certificate, key crypto.Decrypter, rand io.Reader) (asn1.ObjectIdentifier, []byte, error) {
	in := cryptobyte.String(der)
	var ci, content, ed, ris, eci cryptobyte.String
	var ct asn1.ObjectIdentifier
	var version int64
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() || !ci.ReadASN1ObjectIdentifier(&ct) ||
		!ci.ReadASN1(&content, tagCtx0Cons) || !ci.Empty() {
		return nil, nil, malformed("ContentInfo", errTrailingOr(in))
	}
	if !ct.Equal(oidEnvelopedData) {
		return nil, nil, fmt.Errorf("%w: ContentInfo is %v, not EnvelopedData", ErrMalformed, ct)
	}
	if !content.ReadASN1(&ed, cbasn1.SEQUENCE) || !content.Empty() || !ed.ReadASN1Integer(&version) {
		return nil, nil, malformed("EnvelopedData", nil)
	}
	if ed.PeekASN1Tag(tagCtx0Cons) { // originatorInfo
		ed.SkipASN1(tagCtx0Cons)
	}
	if !ed.ReadASN1(&ris, cbasn1.SET) || !ed.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, nil, malformed("EnvelopedData", nil)
	}
	if ed.PeekASN1Tag(tagCtx1Cons) { // unprotectedAttrs
		ed.SkipASN1(tagCtx1Cons)
	}
	if !ed.Empty() {
		return nil, nil, malformed("EnvelopedData", errTrailing)
	}
	encKey, err := findRecipient(ris, cert)
	if err != nil {
		return nil, nil, err
	}

	var innerType, encAlg asn1.ObjectIdentifier
	var alg, params cryptobyte.String
	if !eci.ReadASN1ObjectIdentifier(&innerType) || !eci.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&encAlg) {
		return nil, nil, malformed("EncryptedContentInfo", nil)
	}
	var ciphertext []byte
	switch {
	case eci.PeekASN1Tag(tagCtx0Prim):
		var c cryptobyte.String
		eci.ReadASN1(&c, tagCtx0Prim)
		ciphertext = c
	case eci.PeekASN1Tag(tagCtx0Cons): // constructed encoding from streaming encoders
		var c cryptobyte.String
		eci.ReadASN1(&c, tagCtx0Cons)
		for !c.Empty() {
			var part cryptobyte.String
			if !c.ReadASN1(&part, cbasn1.OCTET_STRING) {
				return nil, nil, malformed("encryptedContent", nil)
			}
			ciphertext = append(ciphertext, part...)
		}
	default:
		return nil, nil, malformed("EncryptedContentInfo", fmt.Errorf("no encryptedContent"))
	}
	if !eci.Empty() {
		return nil, nil, malformed("EncryptedContentInfo", errTrailing)
	}

	var newCipher func([]byte) (cipher.Block, error)
	var keyLen int
	switch {
	case encAlg.Equal(oidAES128CBC):
		newCipher, keyLen = aes.NewCipher, 16
	case encAlg.Equal(oidAES192CBC):
		newCipher, keyLen = aes.NewCipher, 24
	case encAlg.Equal(oidAES256CBC):
		newCipher, keyLen = aes.NewCipher, 32
	case encAlg.Equal(oidDESEDE3CBC):
		newCipher, keyLen = des.NewTripleDESCipher, 24
	default:
		return nil, nil, fmt.Errorf("%w: content encryption %v", ErrUnsupportedAlgorithm, encAlg)
	}
	var iv cryptobyte.String
	alg.ReadASN1(&iv, cbasn1.OCTET_STRING)
	params = alg
	if len(params) != 0 {
		return nil, nil, malformed("content-encryption parameters", errTrailing)
	}

	cek, err := key.Decrypt(rand, encKey, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key transport: %v", ErrDecrypt, err)
	}
	if len(cek) != keyLen {
		return nil, nil, fmt.Errorf("%w: content key is %d bytes, want %d", ErrDecrypt, len(cek), keyLen)
	}
	block, err := newCipher(cek)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	bs := block.BlockSize()
	if len(iv) != bs || len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, nil, fmt.Errorf("%w: bad iv or ciphertext length", ErrDecrypt)
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs || subtle.ConstantTimeCompare(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) != 1 {
		return nil, nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	return innerType, plain[:len(plain)-pad], nil
}

// findRecipient returns the encryptedKey of the KeyTransRecipientInfo for
// cert; other RecipientInfo kinds are skipped.
func findRecipient(ris cryptobyte.String, cert *x509.Certificate) ([]byte, error) {
	for !ris.Empty() {
		var ri cryptobyte.String
		var tag cbasn1.Tag
		if !ris.ReadAnyASN1(&ri, &tag) {
			return nil, malformed("RecipientInfo", nil)
		}
		if tag != cbasn1.SEQUENCE {
			continue
		}
		var version int64
		var alg asn1.ObjectIdentifier
		var encKey cryptobyte.String
		match := false
		if !ri.ReadASN1Integer(&version) {
			return nil, malformed("KeyTransRecipientInfo", nil)
		}
		switch {
		case ri.PeekASN1Tag(cbasn1.SEQUENCE):
			var ias, issuer cryptobyte.String
			serial := new(big.Int)
			if !ri.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !ias.ReadASN1Integer(serial) {
				return nil, malformed("IssuerAndSerialNumber", nil)
			}
			match = bytes.Equal(issuer, cert.RawIssuer) && serial.Cmp(cert.SerialNumber) == 0
		case ri.PeekASN1Tag(tagCtx0Prim):
			var ski cryptobyte.String
			ri.ReadASN1(&ski, tagCtx0Prim)
			match = len(cert.SubjectKeyId) != 0 && bytes.Equal(ski, cert.SubjectKeyId)
		default:
			return nil, malformed("RecipientIdentifier", nil)
		}
		if !readAlgorithm(&ri, &alg) || !ri.ReadASN1(&encKey, cbasn1.OCTET_STRING) {
			return nil, malformed("KeyTransRecipientInfo", nil)
		}
		if !match {
			continue
		}
		if !alg.Equal(oidRSAEncryption) {
			return nil, fmt.Errorf("%w: key transport %v", ErrUnsupportedAlgorithm, alg)
		}
		return encKey, nil
	}
	return nil, ErrNoRecipient
}
