package kdc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/kdc/pac"
)

const paTGSReq = 1 // PA-TGS-REQ, RFC 4120 §5.2.7.1

// serveTGS answers a TGS-REQ (RFC 4120 §3.3): a service ticket for the
// client of a TGT, or the renewal of a renewable ticket.
func (k *KDC) serveTGS(ctx context.Context, msg []byte, raw rawKDCReq, rec *AuditRecord) ([]byte, error) {
	var req messages.TGSReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, reject(errorcode.KRB_ERR_GENERIC, err, "malformed TGS-REQ")
	}
	now := k.now()
	body := req.ReqBody
	rec.Service = principalString(body.SName, body.Realm)

	var apReqBytes []byte
	for _, pa := range req.PAData {
		if pa.PADataType == paTGSReq {
			apReqBytes = pa.PADataValue
		}
	}
	if apReqBytes == nil {
		return nil, reject(errorcode.KDC_ERR_PADATA_TYPE_NOSUPP, nil, "TGS-REQ without PA-TGS-REQ")
	}
	var ap messages.APReq
	if err := ap.Unmarshal(apReqBytes); err != nil {
		return nil, reject(errorcode.KRB_AP_ERR_MSG_TYPE, err, "malformed AP-REQ in PA-TGS-REQ")
	}
	renew := hasFlag(body.KDCOptions, optRenew)

	// The presented ticket: a TGT from this realm, or for a renewal any
	// ticket this KDC issued.
	tktServer := principalString(ap.Ticket.SName, ap.Ticket.Realm)
	if ap.Ticket.Realm != k.realm {
		return nil, reject(errorcode.KRB_AP_ERR_NOT_US, nil, "ticket from realm %q", ap.Ticket.Realm)
	}
	if tktServer != k.krbtgt && !renew {
		return nil, reject(errorcode.KRB_AP_ERR_NOT_US, nil, "TGS-REQ with a ticket for %s, not a TGT", tktServer)
	}
	tktKey, ok := k.keys.Key(tktServer, ap.Ticket.EncPart.EType)
	if !ok || (ap.Ticket.EncPart.KVNO != 0 && uint32(ap.Ticket.EncPart.KVNO) != tktKey.KVNO) {
		return nil, reject(errorcode.KRB_AP_ERR_BADKEYVER, nil, "no key of etype %d kvno %d for %s", ap.Ticket.EncPart.EType, ap.Ticket.EncPart.KVNO, tktServer)
	}
	tkt, err := decryptTicket(ap.Ticket, tktKey)
	if err != nil {
		return nil, reject(errorcode.KRB_AP_ERR_BAD_INTEGRITY, err, "ticket does not decrypt")
	}
	client := principalString(tkt.CName, tkt.CRealm)
	rec.Principal = client
	rec.Account = client

	// The authenticator proves the client holds the session key, is fresh,
	// and binds the request body (RFC 4120 §3.3.2, §7.5.1 key usage 6/7).
	authPlain, err := crypto.DecryptEncPart(ap.EncryptedAuthenticator, tkt.Key, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR)
	if err != nil {
		return nil, reject(errorcode.KRB_AP_ERR_BAD_INTEGRITY, err, "authenticator does not decrypt with the ticket's session key")
	}
	var auth types.Authenticator
	if err := auth.Unmarshal(authPlain); err != nil {
		return nil, reject(errorcode.KRB_AP_ERR_BAD_INTEGRITY, err, "malformed authenticator")
	}
	if principalString(auth.CName, auth.CRealm) != client {
		return nil, reject(errorcode.KRB_AP_ERR_BADMATCH, nil, "authenticator names %s, ticket %s", principalString(auth.CName, auth.CRealm), client)
	}
	if d := auth.CTime.Sub(now); d > k.skew || d < -k.skew {
		return nil, reject(errorcode.KRB_AP_ERR_SKEW, nil, "authenticator time %s is %v from the KDC's", auth.CTime.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	if len(auth.Cksum.Checksum) == 0 {
		return nil, reject(errorcode.KRB_AP_ERR_INAPP_CKSUM, nil, "authenticator without a checksum over the request body")
	}
	cksumType, err := crypto.GetChksumEtype(auth.Cksum.CksumType)
	if err != nil || !keyedChecksum(auth.Cksum.CksumType) {
		return nil, reject(errorcode.KRB_AP_ERR_INAPP_CKSUM, err, "checksum type %d is not a keyed checksum", auth.Cksum.CksumType)
	}
	if !cksumType.VerifyChecksum(tkt.Key.KeyValue, raw.reqBody, auth.Cksum.Checksum, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR_CHKSUM) {
		return nil, reject(errorcode.KRB_AP_ERR_MODIFIED, nil, "request body checksum mismatch")
	}
	replayKey := fmt.Sprintf("tgs\x00%s\x00%d\x00%d\x00%x", client, auth.CTime.Unix(), auth.Cusec, auth.Cksum.Checksum)
	switch k.replay.check([]byte(replayKey), now, now.Add(2*k.skew)) {
	case replaySeen:
		return nil, reject(errorcode.KRB_AP_ERR_REPEAT, nil, "replayed authenticator")
	case replayFull:
		return nil, reject(errorcode.KRB_ERR_GENERIC, nil, "replay cache full")
	}

	if now.Add(k.skew).Before(tkt.StartTime) && !tkt.StartTime.IsZero() {
		return nil, reject(errorcode.KRB_AP_ERR_TKT_NYV, nil, "ticket not yet valid")
	}
	if !renew && !now.Before(tkt.EndTime.Add(k.skew)) {
		return nil, reject(errorcode.KRB_AP_ERR_TKT_EXPIRED, nil, "ticket expired at %s", tkt.EndTime.UTC().Format(time.RFC3339))
	}

	// What to issue.
	spec := ticketSpec{
		Client:   tkt.CName,
		CRealm:   tkt.CRealm,
		AuthTime: tkt.AuthTime,
		AuthData: nil,
	}
	if renew {
		if !hasFlag(tkt.Flags, flagRenewable) {
			return nil, reject(errorcode.KDC_ERR_BADOPTION, nil, "ticket is not renewable")
		}
		if !now.Before(tkt.RenewTill) {
			return nil, reject(errorcode.KRB_AP_ERR_TKT_EXPIRED, nil, "renewable life ended at %s", tkt.RenewTill.UTC().Format(time.RFC3339))
		}
		spec.Server, spec.SRealm = ap.Ticket.SName, ap.Ticket.Realm
		life := tkt.EndTime.Sub(tkt.StartTime)
		if tkt.StartTime.IsZero() {
			life = tkt.EndTime.Sub(tkt.AuthTime)
		}
		spec.StartTime = now
		spec.EndTime = minTime(now.Add(life), tkt.RenewTill)
		spec.RenewTill = tkt.RenewTill
		spec.Flags = tkt.Flags
		spec.Flags.Bytes = append([]byte(nil), tkt.Flags.Bytes...)
		clearFlag(&spec.Flags, flagInitial)
	} else {
		if body.Realm != k.realm {
			return nil, reject(errorcode.KDC_ERR_WRONG_REALM, nil, "no cross-realm trust for %s", body.Realm)
		}
		spec.Server, spec.SRealm = body.SName, k.realm
		spec.StartTime = now
		spec.EndTime = tkt.EndTime
		if !body.Till.IsZero() && body.Till.Before(spec.EndTime) {
			spec.EndTime = body.Till
		}
		var bits []int
		for _, b := range []int{flagForwardable, flagProxiable, flagPreAuthent, flagHWAuthent} {
			if hasFlag(tkt.Flags, b) && (b == flagPreAuthent || b == flagHWAuthent || hasFlag(body.KDCOptions, b)) {
				bits = append(bits, b)
			}
		}
		if hasFlag(tkt.Flags, flagRenewable) && hasFlag(body.KDCOptions, optRenewable) {
			bits = append(bits, flagRenewable)
			spec.RenewTill = tkt.RenewTill
			if !body.RTime.IsZero() && body.RTime.Before(spec.RenewTill) {
				spec.RenewTill = body.RTime
			}
		}
		spec.Flags = newFlags(bits...)
	}
	server := principalString(spec.Server, spec.SRealm)
	rec.Service = server
	if strings.HasPrefix(server, "krbtgt/") && server != k.krbtgt {
		return nil, reject(errorcode.KDC_ERR_S_PRINCIPAL_UNKNOWN, nil, "no cross-realm key for %s", server)
	}
	serverKey, ok := k.keys.Key(server, 0)
	if !ok {
		return nil, reject(errorcode.KDC_ERR_S_PRINCIPAL_UNKNOWN, nil, "unknown service %s", server)
	}
	if !spec.EndTime.After(now) {
		return nil, reject(errorcode.KDC_ERR_NEVER_VALID, nil, "requested end time is in the past")
	}
	etype, ok := chooseEType(body.EType)
	if !ok {
		return nil, reject(errorcode.KDC_ERR_ETYPE_NOSUPP, nil, "none of the requested etypes %v is supported", body.EType)
	}
	spec.ServerKey = serverKey
	if spec.SessionKey, err = newSessionKey(etype, k.rand); err != nil {
		return nil, err
	}

	// The PAC travels from the TGT into the service ticket, its KDC
	// signature checked and both signatures made anew for the service.
	if pacBytes, found, err := pac.FromAuthorizationData(tkt.AuthorizationData); err != nil {
		return nil, reject(errorcode.KRB_AP_ERR_MODIFIED, err, "malformed PAC in the ticket")
	} else if found {
		krbtgtKey, _ := k.keys.Key(k.krbtgt, 0)
		kdcKey, err := pac.NewKey(krbtgtKey.EType, krbtgtKey.Value)
		if err != nil {
			return nil, err
		}
		svcKey, err := pac.NewKey(serverKey.EType, serverKey.Value)
		if err != nil {
			return nil, err
		}
		resigned, err := pac.Resign(pacBytes, kdcKey, svcKey)
		if err != nil {
			return nil, reject(errorcode.KRB_AP_ERR_MODIFIED, err, "PAC signature does not verify")
		}
		if spec.AuthData, err = pac.AuthorizationData(resigned); err != nil {
			return nil, err
		}
	}

	ticket, err := issueTicket(spec)
	if err != nil {
		return nil, err
	}
	// The reply is encrypted with the authenticator's subkey when there is one
	// (key usage 9), else with the TGT session key (usage 8).
	replyKey, usage := tkt.Key, uint32(keyusage.TGS_REP_ENCPART_SESSION_KEY)
	if len(auth.SubKey.KeyValue) > 0 {
		replyKey, usage = auth.SubKey, keyusage.TGS_REP_ENCPART_AUTHENTICATOR_SUB_KEY
	}
	encPart, err := encryptRepPart(spec, body.Nonce, true, replyKey, usage)
	if err != nil {
		return nil, err
	}
	rep := messages.TGSRep{KDCRepFields: messages.KDCRepFields{
		PVNO: 5, MsgType: 13, CRealm: tkt.CRealm, CName: tkt.CName, Ticket: ticket, EncPart: encPart,
	}}
	out, err := rep.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode TGS-REP: %w", err)
	}
	return out, nil
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

func clearFlag(f *asn1.BitString, bit int) {
	if bit/8 < len(f.Bytes) {
		f.Bytes[bit/8] &^= 0x80 >> (bit % 8)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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
