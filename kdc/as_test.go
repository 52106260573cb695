package kdc_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"log"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/config"
	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	krbpac "github.com/jcmturner/gokrb5/v8/pac"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// lastAS is the audit record of the KDC's latest AS attempt.
func lastAS(t *testing.T, k *runningKDC) kdc.AuditRecord {
	t.Helper()
	recs := auditRecords(t, k)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == "AS" {
			return recs[i]
		}
	}
	t.Fatal("no AS record in the audit log")
	return kdc.AuditRecord{}
}

// wantError checks a KRB-ERROR's code, its e-data's TYPED-DATA types (or
// METHOD-DATA padata types for the pre-auth errors) and the audit record.
func wantError(t *testing.T, k *runningKDC, r kdcReply, code krberror.Code, reason string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("KDC answered, want error %d", code)
	}
	if krberror.Code(r.err.ErrorCode) != code {
		t.Fatalf("KDC answered error %d (%s), want %d", r.err.ErrorCode, r.err.EText, code)
	}
	rec := lastAS(t, k)
	if rec.Code != code || !strings.Contains(rec.Reason, reason) || rec.Result == "ok" || rec.Result == "" {
		t.Fatalf("audit record %+v, want code %d and a reason with %q", rec, code, reason)
	}
}

func typedDataTypes(t *testing.T, edata []byte) []pkinit.TDType {
	t.Helper()
	tds, err := pkinit.ParseTypedData(edata)
	if err != nil {
		t.Fatalf("e-data is not TYPED-DATA: %v", err)
	}
	var out []pkinit.TDType
	for _, td := range tds {
		out = append(out, td.Type)
	}
	return out
}

func methodData(t testing.TB, edata []byte) map[int32][]byte {
	t.Helper()
	var seq types.PADataSequence
	if _, err := asn1.Unmarshal(edata, &seq); err != nil {
		t.Fatalf("e-data is not METHOD-DATA: %v", err)
	}
	out := map[int32][]byte{}
	for _, pa := range seq {
		out[pa.PADataType] = pa.PADataValue
	}
	return out
}

// TestCraftedClientKeyExchanges: a client built from pkinit and gokrb5 gets a
// TGT by DH (octetstring2key and the RFC 8636 KDFs, with DH nonces), ECDH on
// every curve and RSA key transport, and derives the KDC's reply key.
func TestCraftedClientKeyExchanges(t *testing.T) {
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	for _, tc := range []struct {
		name    string
		req     asRequest
		keyExch string
	}{
		{"dh-2048", asRequest{user: f.users["alice"]}, "dh-group14"},
		{"dh-2048-kdf-nonces", asRequest{user: f.users["alice"], kdfs: []pkinit.KDF{pkinit.KDFSHA512}, dhNonce: bytes.Repeat([]byte{7}, 32)}, "dh-group14"},
		// No key reuse here: the KDC ignores the nonce, as MIT's does.
		{"dh-2048-octetstring2key-nonce", asRequest{user: f.users["alice"], dhNonce: bytes.Repeat([]byte{9}, 32)}, "dh-group14"},
		{"ecdh-p256", asRequest{user: f.users["erin"], client: "erin", curve: pkinit.CurveP256, kdfs: []pkinit.KDF{pkinit.KDFSHA256}}, "ecdh-P-256"},
		{"ecdh-p384", asRequest{user: f.users["alice"], curve: pkinit.CurveP384}, "ecdh-P-384"},
		{"ecdh-p521", asRequest{user: f.users["alice"], curve: pkinit.CurveP521, kdfs: []pkinit.KDF{pkinit.KDFSHA1}}, "ecdh-P-521"},
		{"rsa", asRequest{user: f.users["alice"], rsa: true}, "rsa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.req.build(t).asOK(t, k.addr)
			if res.rep.CName.NameString[0] != tc.req.client && !(tc.req.client == "" && res.rep.CName.NameString[0] == "alice") {
				t.Errorf("AS-REP client %v", res.rep.CName)
			}
			if rec := lastAS(t, k); rec.Result != "ok" || rec.KeyExch != tc.keyExch {
				t.Errorf("audit record %+v, want ok by %s", rec, tc.keyExch)
			}
		})
	}
}

