package kdc

import (
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/der"
)

// The two secret parts of every reply, EncTicketPart and EncKDCRepPart, are
// encoded here with internal/der rather than by gokrb5's reflection-based
// asn1.Marshal, which was the largest non-crypto item of the KDC's profile.
// Both write exactly the DER asn1.Marshal writes for encTicketPart and
// encKDCRepPart, application tag included (TestEncodeEncTicketPartMatchesGokrb5,
// TestEncodeEncKDCRepPartMatchesGokrb5), and gokrb5's decoders read them back.
// The optional fields are left out as asn1.Marshal leaves them out: a zero
// time, a nil slice.

// marshalEncTicketPart encodes EncTicketPart ::= [APPLICATION 3] SEQUENCE, RFC 4120 §5.3.
func marshalEncTicketPart(p encTicketPart) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 256+authDataSize(p.AuthorizationData)))
	b.Open(der.Application(asnAppTag.EncTicketPart))
	b.Open(der.Sequence)
	explicit(b, 0, addBitString, p.Flags)
	explicit(b, 1, addEncryptionKey, p.Key)
	explicitString(b, 2, p.CRealm)
	explicit(b, 3, addPrincipalName, p.CName)
	explicit(b, 4, addTransitedEncoding, p.Transited)
	addTicketTimes(b, p.AuthTime, p.StartTime, p.EndTime, p.RenewTill)
	if p.CAddr != nil {
		explicit(b, 9, addHostAddresses, p.CAddr)
	}
	if p.AuthorizationData != nil {
		explicit(b, 10, addAuthorizationData, p.AuthorizationData)
	}
	b.Close()
	b.Close()
	return encoded(b, "EncTicketPart")
}

// marshalEncKDCRepPart encodes EncKDCRepPart, RFC 4120 §5.4.2, under the
// application tag of an AS-REP (25) or a TGS-REP (26).
func marshalEncKDCRepPart(p encKDCRepPart, appTag int) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 256+paDataSize(p.EncPAData)))
	b.Open(der.Application(appTag))
	b.Open(der.Sequence)
	explicit(b, 0, addEncryptionKey, p.Key)
	explicit(b, 1, addLastReq, p.LastReqs)
	explicitInt(b, 2, int64(p.Nonce))
	addTime(b, 3, p.KeyExpiration, true)
	explicit(b, 4, addBitString, p.Flags)
	addTicketTimes(b, p.AuthTime, p.StartTime, p.EndTime, p.RenewTill)
	explicitString(b, 9, p.SRealm)
	explicit(b, 10, addPrincipalName, p.SName)
	if p.CAddr != nil {
		explicit(b, 11, addHostAddresses, p.CAddr)
	}
	if p.EncPAData != nil {
		explicit(b, 12, addPAData, p.EncPAData)
	}
	b.Close()
	b.Close()
	return encoded(b, "EncKDCRepPart")
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
func addBitString(b *der.Builder, f asn1.BitString) {
	b.Open(der.BitString)
	b.AddByte(byte((8 - f.BitLength%8) % 8))
	b.AddBytes(f.Bytes)
	b.Close()
}

// EncryptionKey ::= SEQUENCE { keytype [0] Int32, keyvalue [1] OCTET STRING }
func addEncryptionKey(b *der.Builder, k types.EncryptionKey) {
	addTypedValue(b, 0, 1, k.KeyType, k.KeyValue)
}

// TransitedEncoding ::= SEQUENCE { tr-type [0] Int32, contents [1] OCTET STRING }
func addTransitedEncoding(b *der.Builder, t messages.TransitedEncoding) {
	addTypedValue(b, 0, 1, t.TRType, t.Contents)
}

// LastReq ::= SEQUENCE OF SEQUENCE { lr-type [0] Int32, lr-value [1] KerberosTime }
func addLastReq(b *der.Builder, lrs []messages.LastReq) {
	b.Open(der.Sequence)
	for _, lr := range lrs {
		b.Open(der.Sequence)
		explicitInt(b, 0, int64(lr.LRType))
		addTime(b, 1, lr.LRValue, false)
		b.Close()
	}
	b.Close()
}

// addTime writes KerberosTime (GeneralizedTime, "YYYYMMDDHHMMSSZ") under
// [n]; optional, a zero time is left out. A year outside 0–9999 fails, as
// asn1.Marshal fails.
func addTime(b *der.Builder, n int, t time.Time, optional bool) {
	if optional && t.IsZero() {
		return
	}
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		b.SetError(fmt.Errorf("time %v cannot be a GeneralizedTime", t))
		return
	}
	var buf [15]byte
	b.Open(der.Explicit(n))
	b.Add(der.GeneralizedTime, t.AppendFormat(buf[:0], "20060102150405Z"))
	b.Close()
}

// addTicketTimes writes authtime [5], starttime [6] OPTIONAL, endtime [7]
// and renew-till [8] OPTIONAL, which EncTicketPart and EncKDCRepPart both
// carry under these tags.
func addTicketTimes(b *der.Builder, auth, start, end, renew time.Time) {
	addTime(b, 5, auth, false)
	addTime(b, 6, start, true)
	addTime(b, 7, end, false)
	addTime(b, 8, renew, true)
}

// HostAddresses ::= SEQUENCE OF SEQUENCE { addr-type [0] Int32, address [1] OCTET STRING }
func addHostAddresses(b *der.Builder, as types.HostAddresses) {
	addTypedValues(b, as, 0, 1, func(a types.HostAddress) (int32, []byte) { return a.AddrType, a.Address })
}

// AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type [0] Int32, ad-data [1] OCTET STRING }
func addAuthorizationData(b *der.Builder, ad types.AuthorizationData) {
	addTypedValues(b, ad, 0, 1, func(e types.AuthorizationDataEntry) (int32, []byte) { return e.ADType, e.ADData })
}

// addTypedValues writes the shape RFC 4120 repeats: SEQUENCE OF SEQUENCE
// { type [t] Int32, value [v] OCTET STRING } (HostAddresses,
// AuthorizationData, and PA-DATA with tags 1 and 2).
func addTypedValues[T any](b *der.Builder, items []T, t, v int, parts func(T) (int32, []byte)) {
	b.Open(der.Sequence)
	for _, it := range items {
		typ, value := parts(it)
		addTypedValue(b, t, v, typ, value)
	}
	b.Close()
}

// addTypedValue writes SEQUENCE { type [t] Int32, value [v] OCTET STRING },
// the element of addTypedValues and the shape of EncryptionKey and
// TransitedEncoding.
func addTypedValue(b *der.Builder, t, v int, typ int32, value []byte) {
	b.Open(der.Sequence)
	explicitInt(b, t, int64(typ))
	explicitOctets(b, v, value)
	b.Close()
}
