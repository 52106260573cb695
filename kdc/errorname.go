package kdc

import (
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jcmturner/gokrb5/v8/types"
)

// reqNames are the names a KDC-REQ-BODY carries (RFC 4120 §5.4.1), read
// without gokrb5 so that even a request it cannot decode gets a KRB-ERROR
// that names the server the client asked for (§5.9.1: sname and realm name
// the server; cname and crealm the client).
type reqNames struct {
	realm string
	cname types.PrincipalName
	sname types.PrincipalName
	hasC  bool
	hasS  bool
}

const generalString = cbasn1.Tag(27) // GeneralString, X.680

// readReqNames reads cname [1], realm [2] and sname [3] from the DER
// KDC-REQ-BODY. A field that does not decode is left out: this serves only
// the error reply.
func readReqNames(reqBody []byte) reqNames {
	var n reqNames
	body := cryptobyte.String(reqBody)
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return n
	}
	for !seq.Empty() {
		var field cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&field, &tag) {
			return n
		}
		switch tag {
		case cbasn1.Tag(1).Constructed().ContextSpecific():
			n.cname, n.hasC = readPrincipalName(field)
		case cbasn1.Tag(2).Constructed().ContextSpecific():
			var realm cryptobyte.String
			if field.ReadASN1(&realm, generalString) && field.Empty() {
				n.realm = string(realm)
			}
		case cbasn1.Tag(3).Constructed().ContextSpecific():
			n.sname, n.hasS = readPrincipalName(field)
		}
	}
	return n
}

// readPrincipalName reads PrincipalName ::= SEQUENCE { name-type [0] Int32,
// name-string [1] SEQUENCE OF KerberosString }.
func readPrincipalName(in cryptobyte.String) (types.PrincipalName, bool) {
	var p types.PrincipalName
	var seq, typ, strs cryptobyte.String
	var nameType int64
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&typ, cbasn1.Tag(0).Constructed().ContextSpecific()) || !typ.ReadASN1Integer(&nameType) ||
		!seq.ReadASN1(&strs, cbasn1.Tag(1).Constructed().ContextSpecific()) || !strs.ReadASN1(&strs, cbasn1.SEQUENCE) ||
		nameType < -1<<31 || nameType >= 1<<31 {
		return p, false
	}
	p.NameType = int32(nameType)
	for !strs.Empty() {
		var s cryptobyte.String
		if !strs.ReadASN1(&s, generalString) {
			return types.PrincipalName{}, false
		}
		p.NameString = append(p.NameString, string(s))
	}
	return p, len(p.NameString) > 0
}
