package pkinit

import (
	"errors"
	"fmt"
	"time"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// The KDC's reply messages are written by hand, once into a buffer of their
// exact size: each size is known before its element is written, so no value
// is moved to make room for a length, and the KDC's SignedData (a couple of
// kilobytes in a PA-PK-AS-REP) is copied once. The output is the DER that
// encoding/asn1 wrote for the same values (TestReplyEncodersMatch).

var tagCtx1Prim = cbasn1.Tag(1).ContextSpecific()

// Marshal returns the DER encoding.
func (r *PKASRep) Marshal() ([]byte, error) {
	switch {
	case r.DHInfo != nil && r.EncKeyPack == nil:
		return r.DHInfo.marshal()
	case r.DHInfo == nil && r.EncKeyPack != nil:
		return der.AppendElement(make([]byte, 0, der.Size(len(r.EncKeyPack))), tagCtx1Prim, r.EncKeyPack), nil
	}
	return nil, malformed("PA-PK-AS-REP", errors.New("exactly one of dhInfo and encKeyPack must be set"))
}

// marshal returns dhInfo [0] DHRepInfo, the PA-PK-AS-REP choice. An empty
// serverDHNonce is sent, a nil one is not.
func (d *DHRepInfo) marshal() ([]byte, error) {
	var kdfOID []byte
	if d.KDF != KDFOctetString2Key {
		if d.KDF.oid() == nil {
			return nil, fmt.Errorf("%w: %v has no KDF identifier", ErrNoAcceptableKDF, d.KDF)
		}
		kdfOID = kdfOIDElements[d.KDF]
	}
	n := der.Size(len(d.DHSignedData))
	if d.ServerDHNonce != nil {
		n += der.ExplicitSize(len(d.ServerDHNonce))
	}
	if kdfOID != nil {
		n += der.Size(der.Size(der.Size(len(kdfOID)))) // [2] { SEQUENCE { [0] { OID } } }
	}
	b := make([]byte, 0, der.ExplicitSize(n))
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(n))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, n)
	b = der.AppendElement(b, tagCtx0Prim, d.DHSignedData)
	if d.ServerDHNonce != nil {
		b = der.AppendHeader(b, tagCtx1Cons, der.Size(len(d.ServerDHNonce)))
		b = der.AppendElement(b, cbasn1.OCTET_STRING, d.ServerDHNonce)
	}
	if kdfOID != nil {
		b = der.AppendHeader(b, cbasn1.Tag(2).ContextSpecific().Constructed(), der.Size(der.Size(len(kdfOID))))
		b = der.AppendHeader(b, cbasn1.SEQUENCE, der.Size(len(kdfOID)))
		b = der.AppendHeader(b, tagCtx0Cons, len(kdfOID))
		b = append(b, kdfOID...)
	}
	return b, nil
}

// Marshal returns the DER encoding. DHKeyExpiration is sent in whole
// seconds, and not at all when that is the zero time.
func (k *KDCDHKeyInfo) Marshal() ([]byte, error) {
	const layout = "20060102150405Z" // KerberosTime, RFC 4120 §5.2.3
	exp := k.DHKeyExpiration.UTC().Truncate(time.Second)
	if !exp.IsZero() && (exp.Year() < 0 || exp.Year() > 9999) {
		return nil, malformed("KDCDHKeyInfo", errors.New("dhKeyExpiration is not a GeneralizedTime"))
	}
	nonce := int64(k.Nonce)
	n := der.ExplicitSize(1+len(k.SubjectPublicKey)) + der.ExplicitSize(der.IntSize(nonce))
	if !exp.IsZero() {
		n += der.ExplicitSize(len(layout))
	}
	b := make([]byte, 0, der.Size(n))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, n)
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(1+len(k.SubjectPublicKey)))
	b = der.AppendHeader(b, cbasn1.BIT_STRING, 1+len(k.SubjectPublicKey))
	b = append(b, 0) // no unused bits: the value is whole octets
	b = append(b, k.SubjectPublicKey...)
	b = der.AppendHeader(b, tagCtx1Cons, der.Size(der.IntSize(nonce)))
	b = der.AppendInt(b, nonce)
	if !exp.IsZero() {
		b = der.AppendHeader(b, cbasn1.Tag(2).ContextSpecific().Constructed(), der.Size(len(layout)))
		b = der.AppendHeader(b, cbasn1.GeneralizedTime, len(layout))
		b = exp.AppendFormat(b, layout)
	}
	return b, nil
}

// Marshal returns the DER encoding.
func (r *ReplyKeyPack) Marshal() ([]byte, error) {
	key := typedValueSize(r.ReplyKey.KeyType, r.ReplyKey.KeyValue)
	sum := typedValueSize(r.ASChecksum.CksumType, r.ASChecksum.Checksum)
	n := der.Size(key) + der.Size(sum)
	b := make([]byte, 0, der.Size(n))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, n)
	b = der.AppendHeader(b, tagCtx0Cons, key)
	b = appendTypedValue(b, r.ReplyKey.KeyType, r.ReplyKey.KeyValue)
	b = der.AppendHeader(b, tagCtx1Cons, sum)
	return appendTypedValue(b, r.ASChecksum.CksumType, r.ASChecksum.Checksum), nil
}

// typedValueSize is the size of SEQUENCE { [0] Int32, [1] OCTET STRING },
// the shape of an EncryptionKey and of a Checksum (RFC 4120 §5.2.9).
func typedValueSize(t int32, v []byte) int {
	return der.Size(der.ExplicitSize(der.IntSize(int64(t))) + der.ExplicitSize(len(v)))
}

func appendTypedValue(b []byte, t int32, v []byte) []byte {
	b = der.AppendHeader(b, cbasn1.SEQUENCE, der.ExplicitSize(der.IntSize(int64(t)))+der.ExplicitSize(len(v)))
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(der.IntSize(int64(t))))
	b = der.AppendInt(b, int64(t))
	b = der.AppendHeader(b, tagCtx1Cons, der.Size(len(v)))
	return der.AppendElement(b, cbasn1.OCTET_STRING, v)
}
