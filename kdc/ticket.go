package kdc

import (
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Ticket flag bits (RFC 4120 §5.3), numbered from the most significant bit.
const (
	flagForwardable = 1
	flagProxiable   = 3
	flagRenewable   = 8
	flagInitial     = 9
	flagPreAuthent  = 10
	flagHWAuthent   = 11 // set for smart-card logons, as Windows does
	flagEncPARep    = 15 // RFC 6806 §11
)

// KDC option bits of a request (RFC 4120 §5.4.1).
const (
	optForwardable  = 1
	optProxiable    = 3
	optRenewable    = 8
	optCanonicalize = 15
	optRenewableOK  = 27
	optRenew        = 30
)

func newFlags(bits ...int) asn1.BitString {
	f := asn1.BitString{Bytes: make([]byte, 4), BitLength: 32}
	for _, b := range bits {
		f.Bytes[b/8] |= 0x80 >> (b % 8)
	}
	return f
}

func hasFlag(f asn1.BitString, bit int) bool {
	return bit < f.BitLength && bit/8 < len(f.Bytes) && f.Bytes[bit/8]&(0x80>>(bit%8)) != 0
}

// encTicketPart mirrors EncTicketPart (RFC 4120 §5.3) for encoding: gokrb5
// can decode one but not encode it. marshalEncTicketPart encodes it; the
// asn1 tags are the reference its test holds it to.
type encTicketPart struct {
	Flags             asn1.BitString             `asn1:"explicit,tag:0"`
	Key               types.EncryptionKey        `asn1:"explicit,tag:1"`
	CRealm            string                     `asn1:"generalstring,explicit,tag:2"`
	CName             types.PrincipalName        `asn1:"explicit,tag:3"`
	Transited         messages.TransitedEncoding `asn1:"explicit,tag:4"`
	AuthTime          time.Time                  `asn1:"generalized,explicit,tag:5"`
	StartTime         time.Time                  `asn1:"generalized,explicit,optional,tag:6"`
	EndTime           time.Time                  `asn1:"generalized,explicit,tag:7"`
	RenewTill         time.Time                  `asn1:"generalized,explicit,optional,tag:8"`
	CAddr             types.HostAddresses        `asn1:"explicit,optional,tag:9"`
	AuthorizationData types.AuthorizationData    `asn1:"explicit,optional,tag:10"`
}

// ticketSpec is what goes into a ticket.
type ticketSpec struct {
	Client     types.PrincipalName
	CRealm     string
	Server     types.PrincipalName
	SRealm     string
	ServerKey  Key
	SessionKey types.EncryptionKey
	Flags      asn1.BitString
	AuthTime   time.Time
	StartTime  time.Time
	EndTime    time.Time
	RenewTill  time.Time
	AuthData   types.AuthorizationData
}

// issueTicket encrypts the ticket's EncTicketPart with the server's key.
func issueTicket(s ticketSpec) (messages.Ticket, error) {
	part := encTicketPart{
		Flags:             s.Flags,
		Key:               s.SessionKey,
		CRealm:            s.CRealm,
		CName:             s.Client,
		Transited:         messages.TransitedEncoding{TRType: 1, Contents: []byte{}}, // DOMAIN-X500-COMPRESS, empty
		AuthTime:          s.AuthTime.UTC().Truncate(time.Second),
		StartTime:         s.StartTime.UTC().Truncate(time.Second),
		EndTime:           s.EndTime.UTC().Truncate(time.Second),
		RenewTill:         s.RenewTill.UTC().Truncate(time.Second),
		AuthorizationData: s.AuthData,
	}
	b, err := marshalEncTicketPart(part)
	if err != nil {
		return messages.Ticket{}, err
	}
	ed, err := s.ServerKey.encrypt(b, keyusage.KDC_REP_TICKET)
	if err != nil {
		return messages.Ticket{}, fmt.Errorf("kdc: encrypt ticket: %w", err)
	}
	return messages.Ticket{TktVNO: 5, Realm: s.SRealm, SName: s.Server, EncPart: ed}, nil
}

// decryptTicket opens a ticket with the server's key.
func decryptTicket(t messages.Ticket, key Key) (messages.EncTicketPart, error) {
	plain, err := key.decrypt(t.EncPart, keyusage.KDC_REP_TICKET)
	if err != nil {
		return messages.EncTicketPart{}, err
	}
	var part messages.EncTicketPart
	if err := part.Unmarshal(plain); err != nil {
		return messages.EncTicketPart{}, fmt.Errorf("decode EncTicketPart: %w", err)
	}
	return part, nil
}

// newSessionKey makes a random key of etype; for the AES etypes random-to-key
// is the identity (RFC 3962 §6).
func newSessionKey(etype int32, rand io.Reader) (types.EncryptionKey, error) {
	n, ok := keySizes[etype]
	if !ok {
		return types.EncryptionKey{}, fmt.Errorf("kdc: no session keys of etype %d", etype)
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(rand, v); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: v}, nil
}

// encKDCRepPart mirrors EncKDCRepPart (RFC 4120 §5.4.2); gokrb5 always tags
// it as EncASRepPart, and a TGS-REP needs EncTGSRepPart. marshalEncKDCRepPart
// encodes it; the asn1 tags are the reference its test holds it to.
type encKDCRepPart struct {
	Key           types.EncryptionKey  `asn1:"explicit,tag:0"`
	LastReqs      []messages.LastReq   `asn1:"explicit,tag:1"`
	Nonce         int                  `asn1:"explicit,tag:2"`
	KeyExpiration time.Time            `asn1:"generalized,explicit,optional,tag:3"`
	Flags         asn1.BitString       `asn1:"explicit,tag:4"`
	AuthTime      time.Time            `asn1:"generalized,explicit,tag:5"`
	StartTime     time.Time            `asn1:"generalized,explicit,optional,tag:6"`
	EndTime       time.Time            `asn1:"generalized,explicit,tag:7"`
	RenewTill     time.Time            `asn1:"generalized,explicit,optional,tag:8"`
	SRealm        string               `asn1:"generalstring,explicit,tag:9"`
	SName         types.PrincipalName  `asn1:"explicit,tag:10"`
	CAddr         []types.HostAddress  `asn1:"explicit,optional,tag:11"`
	EncPAData     types.PADataSequence `asn1:"explicit,optional,tag:12"`
}

// encryptRepPart encodes the reply's secret part, tagged for AS (25) or TGS
// (26), and encrypts it for the client.
func encryptRepPart(s ticketSpec, nonce int, tgs bool, key types.EncryptionKey, usage uint32) (types.EncryptedData, error) {
	part := encKDCRepPart{
		Key:       s.SessionKey,
		LastReqs:  []messages.LastReq{{LRType: 0, LRValue: s.AuthTime.UTC().Truncate(time.Second)}},
		Nonce:     nonce,
		Flags:     s.Flags,
		AuthTime:  s.AuthTime.UTC().Truncate(time.Second),
		StartTime: s.StartTime.UTC().Truncate(time.Second),
		EndTime:   s.EndTime.UTC().Truncate(time.Second),
		RenewTill: s.RenewTill.UTC().Truncate(time.Second),
		SRealm:    s.SRealm,
		SName:     s.Server,
	}
	tag := asnAppTag.EncASRepPart
	if tgs {
		tag = asnAppTag.EncTGSRepPart
	}
	b, err := marshalEncKDCRepPart(part, tag)
	if err != nil {
		return types.EncryptedData{}, err
	}
	return encryptedData(b, key, usage, 0)
}

// requestedTime reads a KDC-REQ's till or rtime. RFC 4120 §5.4.1 gives
// 19700101000000Z the meaning "no limit" (the longest the KDC's policy
// allows): Heimdal's krb5_get_creds sends it in every TGS-REQ. It comes back
// as the zero time, as an absent rtime does.
func requestedTime(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t
}
