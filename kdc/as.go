package kdc

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/pkinit"
)

// serveAS answers an AS-REQ. Only PKINIT pre-authentication is offered: the
// test KDC has no passwords. Each stage either refuses the request, with the
// code the client sees, or leaves in the exchange what the next one needs;
// what each learns about the client goes into the audit record as it does.
func (k *KDC) serveAS(ctx context.Context, msg []byte, raw rawKDCReq, rec *AuditRecord) ([]byte, error) {
	x := &asExchange{k: k, msg: msg, raw: raw, rec: rec}
	for _, stage := range []func(context.Context) error{
		x.decode,               // the AS-REQ, and the realm, client, service and etype it asks for
		x.preauthenticate,      // PA-PK-AS-REQ, else PREAUTH_REQUIRED offering PKINIT
		x.verifyAuthPack,       // the CMS signature and paChecksum over the bytes received
		x.checkCertificate,     // validity, path, NTAuth, key usage and EKU
		x.checkRevocation,      // OCSP
		x.checkPKAuthenticator, // nonce, clock skew, freshness token, replay
		x.mapAccount,           // whose certificate this is
		x.agreeKey,             // the reply key: DH, ECDH or RSA key transport
		x.issue,                // the ticket: flags, times, session key, PAC
		x.reply,                // the AS-REP
	} {
		if err := stage(ctx); err != nil {
			return nil, err
		}
	}
	return x.out, nil
}

// asExchange is one AS exchange, filled in stage by stage.
type asExchange struct {
	k   *KDC
	msg []byte    // the AS-REQ as received: the KDF and key transport bind it
	raw rawKDCReq // its KDC-REQ-BODY as received: paChecksum covers it
	rec *AuditRecord
	now time.Time

	body      messages.KDCReqBody // till and rtime read by requestedTime
	padata    types.PADataSequence
	serverKey Key
	etype     int32 // of the session key

	pkASReq    []byte // PA-PK-AS-REQ's value
	includePAC bool   // PA-PAC-REQUEST, true when absent

	authPack *pkinit.AuthPack
	cert     *x509.Certificate   // the client's, the AuthPack's signer
	embedded []*x509.Certificate // every certificate the client sent
	certSum  [sha256.Size]byte
	issuer   *x509.Certificate // the client certificate's NTAuth CA
	account  mapping.Account

	replyKey types.EncryptionKey
	pkASRep  []byte // PA-PK-AS-REP's value
	spec     ticketSpec
	ticket   messages.Ticket
	out      []byte
}

// decode reads the AS-REQ and refuses what this KDC cannot serve whatever
// the pre-authentication: another realm, no client, an unknown service, no
// etype in common.
func (x *asExchange) decode(context.Context) error {
	k := x.k
	req, err := decodeKDCReq(x.msg, tagASReq)
	if err != nil {
		return reject(krberror.Generic, err, "malformed AS-REQ")
	}
	x.now = k.now()
	x.body, x.padata = req.ReqBody, req.PAData
	body := &x.body
	body.Till, body.RTime = requestedTime(body.Till), requestedTime(body.RTime)
	x.rec.Principal = principalString(body.CName, body.Realm)
	x.rec.Service = principalString(body.SName, body.Realm)
	if !strings.EqualFold(body.Realm, k.realm) {
		return reject(krberror.WrongRealm, nil, "this KDC serves %s, not %s", k.realm, body.Realm)
	}
	if len(body.CName.NameString) == 0 {
		return reject(krberror.CPrincipalUnknown, nil, "AS-REQ without a client name")
	}
	server := principalString(body.SName, k.realm)
	var ok bool
	if x.serverKey, ok = k.keys.Key(server, 0); !ok {
		return reject(krberror.SPrincipalUnknown, nil, "unknown service %s", server)
	}
	if x.etype, ok = chooseEType(body.EType); !ok {
		return reject(krberror.ETypeNoSupp, nil, "none of the requested etypes %v is supported", body.EType)
	}
	return nil
}

// preauthenticate finds PA-PK-AS-REQ, and whether the client wants a PAC.
// Without PA-PK-AS-REQ the answer is KDC_ERR_PREAUTH_REQUIRED offering
// PKINIT (and a freshness token), which is how every client starts.
func (x *asExchange) preauthenticate(context.Context) error {
	x.includePAC = true
	for _, pa := range x.padata {
		switch pa.PADataType {
		case int32(pkinit.PAPKASReq):
			x.pkASReq = pa.PADataValue
		case patype.PA_PAC_REQUEST:
			var r struct {
				IncludePAC bool `asn1:"explicit,tag:0"`
			}
			// A PA-PAC-REQUEST that does not decode asks for nothing: the
			// default, a PAC, stands.
			if _, err := asn1.Unmarshal(pa.PADataValue, &r); err == nil {
				x.includePAC = r.IncludePAC
			}
		}
	}
	if x.pkASReq == nil {
		r := reject(krberror.PreauthRequired, nil, "pre-authentication required")
		r.edata = x.k.methodData(x.now)
		return r
	}
	return nil
}

