package kdc

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Application tags of the messages a KDC receives (RFC 4120 §5.10).
const (
	tagASReq  = 10
	tagTGSReq = 12
)

var errNotKDCReq = errors.New("not a KDC-REQ")

// rawKDCReq is a KDC-REQ split into its parts as received: checksums and
// PKINIT signatures are over these bytes, never over a re-encoding.
type rawKDCReq struct {
	msgTag  int    // tagASReq or tagTGSReq
	reqBody []byte // the DER KDC-REQ-BODY, complete with its SEQUENCE header
}

// splitKDCReq walks KDC-REQ ::= [APPLICATION 10|12] SEQUENCE { pvno [1],
// msg-type [2], padata [3] OPTIONAL, req-body [4] } and returns req-body's
// bytes. Trailing data anywhere is refused.
func splitKDCReq(msg []byte) (rawKDCReq, error) {
	in := cryptobyte.String(msg)
	var app cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&app, &tag) || !in.Empty() {
		return rawKDCReq{}, errNotKDCReq
	}
	var r rawKDCReq
	switch tag {
	case cbasn1.Tag(0x60 | tagASReq): // [APPLICATION 10], constructed
		r.msgTag = tagASReq
	case cbasn1.Tag(0x60 | tagTGSReq):
		r.msgTag = tagTGSReq
	default:
		return rawKDCReq{}, errNotKDCReq
	}
	var seq cryptobyte.String
	if !app.ReadASN1(&seq, cbasn1.SEQUENCE) || !app.Empty() {
		return rawKDCReq{}, errNotKDCReq
	}
	for !seq.Empty() {
		var field cryptobyte.String
		var ft cbasn1.Tag
		if !seq.ReadAnyASN1(&field, &ft) {
			return rawKDCReq{}, errNotKDCReq
		}
		if ft == cbasn1.Tag(4).Constructed().ContextSpecific() {
			var body cryptobyte.String
			if !field.ReadASN1Element(&body, cbasn1.SEQUENCE) || !field.Empty() {
				return rawKDCReq{}, errNotKDCReq
			}
			r.reqBody = body
		}
	}
	if r.reqBody == nil {
		return rawKDCReq{}, errNotKDCReq
	}
	return r, nil
}
