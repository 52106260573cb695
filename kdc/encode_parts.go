package kdc

import (
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The two secret parts of every reply, EncTicketPart and EncKDCRepPart, are
// encoded here with cryptobyte rather than by gokrb5's reflection-based
// asn1.Marshal, which was the largest non-crypto item of the KDC's profile.
// Both write exactly the DER asn1.Marshal writes for encTicketPart and
// encKDCRepPart, application tag included (TestEncodeEncTicketPartMatchesGokrb5,
// TestEncodeEncKDCRepPartMatchesGokrb5), and gokrb5's decoders read them back.
// The optional fields are left out as asn1.Marshal leaves them out: a zero
// time, a nil slice.

// marshalEncTicketPart encodes EncTicketPart ::= [APPLICATION 3] SEQUENCE, RFC 4120 §5.3.
func marshalEncTicketPart(p encTicketPart) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 256+authDataSize(p.AuthorizationData)))
	b.AddASN1(cbasn1.Tag(asnAppTag.EncTicketPart).Constructed()|0x40, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { addBitString(b, p.Flags) })
			explicit(b, 1, func(b *cryptobyte.Builder) { addEncryptionKey(b, p.Key) })
			explicit(b, 2, func(b *cryptobyte.Builder) { addGeneralString(b, p.CRealm) })
			explicit(b, 3, func(b *cryptobyte.Builder) { addPrincipalName(b, p.CName) })
			explicit(b, 4, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(p.Transited.TRType)) })
					explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1OctetString(p.Transited.Contents) })
				})
			})
			addTime(b, 5, p.AuthTime, false)
			addTime(b, 6, p.StartTime, true)
			addTime(b, 7, p.EndTime, false)
			addTime(b, 8, p.RenewTill, true)
			if p.CAddr != nil {
				explicit(b, 9, func(b *cryptobyte.Builder) { addHostAddresses(b, p.CAddr) })
			}
			if p.AuthorizationData != nil {
				explicit(b, 10, func(b *cryptobyte.Builder) { addAuthorizationData(b, p.AuthorizationData) })
			}
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode EncTicketPart: %w", err)
	}
	return out, nil
}

// marshalEncKDCRepPart encodes EncKDCRepPart, RFC 4120 §5.4.2, under the
// application tag of an AS-REP (25) or a TGS-REP (26).
func marshalEncKDCRepPart(p encKDCRepPart, appTag int) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 256+paDataSize(p.EncPAData)))
	b.AddASN1(cbasn1.Tag(appTag).Constructed()|0x40, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { addEncryptionKey(b, p.Key) })
			explicit(b, 1, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, lr := range p.LastReqs {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(lr.LRType)) })
							addTime(b, 1, lr.LRValue, false)
						})
					}
				})
			})
			explicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(p.Nonce)) })
			addTime(b, 3, p.KeyExpiration, true)
			explicit(b, 4, func(b *cryptobyte.Builder) { addBitString(b, p.Flags) })
			addTime(b, 5, p.AuthTime, false)
			addTime(b, 6, p.StartTime, true)
			addTime(b, 7, p.EndTime, false)
			addTime(b, 8, p.RenewTill, true)
			explicit(b, 9, func(b *cryptobyte.Builder) { addGeneralString(b, p.SRealm) })
			explicit(b, 10, func(b *cryptobyte.Builder) { addPrincipalName(b, p.SName) })
			if p.CAddr != nil {
				explicit(b, 11, func(b *cryptobyte.Builder) { addHostAddresses(b, p.CAddr) })
			}
			if p.EncPAData != nil {
				explicit(b, 12, func(b *cryptobyte.Builder) { addPAData(b, p.EncPAData) })
			}
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode EncKDCRepPart: %w", err)
	}
	return out, nil
}

func authDataSize(ad types.AuthorizationData) int {
	n := 0
	for _, e := range ad {
		n += 16 + len(e.ADData)
	}
	return n
}

// addBitString writes a BIT STRING as asn1.Marshal does: the unused bits
// of the last byte, then the bytes.
func addBitString(b *cryptobyte.Builder, f asn1.BitString) {
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(uint8((8 - f.BitLength%8) % 8))
		b.AddBytes(f.Bytes)
	})
}

// EncryptionKey ::= SEQUENCE { keytype [0] Int32, keyvalue [1] OCTET STRING }
func addEncryptionKey(b *cryptobyte.Builder, k types.EncryptionKey) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(k.KeyType)) })
		explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1OctetString(k.KeyValue) })
	})
}

// addTime writes KerberosTime (GeneralizedTime, "YYYYMMDDHHMMSSZ") under
// [n]; optional, a zero time is left out. A year outside 0–9999 fails, as
// asn1.Marshal fails.
func addTime(b *cryptobyte.Builder, n int, t time.Time, optional bool) {
	if optional && t.IsZero() {
		return
	}
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		b.SetError(fmt.Errorf("time %v cannot be a GeneralizedTime", t))
		return
	}
	explicit(b, n, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
			var buf [15]byte
			b.AddBytes(t.AppendFormat(buf[:0], "20060102150405Z"))
		})
	})
}

// HostAddresses ::= SEQUENCE OF SEQUENCE { addr-type [0] Int32, address [1] OCTET STRING }
func addHostAddresses(b *cryptobyte.Builder, as types.HostAddresses) {
	addTypedValues(b, as, 0, 1, func(a types.HostAddress) (int32, []byte) { return a.AddrType, a.Address })
}

// AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type [0] Int32, ad-data [1] OCTET STRING }
func addAuthorizationData(b *cryptobyte.Builder, ad types.AuthorizationData) {
	addTypedValues(b, ad, 0, 1, func(e types.AuthorizationDataEntry) (int32, []byte) { return e.ADType, e.ADData })
}

// addTypedValues writes the shape RFC 4120 repeats: SEQUENCE OF SEQUENCE
// { type [t] Int32, value [v] OCTET STRING } (HostAddresses,
// AuthorizationData, and PA-DATA with tags 1 and 2).
func addTypedValues[T any](b *cryptobyte.Builder, items []T, t, v int, parts func(T) (int32, []byte)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, it := range items {
			typ, value := parts(it)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				explicit(b, t, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(typ)) })
				explicit(b, v, func(b *cryptobyte.Builder) { b.AddASN1OctetString(value) })
			})
		}
	})
}