// TestNegativeCrafted is the half of the negative suite MIT kinit cannot
// express: each crafted request gets its RFC 4556 / RFC 4120 code, the e-data
// a client acts on, and an audit line with the code and the reason.
func TestNegativeCrafted(t *testing.T) {
	f := getFixture(t)
	alice := f.users["alice"]
	k := startKDC(t, f.config(t), kdc.Options{})

	t.Run("bad-signature", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, badSignature: true}.build(t).msg)
		wantError(t, k, r, krberror.InvalidSig, "does not verify")
	})
	t.Run("pachecksum-mismatch", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, wrongPAChecksum: true}.build(t).msg)
		wantError(t, k, r, krberror.APModified, "paChecksum")
	})
	t.Run("nonce-mismatch", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, wrongNonce: true}.build(t).msg)
		wantError(t, k, r, krberror.PreauthFailed, "nonce")
	})
	t.Run("stale-ctime", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, ctime: time.Now().Add(-time.Hour)}.build(t).msg)
		wantError(t, k, r, krberror.APSkew, "client time")
	})
	t.Run("future-ctime", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, ctime: time.Now().Add(10 * time.Minute)}.build(t).msg)
		wantError(t, k, r, krberror.APSkew, "client time")
	})
	t.Run("replay", func(t *testing.T) {
		b := asRequest{user: alice}.build(t)
		b.asOK(t, k.addr)
		r := send(t, k.addr, b.msg)
		wantError(t, k, r, krberror.APRepeat, "replayed")
	})
	t.Run("dh-group-2-below-policy", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: alice, group: pkinit.MODPGroup2}.build(t).msg)
		wantError(t, k, r, krberror.DHKeyParametersNotAccepted, "not accepted")
		checkDHParameters(t, r, []pkinit.Group{pkinit.MODPGroup14, pkinit.MODPGroup16, pkinit.MODPGroup18})
	})
	t.Run("unknown-ca", func(t *testing.T) {
		cfg := f.config(t)
		cfg.Anchors = cfg.Anchors[:1] // the other CA is no anchor
		k := startKDC(t, cfg, kdc.Options{})
		r := send(t, k.addr, asRequest{user: f.users["stranger"]}.build(t).msg)
		wantError(t, k, r, krberror.CantVerifyCertificate, "trusted root")
		if got := typedDataTypes(t, r.err.EData); !slices.Equal(got, []pkinit.TDType{pkinit.TDTrustedCertifiers}) {
			t.Errorf("e-data %v, want TD-TRUSTED-CERTIFIERS", got)
		}
	})
	t.Run("expired-certificate", func(t *testing.T) {
		r := send(t, k.addr, asRequest{user: f.users["expired"]}.build(t).msg)
		wantError(t, k, r, krberror.InvalidCertificate, "not now")
		if got := typedDataTypes(t, r.err.EData); !slices.Equal(got, []pkinit.TDType{pkinit.TDInvalidCertificates}) {
			t.Errorf("e-data %v, want TD-INVALID-CERTIFICATES", got)
		}
	})
	t.Run("no-padata", func(t *testing.T) {
		b := asRequest{user: alice}.build(t)
		var req messages.ASReq
		if err := req.Unmarshal(b.msg); err != nil {
			t.Fatal(err)
		}
		req.PAData = nil
		msg, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r := send(t, k.addr, msg)
		wantError(t, k, r, krberror.PreauthRequired, "pre-authentication required")
		md := methodData(t, r.err.EData)
		if _, ok := md[int32(pkinit.PAPKASReq)]; !ok {
			t.Errorf("METHOD-DATA %v does not offer PKINIT", md)
		}
		if _, ok := md[int32(pkinit.PAASFreshness)]; !ok {
			t.Errorf("METHOD-DATA %v has no freshness token", md)
		}
	})
}

