package kdc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/krberror"
)

// Application tags of the messages a KDC receives (RFC 4120 §5.10).
const (
	tagASReq  = 10
	tagTGSReq = 12
	tagTicket = 1
	tagAPReq  = 14
)

// Bounds on what one KDC-REQ may hold: far above what MIT, Heimdal or
// Windows send, low enough that a hostile request cannot make gokrb5
// allocate much.
const (
	maxPAData         = 32
	maxETypes         = 64
	maxAddresses      = 64
	maxAddressLen     = 255
	maxNameComponents = 16
	maxStringLen      = 1024 // a realm or a name component
	maxFlagBytes      = 16   // KerberosFlags: RFC 4120 uses 32 bits
	maxTickets        = 8
)

// errNotKDCReq is a message that does not even claim to be an AS-REQ or a
// TGS-REQ: noise, a reply, a KRB-ERROR. It gets no answer.
var errNotKDCReq = errors.New("kdc: not a KDC-REQ")

// malformedError is a message framed as a KDC-REQ (its outer tag and length
// are right) with a field that does not decode. The client is answered with
// code, and the attempt is audited.
type malformedError struct {
	code  krberror.Code
	field string // its path: "KDC-REQ.req-body.additional-tickets"
	why   string
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("kdc: malformed KDC-REQ: %s: %s", e.field, e.why)
}

func malformed(field, format string, args ...any) error {
	return &malformedError{code: krberror.Generic, field: field, why: fmt.Sprintf(format, args...)}
}

// rawKDCReq is a KDC-REQ split into its parts as received: checksums and
// PKINIT signatures are over these bytes, never over a re-encoding.
type rawKDCReq struct {
	msgTag  int    // tagASReq or tagTGSReq; 0 when not a KDC-REQ
	reqBody []byte // the DER KDC-REQ-BODY, complete with its SEQUENCE header
}

// kind names the request for the audit log.
func (r rawKDCReq) kind() string {
	if r.msgTag == tagTGSReq {
		return "TGS"
	}
	return "AS"
}

// splitKDCReq checks that msg is a well-formed KDC-REQ (RFC 4120 §5.4.1),
// every field gokrb5 will later parse included, and returns req-body's
// bytes. gokrb5 indexes bytes it never checked (a one-byte
// additional-tickets panics it), so it must only ever see what passed here.
//
// The error is errNotKDCReq for a message that is no KDC-REQ at all, or a
// *malformedError for one whose fields are wrong. Trailing data anywhere is
// refused; so is a field out of order or unknown.
func splitKDCReq(msg []byte) (rawKDCReq, error) {
	var r rawKDCReq
	in := cryptobyte.String(msg)
	var app cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&app, &tag) || !in.Empty() {
		return r, errNotKDCReq
	}
	switch tag {
	case cbasn1.Tag(tagASReq).Constructed() | 0x40: // [APPLICATION 10]
		r.msgTag = tagASReq
	case cbasn1.Tag(tagTGSReq).Constructed() | 0x40:
		r.msgTag = tagTGSReq
	default:
		return r, errNotKDCReq
	}
	err := checkSequence(app, []derField{
		{1, "pvno", false, exactly(5, krberror.BadPVNO)},
		{2, "msg-type", false, exactly(int64(r.msgTag), krberror.APMsgType)},
		{3, "padata", true, seqOf(maxPAData, checkPAData(r.msgTag == tagTGSReq))},
		{4, "req-body", false, func(v cryptobyte.String) error {
			// Kept even if malformed: the KRB-ERROR names the server asked for.
			r.reqBody = v
			return checkKDCReqBody(v)
		}},
	})
	return r, within(err, "KDC-REQ")
}

