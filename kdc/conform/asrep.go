package conform

import (
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/pkinit"
)

// ticketLife is how long the TGTs last: long enough for a client to use one.
const ticketLife = time.Hour

// encTicketPart mirrors EncTicketPart (RFC 4120 §5.3): gokrb5 decodes one
// but does not encode it.
type encTicketPart struct {
	Flags     asn1.BitString             `asn1:"explicit,tag:0"`
	Key       types.EncryptionKey        `asn1:"explicit,tag:1"`
	CRealm    string                     `asn1:"generalstring,explicit,tag:2"`
	CName     types.PrincipalName        `asn1:"explicit,tag:3"`
	Transited messages.TransitedEncoding `asn1:"explicit,tag:4"`
	AuthTime  time.Time                  `asn1:"generalized,explicit,tag:5"`
	EndTime   time.Time                  `asn1:"generalized,explicit,tag:7"`
}

// encASRepPart mirrors EncKDCRepPart (RFC 4120 §5.4.2) for encoding.
type encASRepPart struct {
	Key      types.EncryptionKey `asn1:"explicit,tag:0"`
	LastReqs []messages.LastReq  `asn1:"explicit,tag:1"`
	Nonce    int                 `asn1:"explicit,tag:2"`
	Flags    asn1.BitString      `asn1:"explicit,tag:4"`
	AuthTime time.Time           `asn1:"generalized,explicit,tag:5"`
	EndTime  time.Time           `asn1:"generalized,explicit,tag:7"`
	SRealm   string              `asn1:"generalstring,explicit,tag:9"`
	SName    types.PrincipalName `asn1:"explicit,tag:10"`
}

// asRep wraps the PA-PK-AS-REP into an AS-REP carrying a TGT, its secret
// part encrypted with the reply key; the cname, the nonce and the key usage
// as p says. It returns the session key, the acceptance evidence.
func (k *KDC) asRep(p plan, in *incoming, pk []byte, replyKey pkinit.EncryptionKey) ([]byte, []byte, error) {
	session, err := randomKey(in.etype, k.rand)
	if err != nil {
		return nil, nil, err
	}
	now := k.now().UTC().Truncate(time.Second)
	end := now.Add(ticketLife)
	if till := in.body.Till; !till.IsZero() && till.Unix() != 0 && till.Before(end) {
		end = till.UTC().Truncate(time.Second)
	}
	flags := asn1.BitString{Bytes: []byte{0, 0x40 | 0x20, 0, 0}, BitLength: 32} // initial (9), pre-authent (10)
	cname := in.body.CName
	ticket, err := k.ticket(encTicketPart{Flags: flags, Key: session, CRealm: k.realm, CName: cname,
		Transited: messages.TransitedEncoding{TRType: 1, Contents: []byte{}}, AuthTime: now, EndTime: end})
	if err != nil {
		return nil, nil, err
	}
	part, err := asn1.Marshal(encASRepPart{Key: session, LastReqs: []messages.LastReq{{LRType: 0, LRValue: now}},
		Nonce: int(uint32(in.body.Nonce) + p.repNonceDelta), Flags: flags, AuthTime: now, EndTime: end,
		SRealm: k.realm, SName: in.body.SName})
	if err != nil {
		return nil, nil, fmt.Errorf("conform: encode EncASRepPart: %w", err)
	}
	usage := uint32(keyusage.AS_REP_ENCPART)
	if p.encPartUsage != 0 {
		usage = p.encPartUsage
	}
	encPart, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, asnAppTag.EncASRepPart),
		types.EncryptionKey{KeyType: replyKey.KeyType, KeyValue: replyKey.KeyValue}, usage, 0)
	if err != nil {
		return nil, nil, err
	}
	if p.cname != "" {
		cname = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, p.cname)
	}
	rep := messages.ASRep{KDCRepFields: messages.KDCRepFields{PVNO: 5, MsgType: 11,
		PAData: types.PADataSequence{{PADataType: int32(pkinit.PAPKASRep), PADataValue: pk}},
		CRealm: k.realm, CName: cname, Ticket: ticket, EncPart: encPart}}
	b, err := rep.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("conform: encode AS-REP: %w", err)
	}
	return b, session.KeyValue, nil
}

// ticket encrypts a TGT with the KDC's krbtgt key.
func (k *KDC) ticket(part encTicketPart) (messages.Ticket, error) {
	b, err := asn1.Marshal(part)
	if err != nil {
		return messages.Ticket{}, fmt.Errorf("conform: encode EncTicketPart: %w", err)
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart), k.krbtgt, keyusage.KDC_REP_TICKET, 1)
	if err != nil {
		return messages.Ticket{}, err
	}
	return messages.Ticket{TktVNO: 5, Realm: k.realm, SName: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+k.realm), EncPart: ed}, nil
}

// randomKey is a random AES key: random-to-key is the identity (RFC 3962 §6).
func randomKey(etype int32, rand io.Reader) (types.EncryptionKey, error) {
	n := map[int32]int{etypeAES128: 16, etypeAES256: 32}[etype]
	if n == 0 {
		return types.EncryptionKey{}, fmt.Errorf("conform: no keys of etype %d", etype)
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(rand, v); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: v}, nil
}

// clientName and kdcName are the RFC 8636 KDF's party names.
func clientName(in *incoming) pkinit.KRB5PrincipalName {
	return pkinit.KRB5PrincipalName{Realm: in.body.Realm, NameType: in.body.CName.NameType, Name: in.body.CName.NameString}
}

func kdcName(in *incoming) pkinit.KRB5PrincipalName {
	return pkinit.KRB5PrincipalName{Realm: in.body.Realm, NameType: nametype.KRB_NT_SRV_INST, Name: []string{"krbtgt", in.body.Realm}}
}

// methodDataPKINIT is PREAUTH_REQUIRED's e-data: METHOD-DATA offering
// PA-PK-AS-REQ alone (RFC 4120 §5.2.7.1).
func methodDataPKINIT() []byte {
	b, _ := asn1.Marshal(types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: []byte{}}})
	return b
}

// tdDHParametersGroup2 is e-data offering only MODP group 2 (RFC 4556 §3.2.2).
func tdDHParametersGroup2() []byte {
	params, err := pkinit.DHParameters(pkinit.MODPGroup2)
	if err != nil {
		return nil
	}
	td, err := pkinit.MarshalTDDHParameters(params)
	if err != nil {
		return nil
	}
	b, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDDHParameters, Value: td}})
	return b
}
