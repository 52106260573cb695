package kdc

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/der"
)

// tagASRep is the AS-REP's application tag, RFC 4120 §5.4.2 (tagTicket and
// generalString are the request path's).
const tagASRep = 11

// marshalASRep encodes an AS-REP, RFC 4120 §5.4.2, in one pass into one
// buffer (internal/der): gokrb5's Marshal goes through reflection twice,
// for the ticket and around it, on every logon. It writes the DER gokrb5
// writes (TestMarshalASRepMatchesGokrb5) and gokrb5's decoder reads it back.
//
//	AS-REP ::= [APPLICATION 11] SEQUENCE {
//	    pvno [0] INTEGER (5), msg-type [1] INTEGER (11),
//	    padata [2] SEQUENCE OF PA-DATA OPTIONAL, crealm [3] Realm,
//	    cname [4] PrincipalName, ticket [5] Ticket, enc-part [6] EncryptedData }
func marshalASRep(padata types.PADataSequence, crealm string, cname types.PrincipalName, ticket messages.Ticket, encPart types.EncryptedData) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 1024+len(ticket.EncPart.Cipher)+len(encPart.Cipher)+paDataSize(padata)))
	b.Open(der.Application(tagASRep))
	b.Open(der.Sequence)
	explicitInt(b, 0, 5)
	explicitInt(b, 1, tagASRep)
	if len(padata) > 0 {
		explicit(b, 2, addPAData, padata)
	}
	explicitString(b, 3, crealm)
	explicit(b, 4, addPrincipalName, cname)
	explicit(b, 5, addTicket, ticket)
	explicit(b, 6, addEncryptedData, encPart)
	b.Close()
	b.Close()
	return encoded(b, "AS-REP")
}

func paDataSize(padata types.PADataSequence) int {
	n := 0
	for _, pa := range padata {
		n += 16 + len(pa.PADataValue)
	}
	return n
}

// encoded is what b built, or its error naming what it was to be.
func encoded(b *der.Builder, what string) ([]byte, error) {
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode %s: %w", what, err)
	}
	return out, nil
}

// explicit writes [n] EXPLICIT around the element add writes for v.
func explicit[T any](b *der.Builder, n int, add func(*der.Builder, T), v T) {
	b.Open(der.Explicit(n))
	add(b, v)
	b.Close()
}

// explicitInt writes [n] INTEGER v.
func explicitInt(b *der.Builder, n int, v int64) {
	b.Open(der.Explicit(n))
	b.AddInt64(v)
	b.Close()
}

// explicitOctets writes [n] OCTET STRING p.
func explicitOctets(b *der.Builder, n int, p []byte) {
	b.Open(der.Explicit(n))
	b.Add(der.OctetString, p)
	b.Close()
}

// explicitString writes [n] GeneralString s (KerberosString, Realm).
func explicitString(b *der.Builder, n int, s string) {
	b.Open(der.Explicit(n))
	b.AddString(der.GeneralString, s)
	b.Close()
}

// PA-DATA ::= SEQUENCE { padata-type [1] Int32, padata-value [2] OCTET STRING }
func addPAData(b *der.Builder, padata types.PADataSequence) {
	addTypedValues(b, padata, 1, 2, func(pa types.PAData) (int32, []byte) { return pa.PADataType, pa.PADataValue })
}

// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
func addPrincipalName(b *der.Builder, p types.PrincipalName) {
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(p.NameType))
	b.Open(der.Explicit(1))
	b.Open(der.Sequence)
	for _, s := range p.NameString {
		b.AddString(der.GeneralString, s)
	}
	b.Close()
	b.Close()
	b.Close()
}

// Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0] INTEGER (5), realm [1] Realm,
// sname [2] PrincipalName, enc-part [3] EncryptedData }
func addTicket(b *der.Builder, t messages.Ticket) {
	b.Open(der.Application(tagTicket))
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(t.TktVNO))
	explicitString(b, 1, t.Realm)
	explicit(b, 2, addPrincipalName, t.SName)
	explicit(b, 3, addEncryptedData, t.EncPart)
	b.Close()
	b.Close()
}

// EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING }
// A zero kvno is left out, as gokrb5 leaves it out.
func addEncryptedData(b *der.Builder, e types.EncryptedData) {
	b.Open(der.Sequence)
	explicitInt(b, 0, int64(e.EType))
	if e.KVNO != 0 {
		explicitInt(b, 1, int64(e.KVNO))
	}
	explicitOctets(b, 2, e.Cipher)
	b.Close()
}

// marshalEncryptedData encodes one EncryptedData on its own, as gokrb5's
// EncryptedData.Marshal does (TestMarshalEncryptedDataMatchesGokrb5).
func marshalEncryptedData(e types.EncryptedData) ([]byte, error) {
	b := der.NewBuilder(make([]byte, 0, 32+len(e.Cipher)))
	addEncryptedData(b, e)
	return encoded(b, "EncryptedData")
}