// refuseUndecoded answers a message splitKDCReq refused. Noise, replies and
// KRB-ERRORs get nothing and leave no record: answering them is what let one
// spoofed datagram start a loop between two KDCs, or a KDC and itself. A
// KDC-REQ with a malformed field is the client's fault: it gets a KRB-ERROR
// naming the field and an audit line, and the KDC's log stays quiet.
func (k *KDC) refuseUndecoded(rec *AuditRecord, raw rawKDCReq, err error, start time.Time) []byte {
	var m *malformedError
	if !errors.As(err, &m) {
		return nil
	}
	r := reject(m.code, nil, "malformed %s-REQ: %s: %s", raw.kind(), m.field, m.why)
	rec.Type = raw.kind()
	rec.Result, rec.Code, rec.Reason = r.code.Name(), r.code, r.reason
	rec.DurationMS = float64(k.now().Sub(start).Microseconds()) / 1000
	k.audit.write(rec)
	return krbError(k.realm, readReqNames(raw.reqBody), r.code, r.reason, nil, k.now())
}

// A derCheck checks one DER element, v, complete with its header. A
// *malformedError it returns names the field within v that is wrong ("" for
// v itself); each level above puts its own name in front (see within), so
// that a request that passes costs no path strings.
type derCheck func(v cryptobyte.String) error

// within puts field in front of the path of err, when it is a
// *malformedError: ".req-body", "[2]", "KDC-REQ".
func within(err error, field string) error {
	if m, ok := err.(*malformedError); ok {
		m.field = field + m.field
	}
	return err
}

// derField is one [n] EXPLICIT field of a SEQUENCE.
type derField struct {
	n        int
	name     string
	optional bool
	check    derCheck
}

// checkSequence checks that v is a SEQUENCE of the fields fs, each [n]
// EXPLICIT around exactly one element, in the order of fs, every field
// that is not optional present, nothing else.
func checkSequence(v cryptobyte.String, fs []derField) error {
	var seq cryptobyte.String
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
		return malformed("", "not a SEQUENCE")
	}
	i := 0
	for !seq.Empty() {
		var content cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&content, &tag) {
			return malformed("", "a field does not decode")
		}
		for i < len(fs) && tag != cbasn1.Tag(fs[i].n).Constructed().ContextSpecific() {
			if !fs[i].optional {
				return malformed("."+fs[i].name, "missing")
			}
			i++
		}
		if i == len(fs) {
			return malformed("", "unknown or out-of-order field (tag %#x)", uint8(tag))
		}
		var elem cryptobyte.String
		var et cbasn1.Tag
		if !content.ReadAnyASN1Element(&elem, &et) || !content.Empty() {
			return malformed("."+fs[i].name, "not exactly one element")
		}
		if err := fs[i].check(elem); err != nil {
			return within(err, "."+fs[i].name)
		}
		i++
	}
	for ; i < len(fs); i++ {
		if !fs[i].optional {
			return malformed("."+fs[i].name, "missing")
		}
	}
	return nil
}

// seq is a derCheck for a SEQUENCE of fs.
func seq(fs ...derField) derCheck {
	return func(v cryptobyte.String) error { return checkSequence(v, fs) }
}

