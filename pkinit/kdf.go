package pkinit

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"hash"

	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3961"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// KDF is the function that turns a key-agreement secret into the reply key.
type KDF int

// Key derivation functions. The zero value is RFC 4556's octetstring2key,
// used when the client offers no supportedKDFs.
const (
	KDFOctetString2Key KDF = iota // octetstring2key with SHA-1, RFC 4556 §3.2.3.1
	KDFSHA1                       // id-pkinit-kdf-ah-sha1, RFC 8636 §7
	KDFSHA256                     // id-pkinit-kdf-ah-sha256, RFC 8636 §7
	KDFSHA384                     // id-pkinit-kdf-ah-sha384, RFC 8636 §7
	KDFSHA512                     // id-pkinit-kdf-ah-sha512, RFC 8636 §7
)

// String returns the RFC name.
func (k KDF) String() string {
	switch k {
	case KDFOctetString2Key:
		return "octetstring2key"
	case KDFSHA1:
		return "id-pkinit-kdf-ah-sha1"
	case KDFSHA256:
		return "id-pkinit-kdf-ah-sha256"
	case KDFSHA384:
		return "id-pkinit-kdf-ah-sha384"
	case KDFSHA512:
		return "id-pkinit-kdf-ah-sha512"
	}
	return fmt.Sprintf("KDF(%d)", int(k))
}

func (k KDF) oid() asn1.ObjectIdentifier {
	switch k {
	case KDFSHA1:
		return oidPKINITKDFSHA1
	case KDFSHA256:
		return oidPKINITKDFSHA256
	case KDFSHA384:
		return oidPKINITKDFSHA384
	case KDFSHA512:
		return oidPKINITKDFSHA512
	}
	return nil
}

func (k KDF) hash() func() hash.Hash {
	switch k {
	case KDFSHA1:
		return sha1.New
	case KDFSHA256:
		return sha256.New
	case KDFSHA384:
		return sha512.New384
	case KDFSHA512:
		return sha512.New
	}
	return nil
}

// kdfOf maps an RFC 8636 KDF identifier; unknown ones map to
// KDFOctetString2Key, which has no identifier of its own.
func kdfOf(oid asn1.ObjectIdentifier) KDF {
	for _, k := range []KDF{KDFSHA1, KDFSHA256, KDFSHA384, KDFSHA512} {
		if oid.Equal(k.oid()) {
			return k
		}
	}
	return KDFOctetString2Key
}

// SelectKDF picks the KDC's KDF: the first of the client's supportedKDFs that
// is in allowed, or octetstring2key when the client offered none (RFC 8636 §5).
func (a *AuthPack) SelectKDF(allowed ...KDF) (KDF, error) {
	if a.SupportedKDFs == nil {
		return KDFOctetString2Key, nil
	}
	for _, offered := range a.SupportedKDFs {
		for _, ok := range allowed {
			if offered == ok && offered != KDFOctetString2Key {
				return offered, nil
			}
		}
	}
	return 0, ErrNoAcceptableKDF
}

// etypeKey is what octetstring2key and the RFC 8636 KDFs need of an enctype:
// its key-generation seed length and random-to-key. gokrb5 reports etype 20 as
// 24 bytes and makes RC4's random-to-key MD4; both are wrong, so the table is ours.
type etypeKey struct {
	seedLen     int
	randomToKey func([]byte) []byte
}

func identity(b []byte) []byte { return b }

func etypeKeyOf(etype int32) (etypeKey, error) {
	switch etype {
	case 16: // des3-cbc-sha1-kd, RFC 3961 §6.3.1 (only for the RFC 8636 A.3 vector)
		return etypeKey{21, rfc3961.DES3RandomToKey}, nil
	case 17: // aes128-cts-hmac-sha1-96, RFC 3962
		return etypeKey{16, identity}, nil
	case 18: // aes256-cts-hmac-sha1-96, RFC 3962
		return etypeKey{32, identity}, nil
	case 19: // aes128-cts-hmac-sha256-128, RFC 8009
		return etypeKey{16, identity}, nil
	case 20: // aes256-cts-hmac-sha384-192, RFC 8009
		return etypeKey{32, identity}, nil
	case 23: // rc4-hmac, RFC 4757
		return etypeKey{16, identity}, nil
	}
	return etypeKey{}, fmt.Errorf("%w: %d", ErrUnsupportedEType, etype)
}

// OctetString2Key is RFC 4556 §3.2.3.1: random-to-key(K-truncate(SHA1(0x00|x)
// | SHA1(0x01|x) | ...)) with x = secret | clientNonce | serverNonce.
func OctetString2Key(secret, clientNonce, serverNonce []byte, etype int32) (EncryptionKey, error) {
	e, err := etypeKeyOf(etype)
	if err != nil {
		return EncryptionKey{}, err
	}
	out := make([]byte, 0, e.seedLen+sha1.Size)
	h := sha1.New()
	for counter := 0; len(out) < e.seedLen; counter++ {
		h.Reset()
		h.Write([]byte{byte(counter)})
		h.Write(secret)
		h.Write(clientNonce)
		h.Write(serverNonce)
		out = h.Sum(out)
	}
	return EncryptionKey{KeyType: etype, KeyValue: e.randomToKey(out[:e.seedLen])}, nil
}

// KDFParams are the inputs of the RFC 8636 KDF besides the secret.
type KDFParams struct {
	KDF     KDF
	EType   int32
	Client  KRB5PrincipalName // partyUInfo: the client principal of the AS-REQ
	KDC     KRB5PrincipalName // partyVInfo: the TGS, krbtgt/REALM@REALM
	ASReq   []byte            // the DER AS-REQ as the client sent it
	PKASRep []byte            // the DER PA-PK-AS-REP as the KDC sent it
}

