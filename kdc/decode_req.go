package kdc

import (
	"bytes"
	"errors"
	"math"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A KDC-REQ is decoded here, with cryptobyte, into the gokrb5 structs the
// exchanges use, rather than by gokrb5's reflection-based Unmarshal, which
// took some 90 allocations a request (BenchmarkDecodeKDCReq).
//
// It is a second pass over bytes splitKDCReq has already checked field by
// field, not the same walk: splitKDCReq's checks are a table of generic
// derChecks that name each field for the KRB-ERROR and the audit log, and
// the refusals stay in one place. Reading checked bytes again costs little
// (cryptobyte reads do not allocate), and this pass still checks every
// tag, length and range it reads, so that a disagreement between the two
// is a refusal, never a half-read request.
//
// The result is what messages.ASReq.Unmarshal and messages.TGSReq.Unmarshal
// give for every request splitKDCReq accepts, field for field
// (TestDecodeKDCReqMatchesGokrb5, FuzzDecodeKDCReqMatchesGokrb5): a
// SEQUENCE OF that is present but empty is an empty slice, one that is
// absent is nil, except additional-tickets, which gokrb5 leaves nil when
// empty; a KerberosFlags shorter than four bytes is left-padded to 32
// bits, as gokrb5 pads kdc-options; a time is what time.Parse makes of
// it, as in gokrb5's asn1.
//
// Like gokrb5, which copies every OCTET STRING, nothing decoded aliases
// msg: the values point into one private copy of it, so that what the
// exchange keeps (certificates parsed out of PA-PK-AS-REQ, say) never
// changes under it when a caller of ServeKerberos reuses its buffer.

// errReqDecode is a KDC-REQ that splitKDCReq passed but that does not
// decode here: the two disagree, and the request is refused.
var errReqDecode = errors.New("kdc: KDC-REQ does not decode")

// decodeKDCReq decodes the AS-REQ (msgTag tagASReq) or TGS-REQ (tagTGSReq)
// msg, which splitKDCReq has accepted.
func decodeKDCReq(msg []byte, msgTag int) (messages.KDCReqFields, error) {
	var f messages.KDCReqFields
	in := cryptobyte.String(bytes.Clone(msg))
	var app, s cryptobyte.String
	if !in.ReadASN1(&app, cbasn1.Tag(msgTag).Constructed()|0x40) || !in.Empty() ||
		!app.ReadASN1(&s, cbasn1.SEQUENCE) || !app.Empty() {
		return f, errReqDecode
	}
	ok := decodeField(&s, 1, decodeInt, &f.PVNO) &&
		decodeField(&s, 2, decodeInt, &f.MsgType) && f.MsgType == msgTag &&
		decodeOptional(&s, 3, decodePADataSequence, &f.PAData) &&
		decodeField(&s, 4, decodeKDCReqBody, &f.ReqBody) &&
		s.Empty()
	if !ok {
		return messages.KDCReqFields{}, errReqDecode
	}
	return f, nil
}

// decodeKDCReqBody reads KDC-REQ-BODY, RFC 4120 §5.4.1.
func decodeKDCReqBody(in cryptobyte.String, b *messages.KDCReqBody) bool {
	var s cryptobyte.String
	ok := in.ReadASN1(&s, cbasn1.SEQUENCE) && in.Empty() &&
		decodeField(&s, 0, decodeFlags, &b.KDCOptions) &&
		decodeOptional(&s, 1, decodePrincipalName, &b.CName) &&
		decodeField(&s, 2, decodeString, &b.Realm) &&
		decodeOptional(&s, 3, decodePrincipalName, &b.SName) &&
		decodeOptional(&s, 4, decodeTime, &b.From) &&
		decodeField(&s, 5, decodeTime, &b.Till) &&
		decodeOptional(&s, 6, decodeTime, &b.RTime) &&
		decodeField(&s, 7, decodeInt, &b.Nonce) &&
		decodeField(&s, 8, decodeETypes, &b.EType) &&
		decodeOptional(&s, 9, decodeHostAddresses, &b.Addresses) &&
		decodeOptional(&s, 10, decodeEncryptedData, &b.EncAuthData) &&
		decodeOptional(&s, 11, decodeTickets, &b.AdditionalTickets) &&
		s.Empty()
	if !ok {
		return false
	}
	// gokrb5 widens kdc-options to 32 bits by adding zero bytes in front.
	if o := &b.KDCOptions; len(o.Bytes) < 4 {
		o.Bytes = append(make([]byte, 4-len(o.Bytes), 4), o.Bytes...)
		o.BitLength = 32
	}
	return true
}

// A decoder reads in, exactly one element, into out. The element is passed
// by value so that it stays on the stack behind the indirect call.
type decoder[T any] func(in cryptobyte.String, out *T) bool

// decodeField reads [n] EXPLICIT around exactly one element.
func decodeField[T any](s *cryptobyte.String, n int, dec decoder[T], out *T) bool {
	var v cryptobyte.String
	return s.ReadASN1(&v, cbasn1.Tag(n).Constructed().ContextSpecific()) && dec(v, out)
}

// decodeOptional is decodeField for an OPTIONAL field: out is left alone
// when the field is absent.
func decodeOptional[T any](s *cryptobyte.String, n int, dec decoder[T], out *T) bool {
	if !s.PeekASN1Tag(cbasn1.Tag(n).Constructed().ContextSpecific()) {
		return true
	}
	return decodeField(s, n, dec, out)
}

// decodeSequenceOf reads a SEQUENCE OF into a slice that is not nil even
// when empty, as gokrb5 makes it.
func decodeSequenceOf[T any](in cryptobyte.String, out *[]T, dec decoder[T]) bool {
	var s cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !in.Empty() {
		return false
	}
	var e cryptobyte.String
	var tag cbasn1.Tag
	n := 0
	for rest := s; !rest.Empty(); n++ {
		if !rest.ReadAnyASN1Element(&e, &tag) {
			return false
		}
	}
	items := make([]T, n)
	for i := range items {
		if !s.ReadAnyASN1Element(&e, &tag) || !dec(e, &items[i]) {
			return false
		}
	}
	*out = items
	return true
}

// decodeInt reads an INTEGER into a Go int, which gokrb5's asn1 reads as
// 64 bits, or as 32 where an int has 32.
func decodeInt(in cryptobyte.String, out *int) bool {
	var n int64
	if !in.ReadASN1Integer(&n) || !in.Empty() || int64(int(n)) != n {
		return false
	}
	*out = int(n)
	return true
}

// decodeInt32 reads Int32 ::= INTEGER (-2147483648..2147483647).
func decodeInt32(in cryptobyte.String, out *int32) bool {
	var n int64
	if !in.ReadASN1Integer(&n) || !in.Empty() || n < math.MinInt32 || n > math.MaxInt32 {
		return false
	}
	*out = int32(n)
	return true
}

// decodeString reads KerberosString ::= GeneralString, RFC 4120 §5.2.1,
// as 8-bit bytes, unchecked, as gokrb5 reads it.
func decodeString(in cryptobyte.String, out *string) bool {
	var s cryptobyte.String
	if !in.ReadASN1(&s, generalString) || !in.Empty() {
		return false
	}
	*out = string(s)
	return true
}

// decodeOctets reads an OCTET STRING; empty, it is not nil.
func decodeOctets(in cryptobyte.String, out *[]byte) bool {
	var s cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.OCTET_STRING) || !in.Empty() {
		return false
	}
	*out = s[:len(s):len(s)]
	if *out == nil {
		*out = []byte{}
	}
	return true
}

