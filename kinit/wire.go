package kinit

import (
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Application tags of the Kerberos messages this package sends and reads,
// RFC 4120 §5.
const (
	appTicket   = 1
	appASReq    = 10
	appASRep    = 11
	appTGSReq   = 12
	appTGSRep   = 13
	appAPReq    = 14
	appKRBError = 30
)

// paTGSReq is PA-TGS-REQ, RFC 4120 §7.5.2: the AP-REQ of a TGS-REQ.
const paTGSReq = 1

func appTag(n int) cbasn1.Tag { return cbasn1.Tag(n).Constructed() | 0x40 }
func ctx(n int) cbasn1.Tag    { return cbasn1.Tag(n).ContextSpecific().Constructed() }

// messageType returns the application tag of a Kerberos message.
func messageType(msg []byte) int {
	if len(msg) == 0 || msg[0]&0xe0 != 0x60 || msg[0]&0x1f == 0x1f {
		return -1
	}
	return int(msg[0] & 0x1f)
}

// buildKDCReq encodes AS-REQ or TGS-REQ (RFC 4120 §5.4.1) around the
// req-body bytes exactly as given, so the checksums over them stay true.
func buildKDCReq(app int, padata []types.PAData, body []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(app), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctx(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			b.AddASN1(ctx(2), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(app)) })
			if len(padata) > 0 {
				b.AddASN1(ctx(3), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, pa := range padata {
							addPAData(b, pa)
						}
					})
				})
			}
			b.AddASN1(ctx(4), func(b *cryptobyte.Builder) { b.AddBytes(body) })
		})
	})
	return b.Bytes()
}

func addPAData(b *cryptobyte.Builder, pa types.PAData) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctx(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(pa.PADataType)) })
		b.AddASN1(ctx(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(pa.PADataValue) })
	})
}

// buildAPReq encodes an AP-REQ (RFC 4120 §5.5.1) around the ticket bytes as
// the KDC issued them.
func buildAPReq(ticket []byte, auth types.EncryptedData) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(appAPReq), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctx(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			b.AddASN1(ctx(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(appAPReq) })
			b.AddASN1(ctx(2), func(b *cryptobyte.Builder) { b.AddASN1BitString(make([]byte, 4)) })
			b.AddASN1(ctx(3), func(b *cryptobyte.Builder) { b.AddBytes(ticket) })
			b.AddASN1(ctx(4), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(ctx(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(auth.EType)) })
					b.AddASN1(ctx(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(auth.Cipher) })
				})
			})
		})
	})
	return b.Bytes()
}

// rawTicket returns the DER Ticket inside a KDC-REP (RFC 4120 §5.4.2) as
// received: gokrb5's re-marshal is not byte-exact.
func rawTicket(rep []byte, app int) ([]byte, error) {
	in := cryptobyte.String(rep)
	var outer, seq cryptobyte.String
	if !in.ReadASN1(&outer, appTag(app)) || !in.Empty() || !outer.ReadASN1(&seq, cbasn1.SEQUENCE) || !outer.Empty() {
		return nil, fmt.Errorf("%w: KDC-REP framing", ErrMalformed)
	}
	for !seq.Empty() {
		var field cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&field, &tag) {
			return nil, fmt.Errorf("%w: KDC-REP field", ErrMalformed)
		}
		if tag != ctx(5) {
			continue
		}
		var tkt cryptobyte.String
		if !field.ReadASN1Element(&tkt, appTag(appTicket)) || !field.Empty() {
			return nil, fmt.Errorf("%w: KDC-REP ticket", ErrMalformed)
		}
		return tkt, nil
	}
	return nil, fmt.Errorf("%w: KDC-REP without a ticket", ErrMalformed)
}

// flagsOf turns a TicketFlags bit string into the ccache's uint32 (bit 0 is 1<<31).
func flagsOf(b []byte) uint32 {
	var f uint32
	for i := 0; i < 4 && i < len(b); i++ {
		f |= uint32(b[i]) << (24 - 8*i)
	}
	return f
}

var errNoStaple = errors.New("no stapled OCSP response")

// stapledOCSP returns the OCSP response a signer put in a SignedData's crls
// as an RFC 5940 OtherRevocationInfoFormat id-ri-ocsp-response. der is a
// ContentInfo holding SignedData, or a bare SignedData.
func stapledOCSP(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: SignedData", ErrMalformed)
	}
	if seq.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) { // ContentInfo
		var content cryptobyte.String
		if !seq.SkipASN1(cbasn1.OBJECT_IDENTIFIER) || !seq.ReadASN1(&content, ctx(0)) || !content.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: ContentInfo", ErrMalformed)
		}
	}
	if !seq.SkipASN1(cbasn1.INTEGER) || !seq.SkipASN1(cbasn1.SET) || !seq.SkipASN1(cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: SignedData", ErrMalformed)
	}
	if !seq.SkipOptionalASN1(ctx(0)) {
		return nil, fmt.Errorf("%w: SignedData certificates", ErrMalformed)
	}
	var crls cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&crls, &present, ctx(1)) {
		return nil, fmt.Errorf("%w: SignedData crls", ErrMalformed)
	}
	for present && !crls.Empty() {
		var choice cryptobyte.String
		var tag cbasn1.Tag
		if !crls.ReadAnyASN1(&choice, &tag) {
			return nil, fmt.Errorf("%w: RevocationInfoChoice", ErrMalformed)
		}
		if tag != ctx(1) {
			continue // a CertificateList
		}
		var oid = new(cryptobyte.String)
		var format []byte
		var info cryptobyte.String
		if !choice.ReadASN1(oid, cbasn1.OBJECT_IDENTIFIER) || !choice.ReadASN1Element(&info, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: OtherRevocationInfoFormat", ErrMalformed)
		}
		format = *oid
		if string(format) == string(oidRIOCSPResponse) {
			return info, nil
		}
	}
	return nil, errNoStaple
}

// oidRIOCSPResponse is id-ri-ocsp-response 1.3.6.1.5.5.7.16.2, RFC 5940 §4.1, as DER contents octets.
var oidRIOCSPResponse = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x10, 0x02}