// otherInfo is the DER OtherInfo of RFC 8636 §6, written by hand in one
// buffer (it holds the whole AS-REQ, copied once):
//
//	OtherInfo ::= SEQUENCE {
//	    algorithmID   AlgorithmIdentifier,   -- the KDF, parameters absent
//	    partyUInfo    [0] OCTET STRING,      -- the client's KRB5PrincipalName
//	    partyVInfo    [1] OCTET STRING,      -- the KDC's KRB5PrincipalName
//	    suppPubInfo   [2] OCTET STRING }     -- PkinitSuppPubInfo
//	PkinitSuppPubInfo ::= SEQUENCE {
//	    enctype       [0] Int32,
//	    as-REQ        [1] OCTET STRING,
//	    pk-as-rep     [2] OCTET STRING }
//
// TestRFC8636KDFVectors holds it to the RFC's derived keys.
func (p KDFParams) otherInfo() []byte {
	u, v := p.Client.size(), p.KDC.size()
	supp := der.ExplicitSize(der.IntSize(int64(p.EType))) + der.ExplicitSize(len(p.ASReq)) + der.ExplicitSize(len(p.PKASRep))
	alg := oidSize(p.KDF.oid())
	all := der.Size(alg) + der.ExplicitSize(u) + der.ExplicitSize(v) + der.ExplicitSize(der.Size(supp))
	b := make([]byte, 0, der.Size(all))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, all)
	b = appendOID(der.AppendHeader(b, cbasn1.SEQUENCE, alg), p.KDF.oid())
	b = p.Client.appendTo(der.AppendHeader(der.AppendHeader(b, tagCtx0Cons, der.Size(u)), cbasn1.OCTET_STRING, u))
	b = p.KDC.appendTo(der.AppendHeader(der.AppendHeader(b, tagCtx1Cons, der.Size(v)), cbasn1.OCTET_STRING, v))
	b = der.AppendHeader(der.AppendHeader(b, tagCtx2Cons, der.Size(der.Size(supp))), cbasn1.OCTET_STRING, der.Size(supp))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, supp)
	b = der.AppendInt(der.AppendHeader(b, tagCtx0Cons, der.Size(der.IntSize(int64(p.EType)))), int64(p.EType))
	b = der.AppendElement(der.AppendHeader(b, tagCtx1Cons, der.Size(len(p.ASReq))), cbasn1.OCTET_STRING, p.ASReq)
	b = der.AppendElement(der.AppendHeader(b, tagCtx2Cons, der.Size(len(p.PKASRep))), cbasn1.OCTET_STRING, p.PKASRep)
	return b
}

// DeriveKey is the RFC 8636 §6 KDF: random-to-key of the first seed-length
// octets of H(1|Z|OtherInfo) | H(2|Z|OtherInfo) | ..., the counter 32-bit
// big-endian, OtherInfo naming the KDF, both parties, the enctype, the
// AS-REQ and the PA-PK-AS-REP.
func DeriveKey(secret []byte, p KDFParams) (EncryptionKey, error) {
	newHash := p.KDF.hash()
	if newHash == nil {
		return EncryptionKey{}, fmt.Errorf("%w: %v is not an RFC 8636 KDF", ErrNoAcceptableKDF, p.KDF)
	}
	e, err := etypeKeyOf(p.EType)
	if err != nil {
		return EncryptionKey{}, err
	}
	otherInfo := p.otherInfo()
	h := newHash()
	out := make([]byte, 0, e.seedLen+h.Size())
	var counter [4]byte
	for i := uint32(1); len(out) < e.seedLen; i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		h.Reset()
		h.Write(counter[:])
		h.Write(secret)
		h.Write(otherInfo)
		out = h.Sum(out)
	}
	return EncryptionKey{KeyType: p.EType, KeyValue: e.randomToKey(out[:e.seedLen])}, nil
}

// ReplyKeyFromSecret derives the AS reply key from a key-agreement secret
// (already left-padded, as [DHKey.SharedSecret] returns it): octetstring2key
// with the DH nonces when p.KDF is KDFOctetString2Key, the RFC 8636 KDF otherwise.
func ReplyKeyFromSecret(secret, clientNonce, serverNonce []byte, p KDFParams) (EncryptionKey, error) {
	if p.KDF == KDFOctetString2Key {
		return OctetString2Key(secret, clientNonce, serverNonce, p.EType)
	}
	return DeriveKey(secret, p)
}

// ASChecksum is the asChecksum of a ReplyKeyPack, RFC 4556 §3.2.3.2: the
// enctype's required checksum over the DER AS-REQ, keyed with the reply key,
// key usage 6.
func ASChecksum(replyKey EncryptionKey, asReq []byte) (Checksum, error) {
	e, err := krbcrypto.GetEtype(replyKey.KeyType)
	if err != nil {
		return Checksum{}, fmt.Errorf("%w: %d", ErrUnsupportedEType, replyKey.KeyType)
	}
	sum, err := e.GetChecksumHash(replyKey.KeyValue, asReq, keyUsageASChecksum)
	if err != nil {
		return Checksum{}, fmt.Errorf("pkinit: asChecksum: %w", err)
	}
	return Checksum{CksumType: e.GetHashID(), Checksum: sum}, nil
}

// CheckASChecksum verifies a ReplyKeyPack against the AS-REQ the client sent.
func (r *ReplyKeyPack) CheckASChecksum(asReq []byte) error {
	want, err := ASChecksum(r.ReplyKey, asReq)
	if err != nil {
		return err
	}
	if want.CksumType != r.ASChecksum.CksumType || !constantTimeEqual(want.Checksum, r.ASChecksum.Checksum) {
		return ErrASChecksumMismatch
	}
	return nil
}
