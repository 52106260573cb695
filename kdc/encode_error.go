package kdc

import (
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// KRB-ERROR, which answers every first AS-REQ (PREAUTH_REQUIRED), and the
// METHOD-DATA it carries are encoded here with cryptobyte rather than by
// gokrb5's reflection-based Marshal. Both write exactly the DER gokrb5
// writes for the same values (TestMarshalKRBErrorMatchesGokrb5,
// TestMarshalMethodDataMatchesGokrb5), including its choices where the DER
// could differ: an OPTIONAL field is left out when it equals its Go zero
// value (so an empty but non-nil e-data is sent, and a nil one is not),
// strings are written as the bytes they hold, and a time keeps its zone.

// marshalKRBError encodes KRB-ERROR ::= [APPLICATION 30] SEQUENCE, RFC 4120
// §5.9.1. Like gokrb5, it fails only on a time outside the years 0–9999;
// any bytes are taken as a GeneralString.
func marshalKRBError(e *messages.KRBError) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 160+len(e.EText)+len(e.EData)))
	b.AddASN1(cbasn1.Tag(asnAppTag.KRBError).Constructed()|0x40, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.PVNO)) })
			explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.MsgType)) })
			if e.CTime != (time.Time{}) {
				explicit(b, 2, func(b *cryptobyte.Builder) { addZonedTime(b, e.CTime) })
			}
			if e.Cusec != 0 {
				explicit(b, 3, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.Cusec)) })
			}
			explicit(b, 4, func(b *cryptobyte.Builder) { addZonedTime(b, e.STime) })
			explicit(b, 5, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.Susec)) })
			explicit(b, 6, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.ErrorCode)) })
			if e.CRealm != "" {
				explicit(b, 7, func(b *cryptobyte.Builder) { addGeneralString(b, e.CRealm) })
			}
			if e.CName.NameType != 0 || e.CName.NameString != nil {
				explicit(b, 8, func(b *cryptobyte.Builder) { addPrincipalName(b, e.CName) })
			}
			explicit(b, 9, func(b *cryptobyte.Builder) { addGeneralString(b, e.Realm) })
			explicit(b, 10, func(b *cryptobyte.Builder) { addPrincipalName(b, e.SName) })
			if e.EText != "" {
				explicit(b, 11, func(b *cryptobyte.Builder) { addGeneralString(b, e.EText) })
			}
			if e.EData != nil {
				explicit(b, 12, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.EData) })
			}
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode KRB-ERROR: %w", err)
	}
	return out, nil
}

// addZonedTime writes a GeneralizedTime as gokrb5's asn1 writes one: in
// t's own zone, with "Z" for an offset under a minute and ±hhmm for any
// other. krbError's times are UTC, and come out as KerberosTime
// ("YYYYMMDDHHMMSSZ", RFC 4120 §5.2.3).
func addZonedTime(b *cryptobyte.Builder, t time.Time) {
	if t.Year() < 0 || t.Year() > 9999 {
		b.SetError(fmt.Errorf("time %v cannot be a GeneralizedTime", t))
		return
	}
	b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
		var buf [19]byte
		if _, offset := t.Zone(); offset/60 == 0 {
			b.AddBytes(t.AppendFormat(buf[:0], "20060102150405Z"))
		} else {
			b.AddBytes(t.AppendFormat(buf[:0], "20060102150405-0700"))
		}
	})
}

// marshalMethodData encodes METHOD-DATA ::= SEQUENCE OF PA-DATA, RFC 4120
// §5.9.1, the e-data of KDC_ERR_PREAUTH_REQUIRED.
func marshalMethodData(md types.PADataSequence) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 16+paDataSize(md)))
	addPAData(b, md)
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode METHOD-DATA: %w", err)
	}
	return out, nil
}