// checkDHParameters: the e-data is TD-DH-PARAMETERS naming want, in order.
func checkDHParameters(t *testing.T, r kdcReply, want []pkinit.Group) {
	t.Helper()
	tds, err := pkinit.ParseTypedData(r.err.EData)
	if err != nil || len(tds) != 1 || tds[0].Type != pkinit.TDDHParameters {
		t.Fatalf("e-data %x (%v), want one TD-DH-PARAMETERS", r.err.EData, err)
	}
	params, err := pkinit.ParseTDDHParameters(tds[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	wantParams, err := pkinit.DHParameters(want...)
	if err != nil {
		t.Fatal(err)
	}
	if len(params) != len(wantParams) {
		t.Fatalf("TD-DH-PARAMETERS has %d groups, want %d", len(params), len(wantParams))
	}
	for i := range params {
		if !bytes.Equal(params[i].Parameters.FullBytes, wantParams[i].Parameters.FullBytes) {
			t.Errorf("TD-DH-PARAMETERS[%d] is not group %d", i, want[i])
		}
	}
}

// TestDHGroupPolicy: with dh_groups = 16 18 a 2048-bit request is below
// policy; the client learns the accepted groups and succeeds with one.
func TestDHGroupPolicy(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.DHGroups = []pkinit.Group{pkinit.MODPGroup16, pkinit.MODPGroup18}
	cfg.Curves = []pkinit.Curve{pkinit.CurveP384}
	k := startKDC(t, cfg, kdc.Options{})
	r := send(t, k.addr, asRequest{user: f.users["alice"]}.build(t).msg)
	wantError(t, k, r, krberror.DHKeyParametersNotAccepted, "MODP group 14 not accepted")
	checkDHParameters(t, r, cfg.DHGroups)
	// The e-text says what the KDC accepts and what a client sets, for
	// clients that show it rather than retry with TD-DH-PARAMETERS (Heimdal).
	want := "this KDC accepts MODP group 16 (4096 bits), MODP group 18 (8192 bits), ECDH P-384; set pkinit_dh_min_bits = 4096 in [libdefaults]"
	if !strings.HasSuffix(r.err.EText, want) {
		t.Errorf("e-text %q, want it to end %q", r.err.EText, want)
	}
	r = send(t, k.addr, asRequest{user: f.users["alice"], curve: pkinit.CurveP256}.build(t).msg)
	wantError(t, k, r, krberror.DHKeyParametersNotAccepted, "curve P-256 not accepted")
	asRequest{user: f.users["alice"], group: pkinit.MODPGroup16}.build(t).asOK(t, k.addr)
}

// TestKeyTransportDisabled: key_transport = false refuses RSA key transport.
func TestKeyTransportDisabled(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.NoKeyTransport = true
	k := startKDC(t, cfg, kdc.Options{})
	r := send(t, k.addr, asRequest{user: f.users["alice"], rsa: true}.build(t).msg)
	wantError(t, k, r, krberror.PublicKeyEncryptionNotSupported, "key transport is disabled")
}

// TestFreshness: with freshness required, a request without a token is
// refused with KDC_ERR_PREAUTH_FAILED and a new token; one with the token
// succeeds; a token older than its lifetime gets KDC_ERR_PREAUTH_EXPIRED.
func TestFreshness(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.Freshness = kdc.FreshnessRequired
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	offset := time.Duration(0)
	now := func() time.Time {
		<-mu
		defer func() { mu <- struct{}{} }()
		return time.Now().Add(offset)
	}
	setOffset := func(d time.Duration) { <-mu; offset = d; mu <- struct{}{} }
	k := startKDC(t, cfg, kdc.Options{Now: now})
	alice := f.users["alice"]

	r := send(t, k.addr, asRequest{user: alice}.build(t).msg)
	wantError(t, k, r, krberror.PreauthFailed, "freshness token required")
	token := methodData(t, r.err.EData)[int32(pkinit.PAASFreshness)]
	if len(token) == 0 {
		t.Fatal("refusal carries no freshness token")
	}
	asRequest{user: alice, freshness: token}.build(t).asOK(t, k.addr)

	r = send(t, k.addr, asRequest{user: alice, freshness: []byte("forged")}.build(t).msg)
	wantError(t, k, r, krberror.PreauthExpired, "malformed freshness token")

	setOffset(11 * time.Minute)
	r = send(t, k.addr, asRequest{user: alice, freshness: token, ctime: time.Now().Add(11 * time.Minute)}.build(t).msg)
	wantError(t, k, r, krberror.PreauthExpired, "outside its lifetime")
	if len(methodData(t, r.err.EData)[int32(pkinit.PAASFreshness)]) == 0 {
		t.Error("KDC_ERR_PREAUTH_EXPIRED carries no new token")
	}
}

// TestDHLeadingZeroSecret: a DH exchange whose shared secret starts with a
// zero byte succeeds. The KDC reuses its DH key (dh_key_reuse), so after one
// exchange the test knows the KDC's public value and searches client keys
// until the secret's first byte is 0x00 (1 in 256); the KDC must pad the
// secret to the modulus size exactly as the client does, or the enc-part
// would not decrypt.
func TestDHLeadingZeroSecret(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.DHKeyReuse = time.Hour
	k := startKDC(t, cfg, kdc.Options{})
	alice := f.users["alice"]
	for _, tc := range []struct {
		name  string
		group pkinit.Group
		curve pkinit.Curve
	}{{"dh-2048", pkinit.MODPGroup14, 0}, {"ecdh-p256", 0, pkinit.CurveP256}} {
		t.Run(tc.name, func(t *testing.T) {
			first := asRequest{user: alice, group: tc.group, curve: tc.curve}.build(t)
			rep := sendAndParseDHRep(t, k.addr, first)
			var key *pkinit.DHKey
			for i := 0; i < 10000 && key == nil; i++ {
				c, err := pkinit.NewAgreementKey(tc.curve, tc.group, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				s, err := c.SharedSecret(rep)
				if err != nil {
					t.Fatal(err)
				}
				if s[0] == 0 {
					key = c
				}
			}
			if key == nil {
				t.Fatal("no client key with a leading-zero secret in 10000 tries")
			}
			b := asRequest{user: alice, key: key}.build(t)
			b.asOK(t, k.addr)
			// The same with an RFC 8636 KDF.
			asRequest{user: alice, key: key, kdfs: []pkinit.KDF{pkinit.KDFSHA256}}.build(t).asOK(t, k.addr)
		})
	}
}

// sendAndParseDHRep does a DH exchange and returns the KDC's public value.
func sendAndParseDHRep(t *testing.T, addr string, b *builtAS) []byte {
	t.Helper()
	res := b.asOK(t, addr)
	for _, pa := range res.rep.PAData {
		if pa.PADataType != int32(pkinit.PAPKASRep) {
			continue
		}
		rep, err := pkinit.ParsePKASRep(pa.PADataValue)
		if err != nil || rep.DHInfo == nil {
			t.Fatalf("PA-PK-AS-REP: %v", err)
		}
		sc, err := pkinit.VerifySignedData(rep.DHInfo.DHSignedData, pkinit.VerifyOptions{ContentType: pkinit.ContentDHKeyData})
		if err != nil {
			t.Fatal(err)
		}
		info, err := pkinit.ParseKDCDHKeyInfo(sc.Content)
		if err != nil {
			t.Fatal(err)
		}
		if info.DHKeyExpiration.IsZero() {
			t.Fatal("a reused KDC key comes without dhKeyExpiration")
		}
		return info.SubjectPublicKey
	}
	t.Fatal("AS-REP without PA-PK-AS-REP")
	return nil
}

// ticketPAC decrypts a ticket with its server's key from the KDC's store and
// parses its PAC with gokrb5, which checks the server signature.
func ticketPAC(t *testing.T, k *runningKDC, tkt messages.Ticket) (messages.EncTicketPart, *krbpac.PACType) {
	t.Helper()
	server := strings.Join(tkt.SName.NameString, "/") + "@" + tkt.Realm
	key, ok := k.Keys().Key(server, tkt.EncPart.EType)
	if !ok {
		t.Fatalf("no key for %s", server)
	}
	ek := types.EncryptionKey{KeyType: key.EType, KeyValue: key.Value}
	plain, err := krbcrypto.DecryptEncPart(tkt.EncPart, ek, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatalf("ticket does not decrypt with the key of %s: %v", server, err)
	}
	var part messages.EncTicketPart
	if err := part.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	for _, ad := range part.AuthorizationData {
		if ad.ADType != 1 { // AD-IF-RELEVANT
			continue
		}
		var inner types.AuthorizationData
		if _, err := asn1.Unmarshal(ad.ADData, &inner); err != nil {
			t.Fatal(err)
		}
		for _, e := range inner {
			if e.ADType != 128 { // AD-WIN2K-PAC
				continue
			}
			var p krbpac.PACType
			if err := p.Unmarshal(e.ADData); err != nil {
				t.Fatalf("gokrb5 cannot parse the PAC: %v", err)
			}
			if err := p.ProcessPACInfoBuffers(ek, log.New(io.Discard, "", 0)); err != nil {
				t.Fatalf("gokrb5 rejects the PAC: %v", err)
			}
			return part, &p
		}
	}
	t.Fatal("ticket has no PAC")
	return part, nil
}

func checkAlicePAC(t *testing.T, p *krbpac.PACType) {
	t.Helper()
	v := p.KerbValidationInfo
	if v == nil || p.ClientInfo == nil || p.UPNDNSInfo == nil || p.ServerChecksum == nil || p.KDCChecksum == nil {
		t.Fatalf("PAC buffers missing: %+v", p)
	}
	if v.EffectiveName.Value != "alice" || v.UserID != 1104 || v.PrimaryGroupID != 513 {
		t.Errorf("KERB_VALIDATION_INFO name %q RID %d primary group %d", v.EffectiveName.Value, v.UserID, v.PrimaryGroupID)
	}
	if got := v.LogonDomainID.String(); got != "S-1-5-21-1111-2222-3333" {
		t.Errorf("logon domain SID %s", got)
	}
	sids := v.GetGroupMembershipSIDs()
	for _, want := range []string{"S-1-5-21-1111-2222-3333-513", "S-1-5-21-1111-2222-3333-1200"} {
		if !slices.Contains(sids, want) {
			t.Errorf("group SIDs %v lack %s", sids, want)
		}
	}
	if p.ClientInfo.Name != "alice" {
		t.Errorf("PAC_CLIENT_INFO name %q", p.ClientInfo.Name)
	}
	if p.UPNDNSInfo.UPN != "alice@example.com" || !strings.EqualFold(p.UPNDNSInfo.DNSDomain, "example.com") {
		t.Errorf("UPN_DNS_INFO %q %q", p.UPNDNSInfo.UPN, p.UPNDNSInfo.DNSDomain)
	}
}

// TestPACParsesWithGokrb5: the TGT's PAC, decrypted with the krbtgt key from
// the KDC's store, is parsed by gokrb5's pac package, its server signature
// verifies, and it names alice's SID, primary group and groups from the
// directory; the service ticket's PAC, re-signed for the service, does too.
// A renewal keeps the PAC and extends the ticket; a non-renewable or
// renewed-past-renew-till ticket is refused.
func TestPACAndTGS(t *testing.T) {
	f := getFixture(t)
	k := startKDC(t, f.config(t), kdc.Options{})
	alice := f.users["alice"]
	res := asRequest{user: alice, renewable: true}.build(t).asOK(t, k.addr)
	_, p := ticketPAC(t, k, res.rep.Ticket)
	checkAlicePAC(t, p)
	if !types.IsFlagSet(&res.enc.Flags, 8) || res.enc.RenewTill.IsZero() {
		t.Fatalf("TGT not renewable: flags %x renew-till %v", res.enc.Flags.Bytes, res.enc.RenewTill)
	}

	cname := res.rep.CName
	conf := config.New()
	conf.LibDefaults.NoAddresses = true
	tgsEx := func(t *testing.T, tkt messages.Ticket, key types.EncryptionKey, sname types.PrincipalName, renew bool) (kdcReply, messages.TGSRep) {
		t.Helper()
		req, err := messages.NewTGSReq(cname, realm, conf, tkt, key, sname, renew)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r := send(t, k.addr, msg)
		var rep messages.TGSRep
		if r.err == nil {
			if err := rep.Unmarshal(r.raw); err != nil {
				t.Fatal(err)
			}
			plain, err := krbcrypto.DecryptEncPart(rep.EncPart, key, keyusage.TGS_REP_ENCPART_SESSION_KEY)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.DecryptedEncPart.Unmarshal(plain); err != nil {
				t.Fatalf("EncTGSRepPart: %v", err)
			}
		}
		return r, rep
	}

	t.Run("till-no-limit", func(t *testing.T) {
		// Heimdal's krb5_get_creds asks for till = 19700101000000Z, which
		// RFC 4120 §5.4.1 defines as "no limit". gokrb5 sets till to now +
		// TicketLifetime: a lifetime back to the epoch encodes as that
		// (KerberosTime has whole seconds).
		old := conf.LibDefaults.TicketLifetime
		conf.LibDefaults.TicketLifetime = -time.Since(time.Unix(0, 0))
		defer func() { conf.LibDefaults.TicketLifetime = old }()
		sname := types.PrincipalName{NameType: 3, NameString: []string{"host", "ws1.example.com"}}
		r, rep := tgsEx(t, res.rep.Ticket, res.enc.Key, sname, false)
		if r.err != nil {
			t.Fatalf("till 19700101000000Z: %d %s", r.err.ErrorCode, r.err.EText)
		}
		if end := rep.DecryptedEncPart.EndTime; !end.Equal(res.enc.EndTime.Truncate(time.Second)) && !end.Equal(res.enc.EndTime) {
			t.Errorf("service ticket ends %v, want the TGT's end %v", end, res.enc.EndTime)
		}
	})
	t.Run("service-ticket", func(t *testing.T) {
		sname := types.PrincipalName{NameType: 3, NameString: []string{"host", "ws1.example.com"}}
		r, rep := tgsEx(t, res.rep.Ticket, res.enc.Key, sname, false)
		if r.err != nil {
			t.Fatalf("TGS: %d %s", r.err.ErrorCode, r.err.EText)
		}
		_, sp := ticketPAC(t, k, rep.Ticket)
		checkAlicePAC(t, sp)
		recs := auditRecords(t, k)
		if last := recs[len(recs)-1]; last.Type != "TGS" || last.Result != "ok" || last.Service != "host/ws1.example.com@"+realm {
			t.Errorf("audit record %+v", last)
		}
		// Unknown service.
		r, _ = tgsEx(t, res.rep.Ticket, res.enc.Key, types.PrincipalName{NameType: 3, NameString: []string{"host", "nowhere"}}, false)
		if r.err == nil || krberror.Code(r.err.ErrorCode) != krberror.SPrincipalUnknown {
			t.Fatalf("unknown service: %+v", r.err)
		}
		// The KRB-ERROR names the server asked for (RFC 4120 §5.9.1), so
		// a client reports "host/nowhere not found", not krbtgt.
		if got := strings.Join(r.err.SName.NameString, "/") + "@" + r.err.Realm; got != "host/nowhere@"+realm {
			t.Errorf("KRB-ERROR names the server %s, want host/nowhere@%s", got, realm)
		}
	})
	t.Run("renewal", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // the renewed ticket starts later
		r, rep := tgsEx(t, res.rep.Ticket, res.enc.Key, res.rep.Ticket.SName, true)
		if r.err != nil {
			t.Fatalf("renewal: %d %s", r.err.ErrorCode, r.err.EText)
		}
		enc := rep.DecryptedEncPart
		if !enc.StartTime.After(res.enc.StartTime) || !enc.EndTime.After(res.enc.EndTime) || !enc.RenewTill.Equal(res.enc.RenewTill) {
			t.Errorf("renewed %v–%v (till %v), was %v–%v (till %v)", enc.StartTime, enc.EndTime, enc.RenewTill, res.enc.StartTime, res.enc.EndTime, res.enc.RenewTill)
		}
		if types.IsFlagSet(&enc.Flags, 9) {
			t.Error("a renewed ticket is still INITIAL")
		}
		_, rp := ticketPAC(t, k, rep.Ticket)
		checkAlicePAC(t, rp)
		// The renewed TGT works for a service ticket.
		sname := types.PrincipalName{NameType: 3, NameString: []string{"host", "ws1.example.com"}}
		if r, _ := tgsEx(t, rep.Ticket, enc.Key, sname, false); r.err != nil {
			t.Fatalf("TGS with the renewed TGT: %d %s", r.err.ErrorCode, r.err.EText)
		}
	})
	t.Run("not-renewable", func(t *testing.T) {
		plain := asRequest{user: alice}.build(t).asOK(t, k.addr)
		r, _ := tgsEx(t, plain.rep.Ticket, plain.enc.Key, plain.rep.Ticket.SName, true)
		if r.err == nil || krberror.Code(r.err.ErrorCode) != krberror.BadOption {
			t.Fatalf("renewing a non-renewable ticket: %+v", r.err)
		}
	})
}
