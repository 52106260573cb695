package kdc

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/kdc/pac"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/pkinit"
)

// Key usage of the KDC's freshness tokens: private to this KDC, the number
// MIT's KDC uses for the same purpose.
const keyUsageFreshness = 514

// freshnessLifetime is how long a freshness token is accepted.
const freshnessLifetime = 10 * time.Minute

// serveAS answers an AS-REQ. Only PKINIT pre-authentication is offered: the
// test KDC has no passwords.
func (k *KDC) serveAS(ctx context.Context, msg []byte, raw rawKDCReq, rec *AuditRecord) ([]byte, error) {
	var req messages.ASReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, reject(errorcode.KRB_ERR_GENERIC, err, "malformed AS-REQ")
	}
	body := req.ReqBody
	now := k.now()
	rec.Principal = principalString(body.CName, body.Realm)
	rec.Service = principalString(body.SName, body.Realm)
	if !strings.EqualFold(body.Realm, k.realm) {
		return nil, reject(errorcode.KDC_ERR_WRONG_REALM, nil, "this KDC serves %s, not %s", k.realm, body.Realm)
	}
	if len(body.CName.NameString) == 0 {
		return nil, reject(errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN, nil, "AS-REQ without a client name")
	}
	server := principalString(body.SName, k.realm)
	serverKey, ok := k.keys.Key(server, 0)
	if !ok {
		return nil, reject(errorcode.KDC_ERR_S_PRINCIPAL_UNKNOWN, nil, "unknown service %s", server)
	}
	etype, ok := chooseEType(body.EType)
	if !ok {
		return nil, reject(errorcode.KDC_ERR_ETYPE_NOSUPP, nil, "none of the requested etypes %v is supported", body.EType)
	}

	var pkPA []byte
	includePAC := true
	for _, pa := range req.PAData {
		switch pa.PADataType {
		case int32(pkinit.PAPKASReq):
			pkPA = pa.PADataValue
		case patype.PA_PAC_REQUEST:
			var r struct {
				IncludePAC bool `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.Unmarshal(pa.PADataValue, &r); err == nil {
				includePAC = r.IncludePAC
			}
		}
	}
	if pkPA == nil {
		r := reject(errorcode.KDC_ERR_PREAUTH_REQUIRED, nil, "pre-authentication required")
		r.edata = k.methodData(now)
		return nil, r
	}

	// The signature, over the AuthPack as sent, and paChecksum over the
	// request body as sent.
	pkReq, err := pkinit.ParsePKASReq(pkPA)
	if err != nil {
		return nil, reject(pkinit.ErrorCode(err), err, "malformed PA-PK-AS-REQ")
	}
	authPack, signed, err := pkinit.VerifyAuthPack(pkReq, raw.reqBody, pkinit.VerifyOptions{ContentType: pkinit.ContentAuthData, AllowSHA1: k.cfg.AllowSHA1})
	if err != nil {
		return nil, reject(pkinit.ErrorCode(err), err, "the signed AuthPack does not verify")
	}
	cert := signed.Signer
	sum := sha256.Sum256(cert.Raw)
	rec.Subject, rec.Issuer = cert.Subject.String(), cert.Issuer.String()
	rec.Serial, rec.SHA256 = hex.EncodeToString(cert.SerialNumber.Bytes()), hex.EncodeToString(sum[:])

	// The certificate: valid now, a path to an anchor, issued by an NTAuth
	// CA, fit for logon, not revoked.
	issuer, err := k.checkClientCertificate(cert, signed.Certificates, now)
	if err != nil {
		return nil, err
	}
	rec.Revocation = "unchecked"
	if k.ocsp != nil {
		res, err := k.ocsp.Check(ctx, cert, issuer)
		switch {
		case errors.Is(err, revocation.ErrRevoked):
			rec.Revocation = "revoked"
			r := reject(pkinit.KDCErrRevokedCertificate, err, "client certificate revoked")
			r.edata = invalidCertificatesEData(cert)
			return nil, r
		case err != nil:
			rec.Revocation = "unknown"
			return nil, reject(pkinit.KDCErrRevocationStatusUnknown, err, "revocation status of the client certificate unknown")
		case res.Status == revocation.Unknown:
			rec.Revocation = "unknown (soft-fail)"
			k.log.Warn("kdc: client certificate revocation status unknown; accepted under soft-fail", "subject", rec.Subject, "cause", res.Cause)
		default:
			rec.Revocation = "good"
		}
	}

	// The PKAuthenticator: the request's nonce, a time within the skew, a
	// freshness token when one is due, and no replay.
	pa := authPack.PKAuthenticator
	if int64(pa.Nonce) != int64(body.Nonce) {
		return nil, reject(errorcode.KDC_ERR_PREAUTH_FAILED, nil, "PKAuthenticator nonce %d is not the request's %d", pa.Nonce, body.Nonce)
	}
	ctime := pa.CTime.Add(time.Duration(pa.Cusec) * time.Microsecond)
	if d := ctime.Sub(now); d > k.skew || d < -k.skew {
		return nil, reject(errorcode.KRB_AP_ERR_SKEW, nil, "client time %s is %v from the KDC's", ctime.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	if err := k.checkFreshness(pa.FreshnessToken, now); err != nil {
		return nil, err
	}
	replayKey := slices.Concat([]byte("as\x00"), sum[:], binary.BigEndian.AppendUint64(nil, uint64(ctime.UnixMicro())), binary.BigEndian.AppendUint32(nil, pa.Nonce))
	switch k.replay.check(replayKey, now, now.Add(2*k.skew)) {
	case replaySeen:
		return nil, reject(errorcode.KRB_AP_ERR_REPEAT, nil, "replayed PKINIT request")
	case replayFull:
		return nil, reject(errorcode.KRB_ERR_GENERIC, nil, "replay cache full")
	}

	// Whose certificate this is.
	hint := mapping.Hint{Name: strings.Join(body.CName.NameString, "/"), Realm: k.realm, Enterprise: body.CName.NameType == nametype.KRB_NT_ENTERPRISE}
	mapped, err := k.mapper.Map(ctx, mapping.Request{Cert: cert, Issuer: issuer, Hint: hint})
	if err != nil {
		return nil, reject(mapping.ErrorCode(err), err, "certificate does not map to an account")
	}
	acct := mapped.Account
	rec.Mapping, rec.Account = mapped.Method.String(), acct.SAMAccountName
	rec.Strong = &mapped.Strong

	// The reply key: key agreement, or key transport when the client sent
	// no public value.
	kdcName := pkinit.KRB5PrincipalName{Realm: k.realm, NameType: nametype.KRB_NT_SRV_INST, Name: []string{"krbtgt", k.realm}}
	clientName := pkinit.KRB5PrincipalName{Realm: body.Realm, NameType: body.CName.NameType, Name: body.CName.NameString}
	var reply *pkinit.Reply
	if authPack.ClientPublicValue != nil {
		reply, err = k.agree(authPack, etype, pkinit.KDFInputs{Client: clientName, KDC: kdcName, ASReq: msg}, rec)
	} else {
		if k.cfg.NoKeyTransport {
			return nil, reject(pkinit.KDCErrPublicKeyEncryptionNotSupported, nil, "RSA key transport is disabled")
		}
		rec.KeyExch = "rsa"
		reply, err = pkinit.BuildKeyTransportReply(pkinit.KeyTransportParams{
			ClientCertificate: cert, EType: etype, ASReq: msg, Identity: k.signer, Rand: k.rand,
		})
		if err != nil {
			err = reject(pkinit.ErrorCode(err), err, "key transport to the client certificate")
		}
	}
	if err != nil {
		return nil, err
	}

	// The TGT (or a ticket for the named service), with the PAC.
	spec := ticketSpec{
		CRealm:   k.realm,
		Server:   body.SName,
		SRealm:   k.realm,
		AuthTime: now,
	}
	spec.Client = body.CName
	if body.CName.NameType == nametype.KRB_NT_ENTERPRISE || hasFlag(body.KDCOptions, optCanonicalize) {
		spec.Client = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, acct.SAMAccountName)
	}
	spec.StartTime = now
	spec.EndTime = now.Add(k.ticketLife)
	if !body.Till.IsZero() && body.Till.Before(spec.EndTime) {
		spec.EndTime = body.Till
	}
	if !acct.Expires.IsZero() && acct.Expires.Before(spec.EndTime) {
		spec.EndTime = acct.Expires
	}
	if !spec.EndTime.After(now) {
		return nil, reject(errorcode.KDC_ERR_NEVER_VALID, nil, "requested end time is in the past")
	}
	bits := []int{flagInitial, flagPreAuthent, flagHWAuthent}
	if hasFlag(body.KDCOptions, optForwardable) {
		bits = append(bits, flagForwardable)
	}
	if hasFlag(body.KDCOptions, optProxiable) {
		bits = append(bits, flagProxiable)
	}
	// RENEWABLE asks for renew-till = rtime; RENEWABLE-OK asks for a
	// renewable ticket only when till cannot be granted, and then renew-till
	// is till (RFC 4120 §3.1.3); both within the realm's renewable life.
	var renewTill time.Time
	switch {
	case k.renewLife <= 0:
	case hasFlag(body.KDCOptions, optRenewable):
		renewTill = body.RTime
	case hasFlag(body.KDCOptions, optRenewableOK) && !body.Till.IsZero() && body.Till.After(spec.EndTime):
		renewTill = body.Till
	}
	if k.renewLife > 0 && (hasFlag(body.KDCOptions, optRenewable) || !renewTill.IsZero()) {
		if renewTill.IsZero() || renewTill.After(now.Add(k.renewLife)) {
			renewTill = now.Add(k.renewLife)
		}
		if renewTill.After(spec.EndTime) {
			bits = append(bits, flagRenewable)
			spec.RenewTill = renewTill
		}
	}
	spec.Flags = newFlags(bits...)
	spec.ServerKey = serverKey
	if spec.SessionKey, err = newSessionKey(etype, k.rand); err != nil {
		return nil, err
	}
	if includePAC {
		if spec.AuthData, err = k.buildPAC(acct, spec, serverKey); err != nil {
			return nil, err
		}
	}
	ticket, err := issueTicket(spec)
	if err != nil {
		return nil, err
	}
	replyKey := types.EncryptionKey{KeyType: reply.ReplyKey.KeyType, KeyValue: reply.ReplyKey.KeyValue}
	encPart, err := encryptRepPart(spec, body.Nonce, false, replyKey, keyusage.AS_REP_ENCPART)
	if err != nil {
		return nil, err
	}
	rep := messages.ASRep{KDCRepFields: messages.KDCRepFields{
		PVNO:    5,
		MsgType: 11,
		PAData:  types.PADataSequence{{PADataType: int32(pkinit.PAPKASRep), PADataValue: reply.PKASRep}},
		CRealm:  k.realm,
		CName:   spec.Client,
		Ticket:  ticket,
		EncPart: encPart,
	}}
	out, err := rep.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kdc: encode AS-REP: %w", err)
	}
	return out, nil
}

// checkClientCertificate verifies what RFC 4556 §3.2.2 and AD ask of a
// client certificate and returns the CA that issued it.
func (k *KDC) checkClientCertificate(cert *x509.Certificate, embedded []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		r := reject(pkinit.KDCErrInvalidCertificate, nil, "client certificate valid from %s to %s, not now", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		r.edata = invalidCertificatesEData(cert)
		return nil, r
	}
	// The configured intermediates, plus any the client sent: cloned only
	// then, as a request that carries only its own certificate needs no copy.
	inter := k.intermediates
	for _, c := range embedded {
		if c != cert {
			if inter == k.intermediates {
				inter = k.intermediates.Clone()
			}
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: k.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, // the logon EKUs are checked below
	})
	if err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			r := reject(pkinit.KDCErrCantVerifyCertificate, err, "client certificate does not chain to a trusted root")
			r.edata = k.trustedCertifiersEData()
			return nil, r
		}
		r := reject(pkinit.KDCErrInvalidCertificate, err, "client certificate path does not verify")
		r.edata = invalidCertificatesEData(cert)
		return nil, r
	}
	// AD's NTAuth rule: the issuing CA itself must be in NTAuth, whatever
	// root it chains to.
	var issuer *x509.Certificate
	for _, chain := range chains {
		if len(chain) > 1 && k.ntauth[string(chain[1].Raw)] {
			issuer = chain[1]
			break
		}
	}
	if issuer == nil {
		return nil, reject(pkinit.KDCErrClientNotTrusted, nil, "the CA that issued the client certificate (%s) is not in the NTAuth store", cert.Issuer)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, reject(pkinit.KDCErrInconsistentKeyPurpose, nil, "client certificate key usage lacks digitalSignature")
	}
	if !k.ekuAccepted(cert) {
		return nil, reject(pkinit.KDCErrInconsistentKeyPurpose, nil, "client certificate lacks the logon EKU the policy requires")
	}
	return issuer, nil
}

func (k *KDC) ekuAccepted(cert *x509.Certificate) bool {
	var scLogon, pkClient bool
	for _, oid := range cert.UnknownExtKeyUsage {
		switch {
		case oid.Equal(certs.OIDExtKeyUsageSmartCardLogon):
			scLogon = true
		case oid.Equal(certs.OIDExtKeyUsagePKINITClientAuth):
			pkClient = true
		}
	}
	switch k.cfg.ClientEKU {
	case EKUSmartcardLogon:
		return scLogon
	case EKUPKINITClient:
		return pkClient
	case EKUNone:
		return true
	}
	return scLogon || pkClient
}

// methodData is the e-data of KDC_ERR_PREAUTH_REQUIRED: PKINIT offered, with
// a freshness token unless they are off.
func (k *KDC) methodData(now time.Time) []byte {
	seq := types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: []byte{}}}
	if k.cfg.Freshness != FreshnessOff {
		if tok, err := k.freshnessToken(now); err == nil {
			seq = append(seq, types.PAData{PADataType: int32(pkinit.PAASFreshness), PADataValue: tok})
		}
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		return nil
	}
	return b
}

// freshnessToken is opaque to the client (RFC 8070 §4): the issue time,
// encrypted and integrity-protected with the krbtgt key.
func (k *KDC) freshnessToken(now time.Time) ([]byte, error) {
	key, _ := k.keys.Key(k.krbtgt, 0)
	ts := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	ed, err := crypto.GetEncryptedData(ts, key.encryptionKey(), keyUsageFreshness, int(key.KVNO))
	if err != nil {
		return nil, err
	}
	return ed.Marshal()
}

func (k *KDC) checkFreshness(token []byte, now time.Time) error {
	if len(token) == 0 {
		if k.cfg.Freshness == FreshnessRequired {
			r := reject(errorcode.KDC_ERR_PREAUTH_FAILED, nil, "freshness token required")
			r.edata = k.methodData(now)
			return r
		}
		return nil
	}
	if k.cfg.Freshness == FreshnessOff {
		return nil // none was issued; MIT clients send none either
	}
	expired := func(reason string, err error) error {
		r := reject(pkinit.KDCErrPreauthExpired, err, "%s", reason)
		r.edata = k.methodData(now)
		return r
	}
	var ed types.EncryptedData
	if err := ed.Unmarshal(token); err != nil {
		return expired("malformed freshness token", err)
	}
	key, ok := k.keys.Key(k.krbtgt, ed.EType)
	if !ok {
		return expired("freshness token under an unknown key", nil)
	}
	plain, err := crypto.DecryptEncPart(ed, key.encryptionKey(), keyUsageFreshness)
	if err != nil || len(plain) != 8 {
		return expired("freshness token does not decrypt", err)
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(plain)))
	if now.Sub(issued) > freshnessLifetime || issued.Sub(now) > k.skew {
		return expired(fmt.Sprintf("freshness token issued %s, outside its lifetime", issued.UTC().Format(time.RFC3339)), nil)
	}
	return nil
}

// agree makes a DH or ECDH reply within the group and curve policy.
func (k *KDC) agree(ap *pkinit.AuthPack, etype int32, in pkinit.KDFInputs, rec *AuditRecord) (*pkinit.Reply, error) {
	pub, err := pkinit.ParseClientPublicValue(ap.ClientPublicValue, pkinit.AgreementPolicy{AllowGroup2: slices.Contains(k.cfg.DHGroups, pkinit.MODPGroup2)})
	switch {
	case err != nil && errors.Is(err, pkinit.ErrWeakGroup):
		return nil, k.dhParamsRejection(err)
	case err != nil:
		return nil, reject(pkinit.ErrorCode(err), err, "client public value")
	case pub.Curve != 0 && !slices.Contains(k.cfg.Curves, pub.Curve):
		return nil, k.dhParamsRejection(fmt.Errorf("curve %s not accepted", curveName(pub.Curve)))
	case pub.Curve == 0 && !slices.Contains(k.cfg.DHGroups, pub.Group):
		return nil, k.dhParamsRejection(fmt.Errorf("MODP group %d not accepted", pub.Group))
	}
	if pub.Curve != 0 {
		rec.KeyExch = "ecdh-" + curveName(pub.Curve)
	} else {
		rec.KeyExch = fmt.Sprintf("dh-group%d", pub.Group)
	}
	var serverNonce []byte
	if ap.ClientDHNonce != nil {
		serverNonce = make([]byte, 32)
		if _, err := k.rand.Read(serverNonce); err != nil {
			return nil, err
		}
	}
	params := pkinit.DHReplyParams{
		AuthPack:      ap,
		ClientPublic:  pub,
		Policy:        pkinit.AgreementPolicy{AllowGroup2: slices.Contains(k.cfg.DHGroups, pkinit.MODPGroup2)},
		KDFs:          k.cfg.KDFs,
		EType:         etype,
		KDFInputs:     in,
		ServerDHNonce: serverNonce,
		Identity:      k.signer,
		Rand:          k.rand,
	}
	if k.cfg.DHKeyReuse > 0 {
		params.ServerKey, params.ServerKeyExpiration = k.reusableDHKey(pub)
	}
	reply, err := pkinit.BuildDHReply(params)
	if err != nil {
		return nil, reject(pkinit.ErrorCode(err), err, "key agreement")
	}
	return reply, nil
}

func curveName(c pkinit.Curve) string {
	switch c {
	case pkinit.CurveP256:
		return "P-256"
	case pkinit.CurveP384:
		return "P-384"
	case pkinit.CurveP521:
		return "P-521"
	}
	return fmt.Sprintf("curve %d", c)
}

// dhParamsRejection is KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED with the
// groups the KDC does accept, so the client can retry (RFC 4556 §3.2.2).
func (k *KDC) dhParamsRejection(err error) error {
	r := reject(pkinit.KDCErrDHKeyParametersNotAccepted, err, "key-agreement parameters not accepted")
	params, perr := pkinit.DHParameters(k.cfg.DHGroups...)
	if perr == nil {
		if td, perr := pkinit.MarshalTDDHParameters(params); perr == nil {
			r.edata, _ = pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDDHParameters, Value: td}})
		}
	}
	return r
}

// trustedCertifiersEData names the anchors (TD-TRUSTED-CERTIFIERS) so a
// client with several certificates can pick one that chains to them.
func (k *KDC) trustedCertifiersEData() []byte {
	var ids []pkinit.ExternalPrincipalIdentifier
	for _, c := range k.cfg.Anchors {
		ids = append(ids, pkinit.ExternalPrincipalIdentifier{SubjectName: c.RawSubject})
	}
	v, err := pkinit.MarshalExternalPrincipalIdentifiers(ids)
	if err != nil {
		return nil
	}
	b, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDTrustedCertifiers, Value: v}})
	return b
}

// invalidCertificatesEData names the refused certificate by issuer and serial
// (TD-INVALID-CERTIFICATES).
func invalidCertificatesEData(cert *x509.Certificate) []byte {
	ias, err := asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial asn1.RawValue
	}{asn1.RawValue{FullBytes: cert.RawIssuer}, serialRaw(cert)})
	if err != nil {
		return nil
	}
	v, err := pkinit.MarshalExternalPrincipalIdentifiers([]pkinit.ExternalPrincipalIdentifier{{IssuerAndSerialNumber: ias}})
	if err != nil {
		return nil
	}
	b, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDInvalidCertificates, Value: v}})
	return b
}

func serialRaw(cert *x509.Certificate) asn1.RawValue {
	b, _ := asn1.Marshal(cert.SerialNumber)
	return asn1.RawValue{FullBytes: b}
}

// buildPAC makes the TGT's PAC, signed with the ticket's server key and the
// krbtgt key.
func (k *KDC) buildPAC(acct mapping.Account, spec ticketSpec, serverKey Key) (types.AuthorizationData, error) {
	domainSID, rid, ok := splitSID(acct.SID)
	if !ok {
		return nil, reject(errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN, nil, "account %s has no usable objectSid for the PAC", acct.DN)
	}
	info := pac.Info{
		LogonTime:          spec.AuthTime,
		Account:            acct.SAMAccountName,
		NetBIOSDomain:      netbiosName(k.realm),
		DomainSID:          domainSID,
		UserRID:            rid,
		PrimaryGroupRID:    513,  // Domain Users
		UserAccountControl: 0x10, // USER_NORMAL_ACCOUNT
		ClientName:         strings.Join(spec.Client.NameString, "/"),
		AuthTime:           spec.AuthTime,
		UPN:                acct.UPN,
		DNSDomain:          strings.ToLower(k.realm),
		RequestorSID:       acct.SID,
		Attributes:         pac.PACWasRequested,
	}
	if d, r, ok := splitSID(acct.PrimaryGroupSID); ok && d.String() == domainSID.String() {
		info.PrimaryGroupRID = r
	}
	info.GroupRIDs = append(info.GroupRIDs, info.PrimaryGroupRID)
	for _, g := range acct.GroupSIDs {
		if d, r, ok := splitSID(g); ok && d.String() == domainSID.String() {
			info.GroupRIDs = append(info.GroupRIDs, r)
		} else {
			info.ExtraSIDs = append(info.ExtraSIDs, g)
		}
	}
	krbtgtKey, _ := k.keys.Key(k.krbtgt, 0)
	kdcKey, err := pac.NewKey(krbtgtKey.EType, krbtgtKey.Value)
	if err != nil {
		return nil, err
	}
	srvKey, err := pac.NewKey(serverKey.EType, serverKey.Value)
	if err != nil {
		return nil, err
	}
	b, err := pac.Build(info, srvKey, kdcKey)
	if err != nil {
		return nil, fmt.Errorf("kdc: build PAC: %w", err)
	}
	return pac.AuthorizationData(b)
}

// netbiosName is the realm's first label, upper-case, as AD's default.
func netbiosName(realm string) string {
	label, _, _ := strings.Cut(realm, ".")
	if len(label) > 15 {
		label = label[:15]
	}
	return strings.ToUpper(label)
}
