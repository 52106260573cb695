package pkinit

import (
	"errors"
	"fmt"
	"time"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The KDC's reply messages are written by hand, once into a buffer of their
// exact size: each size is known before its element is written, so no value
// is moved to make room for a length, and the KDC's SignedData (a couple of
// kilobytes in a PA-PK-AS-REP) is copied once. The output is the DER that
// encoding/asn1 wrote for the same values (TestReplyEncodersMatch).

var tagCtx1Prim = cbasn1.Tag(1).ContextSpecific()

// derSize is the size of a DER element with n content octets.
func derSize(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	case n < 0x1000000:
		return 5 + n
	}
	return 6 + n
}

// explicitSize is the size of an [n] EXPLICIT tag around one element with
// n content octets.
func explicitSize(n int) int { return derSize(derSize(n)) }

// appendHeader appends an identifier octet and the DER length of n.
func appendHeader(b []byte, tag cbasn1.Tag, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(tag), byte(n))
	case n < 0x100:
		return append(b, byte(tag), 0x81, byte(n))
	case n < 0x10000:
		return append(b, byte(tag), 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, byte(tag), 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, byte(tag), 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendElement appends a whole primitive element.
func appendElement(b []byte, tag cbasn1.Tag, contents []byte) []byte {
	return append(appendHeader(b, tag, len(contents)), contents...)
}

// intSize is the number of content octets of INTEGER v: the shortest two's
// complement.
func intSize(v int64) int {
	n := 1
	for ; v > 127; v >>= 8 {
		n++
	}
	for ; v < -128; v >>= 8 {
		n++
	}
	return n
}

func appendInt(b []byte, v int64) []byte {
	n := intSize(v)
	b = appendHeader(b, cbasn1.INTEGER, n)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// Marshal returns the DER encoding.
func (r *PKASRep) Marshal() ([]byte, error) {
	switch {
	case r.DHInfo != nil && r.EncKeyPack == nil:
		return r.DHInfo.marshal()
	case r.DHInfo == nil && r.EncKeyPack != nil:
		return appendElement(make([]byte, 0, derSize(len(r.EncKeyPack))), tagCtx1Prim, r.EncKeyPack), nil
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
	n := derSize(len(d.DHSignedData))
	if d.ServerDHNonce != nil {
		n += explicitSize(len(d.ServerDHNonce))
	}
	if kdfOID != nil {
		n += derSize(derSize(derSize(len(kdfOID)))) // [2] { SEQUENCE { [0] { OID } } }
	}
	b := make([]byte, 0, explicitSize(n))
	b = appendHeader(b, tagCtx0Cons, derSize(n))
	b = appendHeader(b, cbasn1.SEQUENCE, n)
	b = appendElement(b, tagCtx0Prim, d.DHSignedData)
	if d.ServerDHNonce != nil {
		b = appendHeader(b, tagCtx1Cons, derSize(len(d.ServerDHNonce)))
		b = appendElement(b, cbasn1.OCTET_STRING, d.ServerDHNonce)
	}
	if kdfOID != nil {
		b = appendHeader(b, cbasn1.Tag(2).ContextSpecific().Constructed(), derSize(derSize(len(kdfOID))))
		b = appendHeader(b, cbasn1.SEQUENCE, derSize(len(kdfOID)))
		b = appendHeader(b, tagCtx0Cons, len(kdfOID))
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
	n := explicitSize(1+len(k.SubjectPublicKey)) + explicitSize(intSize(nonce))
	if !exp.IsZero() {
		n += explicitSize(len(layout))
	}
	b := make([]byte, 0, derSize(n))
	b = appendHeader(b, cbasn1.SEQUENCE, n)
	b = appendHeader(b, tagCtx0Cons, derSize(1+len(k.SubjectPublicKey)))
	b = appendHeader(b, cbasn1.BIT_STRING, 1+len(k.SubjectPublicKey))
	b = append(b, 0) // no unused bits: the value is whole octets
	b = append(b, k.SubjectPublicKey...)
	b = appendHeader(b, tagCtx1Cons, derSize(intSize(nonce)))
	b = appendInt(b, nonce)
	if !exp.IsZero() {
		b = appendHeader(b, cbasn1.Tag(2).ContextSpecific().Constructed(), derSize(len(layout)))
		b = appendHeader(b, cbasn1.GeneralizedTime, len(layout))
		b = exp.AppendFormat(b, layout)
	}
	return b, nil
}

// Marshal returns the DER encoding.
func (r *ReplyKeyPack) Marshal() ([]byte, error) {
	key := typedValueSize(r.ReplyKey.KeyType, r.ReplyKey.KeyValue)
	sum := typedValueSize(r.ASChecksum.CksumType, r.ASChecksum.Checksum)
	n := derSize(key) + derSize(sum)
	b := make([]byte, 0, derSize(n))
	b = appendHeader(b, cbasn1.SEQUENCE, n)
	b = appendHeader(b, tagCtx0Cons, key)
	b = appendTypedValue(b, r.ReplyKey.KeyType, r.ReplyKey.KeyValue)
	b = appendHeader(b, tagCtx1Cons, sum)
	return appendTypedValue(b, r.ASChecksum.CksumType, r.ASChecksum.Checksum), nil
}

// typedValueSize is the size of SEQUENCE { [0] Int32, [1] OCTET STRING },
// the shape of an EncryptionKey and of a Checksum (RFC 4120 §5.2.9).
func typedValueSize(t int32, v []byte) int {
	return derSize(explicitSize(intSize(int64(t))) + explicitSize(len(v)))
}

func appendTypedValue(b []byte, t int32, v []byte) []byte {
	b = appendHeader(b, cbasn1.SEQUENCE, explicitSize(intSize(int64(t)))+explicitSize(len(v)))
	b = appendHeader(b, tagCtx0Cons, derSize(intSize(int64(t))))
	b = appendInt(b, int64(t))
	b = appendHeader(b, tagCtx1Cons, derSize(len(v)))
	return appendElement(b, cbasn1.OCTET_STRING, v)
}