// verifyAuthPack checks the signature over the AuthPack as sent, and its
// paChecksum over the request body as sent; from here on the client
// certificate is known, and the audit record names it.
func (x *asExchange) verifyAuthPack(context.Context) error {
	pkReq, err := pkinit.ParsePKASReq(x.pkASReq)
	if err != nil {
		return reject(pkinit.ErrorCode(err), err, "malformed PA-PK-AS-REQ")
	}
	authPack, signed, err := pkinit.VerifyAuthPack(pkReq, x.raw.reqBody, pkinit.VerifyOptions{ContentType: pkinit.ContentAuthData, AllowSHA1: x.k.cfg.AllowSHA1, ParsedCertificate: x.k.certPaths.parsed})
	if err != nil {
		return reject(pkinit.ErrorCode(err), err, "the signed AuthPack does not verify")
	}
	x.authPack, x.cert, x.embedded = authPack, signed.Signer, signed.Certificates
	x.certSum = sha256.Sum256(x.cert.Raw)
	x.rec.Subject, x.rec.Issuer = x.cert.Subject.String(), x.cert.Issuer.String()
	x.rec.Serial, x.rec.SHA256 = hex.EncodeToString(x.cert.SerialNumber.Bytes()), hex.EncodeToString(x.certSum[:])
	return nil
}

// checkCertificate: valid now, a path to an anchor, issued by an NTAuth CA,
// fit for logon.
func (x *asExchange) checkCertificate(context.Context) error {
	issuer, err := x.k.checkClientCertificate(x.cert, x.embedded, x.now)
	if err != nil {
		return err
	}
	x.issuer = issuer
	return nil
}

// checkRevocation asks OCSP about the client certificate, unless OCSP is
// off. Under soft-fail an unknown status is let through, and logged.
func (x *asExchange) checkRevocation(ctx context.Context) error {
	k, rec := x.k, x.rec
	rec.Revocation = "unchecked"
	if k.ocsp == nil {
		return nil
	}
	res, err := k.ocsp.Check(ctx, x.cert, x.issuer)
	switch {
	case errors.Is(err, revocation.ErrRevoked):
		rec.Revocation = "revoked"
		r := reject(krberror.RevokedCertificate, err, "client certificate revoked")
		r.edata = invalidCertificatesEData(x.cert)
		return r
	case err != nil:
		rec.Revocation = "unknown"
		return reject(krberror.RevocationStatusUnknown, err, "revocation status of the client certificate unknown")
	case res.Status == revocation.Unknown:
		rec.Revocation = "unknown (soft-fail)"
		k.log.Warn("kdc: client certificate revocation status unknown; accepted under soft-fail", "subject", rec.Subject, "cause", res.Cause)
	default:
		rec.Revocation = "good"
	}
	return nil
}

