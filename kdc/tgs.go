package kdc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
)

const paTGSReq = 1 // PA-TGS-REQ, RFC 4120 §5.2.7.1

// serveTGS answers a TGS-REQ (RFC 4120 §3.3): a service ticket for the
// client of a TGT, or the renewal of a renewable ticket. As in serveAS, each
// stage refuses the request or leaves what the next one needs.
func (k *KDC) serveTGS(ctx context.Context, msg []byte, raw rawKDCReq, rec *AuditRecord) ([]byte, error) {
	x := &tgsExchange{k: k, msg: msg, raw: raw, rec: rec}
	for _, stage := range []func(context.Context) error{
		x.decode,             // the TGS-REQ and the AP-REQ in its PA-TGS-REQ
		x.openTicket,         // the presented ticket: ours, and a TGT unless renewed
		x.checkAuthenticator, // the session key held, the body's checksum, skew, replay
		x.checkTicketTimes,   // the presented ticket valid now
		x.resolveServer,      // the service asked for, or the renewed ticket's
		x.decide,             // flags, times and etype of the new ticket
		x.resignPAC,          // the TGT's PAC, its KDC signature checked, signed anew
		x.issue,              // the ticket
		x.reply,              // the TGS-REP
	} {
		if err := stage(ctx); err != nil {
			return nil, err
		}
	}
	return x.out, nil
}

// tgsExchange is one TGS exchange, filled in stage by stage.
type tgsExchange struct {
	k   *KDC
	msg []byte
	raw rawKDCReq // its KDC-REQ-BODY as received: the authenticator's checksum covers it
	rec *AuditRecord
	now time.Time

	body  messages.KDCReqBody // till and rtime read by requestedTime
	ap    messages.APReq      // from PA-TGS-REQ
	renew bool                // the RENEW option

	tktServer string                 // the presented ticket's server
	tktKey    Key                    // the key it decrypted with (an older kvno after a rollover)
	tkt       messages.EncTicketPart // the presented ticket, decrypted
	client    string
	auth      types.Authenticator

	spec   ticketSpec
	etype  int32
	ticket messages.Ticket
	out    []byte
}

// decode reads the TGS-REQ and the AP-REQ that authenticates it.
func (x *tgsExchange) decode(context.Context) error {
	req, err := decodeKDCReq(x.msg, tagTGSReq)
	if err != nil {
		return reject(krberror.Generic, err, "malformed TGS-REQ")
	}
	x.now = x.k.now()
	x.body = req.ReqBody
	x.body.Till, x.body.RTime = requestedTime(x.body.Till), requestedTime(x.body.RTime)
	x.rec.Service = principalString(x.body.SName, x.body.Realm)

	var apReq []byte
	for _, pa := range req.PAData {
		if pa.PADataType == paTGSReq {
			apReq = pa.PADataValue
		}
	}
	if apReq == nil {
		return reject(krberror.PADataTypeNoSupp, nil, "TGS-REQ without PA-TGS-REQ")
	}
	if err := x.ap.Unmarshal(apReq); err != nil {
		return reject(krberror.APMsgType, err, "malformed AP-REQ in PA-TGS-REQ")
	}
	x.renew = hasFlag(x.body.KDCOptions, optRenew)
	return nil
}

// openTicket decrypts the presented ticket: a TGT from this realm, or for a
// renewal any ticket this KDC issued.
func (x *tgsExchange) openTicket(context.Context) error {
	k, t := x.k, x.ap.Ticket
	x.tktServer = principalString(t.SName, t.Realm)
	if t.Realm != k.realm {
		return reject(krberror.APNotUs, nil, "ticket from realm %q", t.Realm)
	}
	if x.tktServer != k.krbtgt && !x.renew {
		return reject(krberror.APNotUs, nil, "TGS-REQ with a ticket for %s, not a TGT", x.tktServer)
	}
	// Its kvno may be one a rollover retired, still good for its tickets.
	key, ok := k.keys.KeyVersion(x.tktServer, t.EncPart.EType, uint32(t.EncPart.KVNO))
	if !ok {
		return reject(krberror.APBadKeyVer, nil, "no key of etype %d kvno %d for %s", t.EncPart.EType, t.EncPart.KVNO, x.tktServer)
	}
	x.tktKey = key
	tkt, err := decryptTicket(t, key)
	if err != nil {
		return reject(krberror.APBadIntegrity, err, "ticket does not decrypt")
	}
	x.tkt = tkt
	x.client = principalString(tkt.CName, tkt.CRealm)
	x.rec.Principal, x.rec.Account = x.client, x.client
	return nil
}