// seqOf is a derCheck for a SEQUENCE OF at most limit elements, each
// passing elem. More than limit is KRB_ERR_FIELD_TOOLONG.
func seqOf(limit int, elem derCheck) derCheck {
	return func(v cryptobyte.String) error {
		var seq cryptobyte.String
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return malformed("", "not a SEQUENCE OF")
		}
		for i := 0; !seq.Empty(); i++ {
			if i == limit {
				return &malformedError{code: krberror.FieldTooLong, why: fmt.Sprintf("more than %d elements", limit)}
			}
			var e cryptobyte.String
			var tag cbasn1.Tag
			if !seq.ReadAnyASN1Element(&e, &tag) {
				return malformed("", "element %d does not decode", i)
			}
			if err := elem(e); err != nil {
				return within(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	}
}

// appTagged is a derCheck for [APPLICATION n] around one element passing inner.
func appTagged(n int, inner derCheck) derCheck {
	return func(v cryptobyte.String) error {
		var content cryptobyte.String
		if !v.ReadASN1(&content, cbasn1.Tag(n).Constructed()|0x40) || !v.Empty() {
			return malformed("", "not [APPLICATION %d]", n)
		}
		return inner(content)
	}
}

// readInteger reads an INTEGER in [lo, hi], minimally encoded, as gokrb5's
// asn1 demands.
func readInteger(v cryptobyte.String, lo, hi int64, out *int64) error {
	if !v.ReadASN1Integer(out) || !v.Empty() {
		return malformed("", "not an INTEGER of at most 64 bits")
	}
	if *out < lo || *out > hi {
		return malformed("", "%d is out of range", *out)
	}
	return nil
}

// intIn is a derCheck for an INTEGER in [lo, hi].
func intIn(lo, hi int64) derCheck {
	return func(v cryptobyte.String) error {
		var n int64
		return readInteger(v, lo, hi, &n)
	}
}

var (
	int32Value = intIn(math.MinInt32, math.MaxInt32)
	// UInt32 fields are read into Go ints by gokrb5; some clients write
	// them as negative Int32s, which is taken as well.
	uint32Value = intIn(math.MinInt32, math.MaxUint32)
)

// exactly is a derCheck for an INTEGER that must be want; another value is
// refused with code (KDC_ERR_BAD_PVNO for a version, KRB_AP_ERR_MSG_TYPE
// for a message type).
func exactly(want int64, code krberror.Code) derCheck {
	return func(v cryptobyte.String) error {
		var n int64
		if err := readInteger(v, math.MinInt64, math.MaxInt64, &n); err != nil {
			return err
		}
		if n != want {
			return &malformedError{code: code, why: fmt.Sprintf("%d, want %d", n, want)}
		}
		return nil
	}
}

// readOctets reads an OCTET STRING (primitive, as DER has it) of at most
// limit bytes.
func readOctets(v cryptobyte.String, limit int, out *cryptobyte.String) error {
	if !v.ReadASN1(out, cbasn1.OCTET_STRING) || !v.Empty() {
		return malformed("", "not an OCTET STRING")
	}
	if len(*out) > limit {
		return &malformedError{code: krberror.FieldTooLong, why: fmt.Sprintf("longer than %d bytes", limit)}
	}
	return nil
}

// octetsUpTo is a derCheck for an OCTET STRING of at most limit bytes.
func octetsUpTo(limit int) derCheck {
	return func(v cryptobyte.String) error {
		var s cryptobyte.String
		return readOctets(v, limit, &s)
	}
}

// kerberosString is KerberosString ::= GeneralString (RFC 4120 §5.2.1), as
// every implementation writes it.
func kerberosString(v cryptobyte.String) error {
	var s cryptobyte.String
	if !v.ReadASN1(&s, generalString) || !v.Empty() {
		return malformed("", "not a GeneralString")
	}
	if len(s) > maxStringLen {
		return &malformedError{code: krberror.FieldTooLong, why: fmt.Sprintf("longer than %d bytes", maxStringLen)}
	}
	return nil
}

// kerberosTime is KerberosTime ::= GeneralizedTime, "YYYYMMDDHHMMSSZ"
// (RFC 4120 §5.2.3), checked the way gokrb5's asn1 parses it: the time
// must print back to the bytes received.
func kerberosTime(v cryptobyte.String) error {
	const layout = "20060102150405Z0700"
	var s cryptobyte.String
	if !v.ReadASN1(&s, cbasn1.GeneralizedTime) || !v.Empty() {
		return malformed("", "not a GeneralizedTime")
	}
	if len(s) != len("20060102150405Z") {
		return malformed("", "not YYYYMMDDHHMMSSZ")
	}
	t, err := time.Parse(layout, string(s))
	if err != nil || t.Format(layout) != string(s) {
		return malformed("", "not a valid YYYYMMDDHHMMSSZ time")
	}
	return nil
}

// kerberosFlags is KerberosFlags ::= BIT STRING (RFC 4120 §5.2.8), with
// the padding rules of DER that gokrb5's asn1 enforces.
func kerberosFlags(v cryptobyte.String) error {
	var s cryptobyte.String
	if !v.ReadASN1(&s, cbasn1.BIT_STRING) || !v.Empty() {
		return malformed("", "not a BIT STRING")
	}
	if len(s) == 0 || len(s) > 1+maxFlagBytes {
		return malformed("", "a BIT STRING of %d bytes", len(s))
	}
	pad := s[0]
	if pad > 7 || len(s) == 1 && pad > 0 || s[len(s)-1]&(1<<pad-1) != 0 {
		return malformed("", "invalid padding bits in the BIT STRING")
	}
	return nil
}

// The Kerberos types a KDC-REQ carries (RFC 4120 §5.2, §5.3, §5.5.1).
var (
	principalNameDER = seq(
		derField{0, "name-type", false, int32Value},
		derField{1, "name-string", false, seqOf(maxNameComponents, kerberosString)},
	)
	encryptedDataDER = seq(
		derField{0, "etype", false, int32Value},
		derField{1, "kvno", true, uint32Value},
		derField{2, "cipher", false, octetsUpTo(math.MaxInt32)},
	)
	hostAddressDER = seq(
		derField{0, "addr-type", false, int32Value},
		derField{1, "address", false, octetsUpTo(maxAddressLen)},
	)
	ticketDER = appTagged(tagTicket, seq(
		derField{0, "tkt-vno", false, exactly(5, krberror.BadPVNO)},
		derField{1, "realm", false, kerberosString},
		derField{2, "sname", false, principalNameDER},
		derField{3, "enc-part", false, encryptedDataDER},
	))
	apReqDER = appTagged(tagAPReq, seq(
		derField{0, "pvno", false, exactly(5, krberror.BadPVNO)},
		derField{1, "msg-type", false, exactly(tagAPReq, krberror.APMsgType)},
		derField{2, "ap-options", false, kerberosFlags},
		derField{3, "ticket", false, ticketDER},
		derField{4, "authenticator", false, encryptedDataDER},
	))
)

// checkKDCReqBody checks KDC-REQ-BODY (RFC 4120 §5.4.1).
func checkKDCReqBody(v cryptobyte.String) error {
	return checkSequence(v, []derField{
		{0, "kdc-options", false, kerberosFlags},
		{1, "cname", true, principalNameDER},
		{2, "realm", false, kerberosString},
		{3, "sname", true, principalNameDER},
		{4, "from", true, kerberosTime},
		{5, "till", false, kerberosTime},
		{6, "rtime", true, kerberosTime},
		{7, "nonce", false, uint32Value},
		{8, "etype", false, seqOf(maxETypes, int32Value)},
		{9, "addresses", true, seqOf(maxAddresses, hostAddressDER)},
		{10, "enc-authorization-data", true, encryptedDataDER},
		{11, "additional-tickets", true, seqOf(maxTickets, ticketDER)},
	})
}

// checkPAData is a derCheck for PA-DATA (RFC 4120 §5.2.7). In a TGS-REQ the
// value of PA-TGS-REQ must be an AP-REQ, which gokrb5 parses next; the
// other values are parsed by their own (fuzzed) parsers, or not at all.
func checkPAData(tgs bool) derCheck {
	return func(v cryptobyte.String) error {
		var typ int64
		return checkSequence(v, []derField{
			{1, "padata-type", false, func(v cryptobyte.String) error {
				return readInteger(v, math.MinInt32, math.MaxInt32, &typ)
			}},
			{2, "padata-value", false, func(v cryptobyte.String) error {
				var value cryptobyte.String
				if err := readOctets(v, math.MaxInt32, &value); err != nil {
					return err
				}
				if tgs && typ == paTGSReq {
					return within(apReqDER(value), ".ap-req")
				}
				return nil
			}},
		})
	}
}