// checkPKAuthenticator: the request's nonce, a time within the skew, a
// freshness token when one is due, and no replay.
func (x *asExchange) checkPKAuthenticator(context.Context) error {
	k, now := x.k, x.now
	pa := x.authPack.PKAuthenticator
	if int64(pa.Nonce) != int64(x.body.Nonce) {
		return reject(krberror.PreauthFailed, nil, "PKAuthenticator nonce %d is not the request's %d", pa.Nonce, x.body.Nonce)
	}
	ctime := pa.CTime.Add(time.Duration(pa.Cusec) * time.Microsecond)
	if d := ctime.Sub(now); d > k.skew || d < -k.skew {
		return reject(krberror.APSkew, nil, "client time %s is %v from the KDC's", ctime.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	if err := k.checkFreshness(pa.FreshnessToken, now); err != nil {
		return err
	}
	// The certificate, the client's time and the nonce identify a request:
	// a replay within the skew is the same three again.
	replayKey := slices.Concat([]byte("as\x00"), x.certSum[:], binary.BigEndian.AppendUint64(nil, uint64(ctime.UnixMicro())), binary.BigEndian.AppendUint32(nil, pa.Nonce))
	switch k.replay.check(replayKey, now, now.Add(2*k.skew)) {
	case replaySeen:
		return reject(krberror.APRepeat, nil, "replayed PKINIT request")
	case replayFull:
		return reject(krberror.Generic, nil, "replay cache full")
	}
	return nil
}

// mapAccount finds the account the certificate belongs to, with the client
// name as the hint.
func (x *asExchange) mapAccount(ctx context.Context) error {
	k, cname := x.k, x.body.CName
	hint := mapping.Hint{Name: strings.Join(cname.NameString, "/"), Realm: k.realm, Enterprise: cname.NameType == nametype.KRB_NT_ENTERPRISE}
	mapped, err := k.mapper.Map(ctx, mapping.Request{Cert: x.cert, Issuer: x.issuer, Hint: hint})
	if err != nil {
		return reject(mapping.ErrorCode(err), err, "certificate does not map to an account")
	}
	x.account = mapped.Account
	x.rec.Mapping, x.rec.Account = mapped.Method.String(), mapped.Account.SAMAccountName
	x.rec.Strong = &mapped.Strong
	return nil
}

// agreeKey makes the reply key: key agreement, or key transport when the
// client sent no public value.
func (x *asExchange) agreeKey(context.Context) error {
	k, body := x.k, x.body
	var reply *pkinit.Reply
	var err error
	if x.authPack.ClientPublicValue != nil {
		kdcName := pkinit.KRB5PrincipalName{Realm: k.realm, NameType: nametype.KRB_NT_SRV_INST, Name: []string{"krbtgt", k.realm}}
		clientName := pkinit.KRB5PrincipalName{Realm: body.Realm, NameType: body.CName.NameType, Name: body.CName.NameString}
		reply, err = k.agree(x.authPack, x.etype, pkinit.KDFInputs{Client: clientName, KDC: kdcName, ASReq: x.msg}, x.rec)
	} else {
		if k.cfg.NoKeyTransport {
			return reject(krberror.PublicKeyEncryptionNotSupported, nil, "RSA key transport is disabled")
		}
		x.rec.KeyExch = "rsa"
		reply, err = pkinit.BuildKeyTransportReply(pkinit.KeyTransportParams{
			ClientCertificate: x.cert, EType: x.etype, ASReq: x.msg, Identity: k.replySigner(x.authPack), Rand: k.rand,
		})
		if err != nil {
			err = reject(pkinit.ErrorCode(err), err, "key transport to the client certificate")
		}
	}
	if err != nil {
		return err
	}
	x.replyKey = types.EncryptionKey{KeyType: reply.ReplyKey.KeyType, KeyValue: reply.ReplyKey.KeyValue}
	x.pkASRep = reply.PKASRep
	return nil
}

// issue makes the TGT (or a ticket for the named service), with the PAC
// unless the client asked for none.
func (x *asExchange) issue(context.Context) error {
	k, body, acct := x.k, x.body, x.account
	g, err := decideGrant(asGrantRequest(x.now, x.body, k.ticketLife, k.renewLife, acct.Expires))
	if err != nil {
		return err
	}
	spec := ticketSpec{
		Client:    body.CName,
		CRealm:    k.realm,
		Server:    body.SName,
		SRealm:    k.realm,
		ServerKey: x.serverKey,
		Flags:     g.Flags,
		AuthTime:  x.now,
		StartTime: g.StartTime,
		EndTime:   g.EndTime,
		RenewTill: g.RenewTill,
	}
	// An enterprise name, or a request to canonicalize, gets the account's
	// own name back, so the client caches its ticket under that (RFC 6806).
	if body.CName.NameType == nametype.KRB_NT_ENTERPRISE || hasFlag(body.KDCOptions, optCanonicalize) {
		spec.Client = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, acct.SAMAccountName)
	}
	if spec.SessionKey, err = newSessionKey(x.etype, k.rand); err != nil {
		return err
	}
	if x.includePAC {
		if spec.AuthData, err = k.buildPAC(acct, spec, x.serverKey); err != nil {
			return err
		}
	}
	if x.ticket, err = issueTicket(spec); err != nil {
		return err
	}
	x.spec = spec
	return nil
}

// reply encrypts the AS-REP's secret part with the reply key and encodes the
// AS-REP around the ticket and PA-PK-AS-REP.
func (x *asExchange) reply(context.Context) error {
	encPart, err := encryptRepPart(x.spec, x.body.Nonce, false, x.replyKey, keyusage.AS_REP_ENCPART)
	if err != nil {
		return err
	}
	padata := types.PADataSequence{{PADataType: int32(pkinit.PAPKASRep), PADataValue: x.pkASRep}}
	x.out, err = marshalASRep(padata, x.k.realm, x.spec.Client, x.ticket, encPart)
	return err
}
