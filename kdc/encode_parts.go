package kdc

import (
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
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
	b.Open(der.Explicit(0))
	addBitString(b, p.Flags)
	b.Close()
	b.Open(der.Explicit(1))
	addEncryptionKey(b, p.Key)
	b.Close()
	explicitString(b, 2, p.CRealm)
	b.Open(der.Explicit(3))
	addPrincipalName(b, p.CName)
	b.Close()
	b.Open(der.Explicit(4))
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(p.Transited.TRType))
	explicitOctets(b, 1, p.Transited.Contents)
	b.Close()
	b.Close()
	addTime(b, 5, p.AuthTime, false)
	addTime(b, 6, p.StartTime, true)
	addTime(b, 7, p.EndTime, false)
	addTime(b, 8, p.RenewTill, true)
	if p.CAddr != nil {
		b.Open(der.Explicit(9))
		addHostAddresses(b, p.CAddr)
		b.Close()
	}
	if p.AuthorizationData != nil {
		b.Open(der.Explicit(10))
		addAuthorizationData(b, p.AuthorizationData)
		b.Close()
	}
	b.Close()
	b.Close()
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode EncTicketPart: %w", err)
	}
	return out, nil
}

// marshalEncKDCRepPart encodes EncKDCRepPart, RFC 4120 §5.4.2, under the
// application tag of an AS-REP (25) or a TGS-REP (26).
func marshalEncKDCRepPart(p encKDCRepPart, appTag int) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 256+paDataSize(p.EncPAData)))
	b.Open(der.Application(appTag))
	b.Open(der.Sequence)
	b.Open(der.Explicit(0))
	addEncryptionKey(b, p.Key)
	b.Close()
	b.Open(der.Explicit(1))
	b.Open(der.Sequence)
	for _, lr := range p.LastReqs {
		b.Open(der.Sequence)
		explicitInt(b, 0, int64(lr.LRType))
		addTime(b, 1, lr.LRValue, false)
		b.Close()
	}
	b.Close()
	b.Close()
	explicitInt(b, 2, int64(p.Nonce))
	addTime(b, 3, p.KeyExpiration, true)
	b.Open(der.Explicit(4))
	addBitString(b, p.Flags)
	b.Close()
	addTime(b, 5, p.AuthTime, false)
	addTime(b, 6, p.StartTime, true)
	addTime(b, 7, p.EndTime, false)
	addTime(b, 8, p.RenewTill, true)
	explicitString(b, 9, p.SRealm)
	b.Open(der.Explicit(10))
	addPrincipalName(b, p.SName)
	b.Close()
	if p.CAddr != nil {
		b.Open(der.Explicit(11))
		addHostAddresses(b, p.CAddr)
		b.Close()
	}
	if p.EncPAData != nil {
		b.Open(der.Explicit(12))
		addPAData(b, p.EncPAData)
		b.Close()
	}
	b.Close()
	b.Close()
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
func addBitString(b *der.Builder, f asn1.BitString) {
	b.Open(der.BitString)
	b.AddByte(byte((8 - f.BitLength%8) % 8))
	b.AddBytes(f.Bytes)
	b.Close()
}

// EncryptionKey ::= SEQUENCE { keytype [0] Int32, keyvalue [1] OCTET STRING }
func addEncryptionKey(b *der.Builder, k types.EncryptionKey) {
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(k.KeyType))
	explicitOctets(b, 1, k.KeyValue)
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

// HostAddresses ::= SEQUENCE OF SEQUENCE { addr-type [0] Int32, address [1] OCTET STRING }
func addHostAddresses(b *der.Builder, as types.HostAddresses) {
	b.Open(der.Sequence)
	for _, a := range as {
		addTypedValue(b, 0, a.AddrType, 1, a.Address)
	}
	b.Close()
}

// AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type [0] Int32, ad-data [1] OCTET STRING }
func addAuthorizationData(b *der.Builder, ad types.AuthorizationData) {
	b.Open(der.Sequence)
	for _, e := range ad {
		addTypedValue(b, 0, e.ADType, 1, e.ADData)
	}
	b.Close()
}

// addTypedValue writes the shape RFC 4120 repeats in its SEQUENCE OFs:
// SEQUENCE { type [t] Int32, value [v] OCTET STRING } (HostAddress,
// AuthorizationData's entries, and PA-DATA with tags 1 and 2).
func addTypedValue(b *der.Builder, t int, typ int32, v int, value []byte) {
	b.Open(der.Sequence)
	explicitInt(b, t, int64(typ))
	explicitOctets(b, v, value)
	b.Close()
}
