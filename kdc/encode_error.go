package kdc

import (
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/der"
)

// KRB-ERROR, which answers every first AS-REQ (PREAUTH_REQUIRED), and the
// METHOD-DATA it carries are encoded here with internal/der rather than by
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
	b := der.NewBuilder(make([]byte, 0, 160+len(e.EText)+len(e.EData)))
	b.Open(der.Application(asnAppTag.KRBError))
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(e.PVNO))
	explicitInt(b, 1, int64(e.MsgType))
	if e.CTime != (time.Time{}) {
		explicitZonedTime(b, 2, e.CTime)
	}
	if e.Cusec != 0 {
		explicitInt(b, 3, int64(e.Cusec))
	}
	explicitZonedTime(b, 4, e.STime)
	explicitInt(b, 5, int64(e.Susec))
	explicitInt(b, 6, int64(e.ErrorCode))
	if e.CRealm != "" {
		explicitString(b, 7, e.CRealm)
	}
	if e.CName.NameType != 0 || e.CName.NameString != nil {
		explicit(b, 8, addPrincipalName, e.CName)
	}
	explicitString(b, 9, e.Realm)
	explicit(b, 10, addPrincipalName, e.SName)
	if e.EText != "" {
		explicitString(b, 11, e.EText)
	}
	if e.EData != nil {
		explicitOctets(b, 12, e.EData)
	}
	b.Close()
	b.Close()
	return encoded(b, "KRB-ERROR")
}

// explicitZonedTime writes [n] GeneralizedTime as gokrb5's asn1 writes one:
// in t's own zone, with "Z" for an offset under a minute and ±hhmm for any
// other. krbError's times are UTC, and come out as KerberosTime
// ("YYYYMMDDHHMMSSZ", RFC 4120 §5.2.3).
func explicitZonedTime(b *der.Builder, n int, t time.Time) {
	if t.Year() < 0 || t.Year() > 9999 {
		b.SetError(fmt.Errorf("time %v cannot be a GeneralizedTime", t))
		return
	}
	var buf [19]byte
	layout := "20060102150405-0700"
	if _, offset := t.Zone(); offset/60 == 0 {
		layout = "20060102150405Z"
	}
	b.Open(der.Explicit(n))
	b.Add(der.GeneralizedTime, t.AppendFormat(buf[:0], layout))
	b.Close()
}

// marshalMethodData encodes METHOD-DATA ::= SEQUENCE OF PA-DATA, RFC 4120
// §5.9.1, the e-data of KDC_ERR_PREAUTH_REQUIRED.
func marshalMethodData(md types.PADataSequence) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 16+paDataSize(md)))
	addPAData(b, md)
	return encoded(b, "METHOD-DATA")
}
