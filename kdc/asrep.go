package kdc

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// tagASRep is the AS-REP's application tag, RFC 4120 §5.4.2 (tagTicket and
// generalString are the request path's).
const tagASRep = 11

// marshalASRep encodes an AS-REP, RFC 4120 §5.4.2, in one pass with
// cryptobyte: gokrb5's Marshal goes through reflection twice, for the
// ticket and around it, on every logon. It writes the DER gokrb5 writes
// (TestMarshalASRepMatchesGokrb5) and gokrb5's decoder reads it back.
//
//	AS-REP ::= [APPLICATION 11] SEQUENCE {
//	    pvno [0] INTEGER (5), msg-type [1] INTEGER (11),
//	    padata [2] SEQUENCE OF PA-DATA OPTIONAL, crealm [3] Realm,
//	    cname [4] PrincipalName, ticket [5] Ticket, enc-part [6] EncryptedData }
func marshalASRep(padata types.PADataSequence, crealm string, cname types.PrincipalName, ticket messages.Ticket, encPart types.EncryptedData) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 1024+len(ticket.EncPart.Cipher)+len(encPart.Cipher)+paDataSize(padata)))
	b.AddASN1(cbasn1.Tag(tagASRep).Constructed()|0x40, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1Int64(tagASRep) })
			if len(padata) > 0 {
				explicit(b, 2, func(b *cryptobyte.Builder) { addPAData(b, padata) })
			}
			explicit(b, 3, func(b *cryptobyte.Builder) { addGeneralString(b, crealm) })
			explicit(b, 4, func(b *cryptobyte.Builder) { addPrincipalName(b, cname) })
			explicit(b, 5, func(b *cryptobyte.Builder) { addTicket(b, ticket) })
			explicit(b, 6, func(b *cryptobyte.Builder) { addEncryptedData(b, encPart) })
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode AS-REP: %w", err)
	}
	return out, nil
}

func paDataSize(padata types.PADataSequence) int {
	n := 0
	for _, pa := range padata {
		n += 16 + len(pa.PADataValue)
	}
	return n
}

func explicit(b *cryptobyte.Builder, n int, f cryptobyte.BuilderContinuation) {
	b.AddASN1(cbasn1.Tag(n).ContextSpecific().Constructed(), f)
}

func addGeneralString(b *cryptobyte.Builder, s string) {
	b.AddASN1(generalString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

// PA-DATA ::= SEQUENCE { padata-type [1] Int32, padata-value [2] OCTET STRING }
func addPAData(b *cryptobyte.Builder, padata types.PADataSequence) {
	addTypedValues(b, padata, 1, 2, func(pa types.PAData) (int32, []byte) { return pa.PADataType, pa.PADataValue })
}

// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
func addPrincipalName(b *cryptobyte.Builder, p types.PrincipalName) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(p.NameType)) })
		explicit(b, 1, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, s := range p.NameString {
					addGeneralString(b, s)
				}
			})
		})
	})
}

// Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0] INTEGER (5), realm [1] Realm,
// sname [2] PrincipalName, enc-part [3] EncryptedData }
func addTicket(b *cryptobyte.Builder, t messages.Ticket) {
	b.AddASN1(cbasn1.Tag(tagTicket).Constructed()|0x40, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(t.TktVNO)) })
			explicit(b, 1, func(b *cryptobyte.Builder) { addGeneralString(b, t.Realm) })
			explicit(b, 2, func(b *cryptobyte.Builder) { addPrincipalName(b, t.SName) })
			explicit(b, 3, func(b *cryptobyte.Builder) { addEncryptedData(b, t.EncPart) })
		})
	})
}

// EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING }
// A zero kvno is left out, as gokrb5 leaves it out.
func addEncryptedData(b *cryptobyte.Builder, e types.EncryptedData) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.EType)) })
		if e.KVNO != 0 {
			explicit(b, 1, func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.KVNO)) })
		}
		explicit(b, 2, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.Cipher) })
	})
}