// checkAuthenticator: the authenticator proves the client holds the session
// key, is fresh, and binds the request body (RFC 4120 §3.3.2, §7.5.1 key
// usage 6/7).
func (x *tgsExchange) checkAuthenticator(context.Context) error {
	k, now, key := x.k, x.now, x.tkt.Key
	plain, err := decryptEncPart(x.ap.EncryptedAuthenticator, key, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR)
	if err != nil {
		return reject(krberror.APBadIntegrity, err, "authenticator does not decrypt with the ticket's session key")
	}
	auth := &x.auth
	if err := auth.Unmarshal(plain); err != nil {
		return reject(krberror.APBadIntegrity, err, "malformed authenticator")
	}
	if named := principalString(auth.CName, auth.CRealm); named != x.client {
		return reject(krberror.APBadMatch, nil, "authenticator names %s, ticket %s", named, x.client)
	}
	if d := auth.CTime.Sub(now); d > k.skew || d < -k.skew {
		return reject(krberror.APSkew, nil, "authenticator time %s is %v from the KDC's", auth.CTime.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	if len(auth.Cksum.Checksum) == 0 {
		return reject(krberror.APInappCksum, nil, "authenticator without a checksum over the request body")
	}
	cksumType, err := crypto.GetChksumEtype(auth.Cksum.CksumType)
	if err != nil || !keyedChecksum(auth.Cksum.CksumType) {
		return reject(krberror.APInappCksum, err, "checksum type %d is not a keyed checksum", auth.Cksum.CksumType)
	}
	if !cksumType.VerifyChecksum(key.KeyValue, x.raw.reqBody, auth.Cksum.Checksum, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR_CHKSUM) {
		return reject(krberror.APModified, nil, "request body checksum mismatch")
	}
	replayKey := fmt.Sprintf("tgs\x00%s\x00%d\x00%d\x00%x", x.client, auth.CTime.Unix(), auth.Cusec, auth.Cksum.Checksum)
	switch k.replay.check([]byte(replayKey), now, now.Add(2*k.skew)) {
	case replaySeen:
		return reject(krberror.APRepeat, nil, "replayed authenticator")
	case replayFull:
		return reject(krberror.Generic, nil, "replay cache full")
	}
	return nil
}

// checkTicketTimes refuses a ticket not yet valid, or expired; a renewal
// presents an expired ticket by design, and decide judges its renew-till.
// It comes after the authenticator, so only the ticket's holder learns.
func (x *tgsExchange) checkTicketTimes(context.Context) error {
	k, now, tkt := x.k, x.now, x.tkt
	if now.Add(k.skew).Before(tkt.StartTime) && !tkt.StartTime.IsZero() {
		return reject(krberror.APTktNYV, nil, "ticket not yet valid")
	}
	if !x.renew && !now.Before(tkt.EndTime.Add(k.skew)) {
		return reject(krberror.APTktExpired, nil, "ticket expired at %s", tkt.EndTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// resolveServer finds the new ticket's server and its key: the one asked
// for, in this realm, or for a renewal the presented ticket's own.
func (x *tgsExchange) resolveServer(context.Context) error {
	k, tkt := x.k, x.tkt
	x.spec = ticketSpec{Client: tkt.CName, CRealm: tkt.CRealm, AuthTime: tkt.AuthTime}
	if x.renew {
		x.spec.Server, x.spec.SRealm = x.ap.Ticket.SName, x.ap.Ticket.Realm
	} else {
		if x.body.Realm != k.realm {
			return reject(krberror.WrongRealm, nil, "no cross-realm trust for %s", x.body.Realm)
		}
		x.spec.Server, x.spec.SRealm = x.body.SName, k.realm
	}
	server := principalString(x.spec.Server, x.spec.SRealm)
	x.rec.Service = server
	if strings.HasPrefix(server, "krbtgt/") && server != k.krbtgt {
		return reject(krberror.SPrincipalUnknown, nil, "no cross-realm key for %s", server)
	}
	var ok bool
	if x.spec.ServerKey, ok = k.keys.Key(server, 0); !ok {
		return reject(krberror.SPrincipalUnknown, nil, "unknown service %s", server)
	}
	return nil
}

// decide sets the new ticket's flags and times, by the policy AS tickets
// follow too, within the presented ticket's, and picks its session key's
// etype.
func (x *tgsExchange) decide(context.Context) error {
	g, err := decideGrant(tgsGrantRequest(x.now, x.body, x.tkt))
	if err != nil {
		return err
	}
	x.spec.Flags, x.spec.StartTime, x.spec.EndTime, x.spec.RenewTill = g.Flags, g.StartTime, g.EndTime, g.RenewTill
	var ok bool
	if x.etype, ok = chooseEType(x.body.EType); !ok {
		return reject(krberror.ETypeNoSupp, nil, "none of the requested etypes %v is supported", x.body.EType)
	}
	return nil
}

// resignPAC carries the presented ticket's PAC into the new ticket.
func (x *tgsExchange) resignPAC(context.Context) error {
	var tgtKey *Key // a TGT's PAC is checked with the krbtgt key it was issued under
	if x.tktServer == x.k.krbtgt {
		tgtKey = &x.tktKey
	}
	authData, err := x.k.resignPAC(x.tkt.AuthorizationData, tgtKey, x.spec.ServerKey)
	if err != nil {
		return err
	}
	x.spec.AuthData = authData
	return nil
}

// issue makes the ticket, under a new session key.
func (x *tgsExchange) issue(context.Context) error {
	var err error
	if x.spec.SessionKey, err = newSessionKey(x.etype, x.k.rand); err != nil {
		return err
	}
	x.ticket, err = issueTicket(x.spec)
	return err
}

// reply encrypts the TGS-REP's secret part with the authenticator's subkey
// when there is one (key usage 9), else with the TGT session key (usage 8),
// and encodes the TGS-REP.
func (x *tgsExchange) reply(context.Context) error {
	key, usage := x.tkt.Key, uint32(keyusage.TGS_REP_ENCPART_SESSION_KEY)
	if len(x.auth.SubKey.KeyValue) > 0 {
		key, usage = x.auth.SubKey, keyusage.TGS_REP_ENCPART_AUTHENTICATOR_SUB_KEY
	}
	encPart, err := encryptRepPart(x.spec, x.body.Nonce, true, key, usage)
	if err != nil {
		return err
	}
	rep := messages.TGSRep{KDCRepFields: messages.KDCRepFields{
		PVNO: 5, MsgType: 13, CRealm: x.tkt.CRealm, CName: x.tkt.CName, Ticket: x.ticket, EncPart: encPart,
	}}
	if x.out, err = rep.Marshal(); err != nil {
		return fmt.Errorf("kdc: encode TGS-REP: %w", err)
	}
	return nil
}

// keyedChecksum reports the checksum types that need the session key: an
// unkeyed one (CRC32, RSA-MD5) would let anyone alter the request body.
func keyedChecksum(t int32) bool {
	switch t {
	case 12, 15, 16, 19, 20, -138: // hmac-sha1-des3-kd, hmac-sha1-96-aes128/256, hmac-sha256-128-aes128, hmac-sha384-192-aes256, hmac-md5
		return true
	}
	return false
}

// chooseEType picks the first etype the client listed that the KDC makes
// session keys of.
func chooseEType(requested []int32) (int32, bool) {
	for _, e := range requested {
		if _, ok := keySizes[e]; ok && (e == 17 || e == 18) {
			return e, true
		}
	}
	return 0, false
}

func principalString(p types.PrincipalName, realm string) string {
	return strings.Join(p.NameString, "/") + "@" + realm
}