// decodeTime reads KerberosTime ::= GeneralizedTime, "YYYYMMDDHHMMSSZ"
// (RFC 4120 §5.2.3). gokrb5's asn1 takes what time.Parse takes and prints
// back to the bytes received; for fourteen digits and a Z that is what
// time.Date makes of them when they print back, without the two strings
// time.Parse and Format would allocate.
func decodeTime(in cryptobyte.String, out *time.Time) bool {
	var s cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.GeneralizedTime) || !in.Empty() || len(s) != 15 || s[14] != 'Z' {
		return false
	}
	var d [6]int // year, month, day, hour, minute, second
	for i, c := range s[:14] {
		if c < '0' || c > '9' {
			return false
		}
		f := max(0, (i-2)/2) // the year has four digits, the rest two
		d[f] = d[f]*10 + int(c-'0')
	}
	t := time.Date(d[0], time.Month(d[1]), d[2], d[3], d[4], d[5], 0, time.UTC)
	var buf [15]byte
	if !bytes.Equal(t.AppendFormat(buf[:0], "20060102150405Z"), s) {
		return false
	}
	*out = t
	return true
}

// decodeFlags reads KerberosFlags ::= BIT STRING, RFC 4120 §5.2.8, with
// DER's rules for the unused bits.
func decodeFlags(in cryptobyte.String, out *asn1.BitString) bool {
	var s cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.BIT_STRING) || !in.Empty() || len(s) == 0 {
		return false
	}
	pad := s[0]
	if pad > 7 || len(s) == 1 && pad > 0 || s[len(s)-1]&(1<<pad-1) != 0 {
		return false
	}
	*out = asn1.BitString{Bytes: s[1:len(s):len(s)], BitLength: (len(s)-1)*8 - int(pad)}
	return true
}

// decodeETypes reads etype [8] SEQUENCE OF Int32.
func decodeETypes(in cryptobyte.String, out *[]int32) bool {
	return decodeSequenceOf(in, out, decodeInt32)
}

// decodePrincipalName reads PrincipalName, RFC 4120 §5.2.2.
func decodePrincipalName(in cryptobyte.String, p *types.PrincipalName) bool {
	var s cryptobyte.String
	return in.ReadASN1(&s, cbasn1.SEQUENCE) && in.Empty() &&
		decodeField(&s, 0, decodeInt32, &p.NameType) &&
		decodeField(&s, 1, decodeNameStrings, &p.NameString) &&
		s.Empty()
}

func decodeNameStrings(in cryptobyte.String, out *[]string) bool {
	return decodeSequenceOf(in, out, decodeString)
}

// decodeEncryptedData reads EncryptedData, RFC 4120 §5.2.9.
func decodeEncryptedData(in cryptobyte.String, e *types.EncryptedData) bool {
	var s cryptobyte.String
	return in.ReadASN1(&s, cbasn1.SEQUENCE) && in.Empty() &&
		decodeField(&s, 0, decodeInt32, &e.EType) &&
		decodeOptional(&s, 1, decodeInt, &e.KVNO) &&
		decodeField(&s, 2, decodeOctets, &e.Cipher) &&
		s.Empty()
}

// decodeHostAddresses reads HostAddresses, RFC 4120 §5.2.5.
func decodeHostAddresses(in cryptobyte.String, out *[]types.HostAddress) bool {
	return decodeSequenceOf(in, out, func(in cryptobyte.String, a *types.HostAddress) bool {
		var s cryptobyte.String
		return in.ReadASN1(&s, cbasn1.SEQUENCE) && in.Empty() &&
			decodeField(&s, 0, decodeInt32, &a.AddrType) &&
			decodeField(&s, 1, decodeOctets, &a.Address) &&
			s.Empty()
	})
}

// decodePADataSequence reads SEQUENCE OF PA-DATA, RFC 4120 §5.2.7.
func decodePADataSequence(in cryptobyte.String, out *types.PADataSequence) bool {
	return decodeSequenceOf(in, (*[]types.PAData)(out), func(in cryptobyte.String, pa *types.PAData) bool {
		var s cryptobyte.String
		return in.ReadASN1(&s, cbasn1.SEQUENCE) && in.Empty() &&
			decodeField(&s, 1, decodeInt32, &pa.PADataType) &&
			decodeField(&s, 2, decodeOctets, &pa.PADataValue) &&
			s.Empty()
	})
}

// decodeTickets reads additional-tickets, SEQUENCE OF Ticket. gokrb5
// leaves the field nil when the SEQUENCE is empty.
func decodeTickets(in cryptobyte.String, out *[]messages.Ticket) bool {
	if !decodeSequenceOf(in, out, decodeTicket) {
		return false
	}
	if len(*out) == 0 {
		*out = nil
	}
	return true
}

// decodeTicket reads Ticket ::= [APPLICATION 1] SEQUENCE, RFC 4120 §5.3.
func decodeTicket(in cryptobyte.String, t *messages.Ticket) bool {
	var app, s cryptobyte.String
	return in.ReadASN1(&app, cbasn1.Tag(tagTicket).Constructed()|0x40) && in.Empty() &&
		app.ReadASN1(&s, cbasn1.SEQUENCE) && app.Empty() &&
		decodeField(&s, 0, decodeInt, &t.TktVNO) &&
		decodeField(&s, 1, decodeString, &t.Realm) &&
		decodeField(&s, 2, decodePrincipalName, &t.SName) &&
		decodeField(&s, 3, decodeEncryptedData, &t.EncPart) &&
		s.Empty()
}
