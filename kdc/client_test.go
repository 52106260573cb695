package kdc_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/pkinit"
)

// asRequest is a PKINIT AS-REQ crafted in the test, with knobs for every way
// the negative suite breaks one. The zero value (plus a user) is a valid
// DH-2048 request for alice.
type asRequest struct {
	user   user
	client string // default "alice"

	group pkinit.Group // default MODP 14
	curve pkinit.Curve
	rsa   bool
	key   *pkinit.DHKey // use this client key instead of a fresh one

	ctime     time.Time // default now
	freshness []byte
	kdfs      []pkinit.KDF
	dhNonce   []byte

	// Breakage.
	wrongPAChecksum bool
	wrongNonce      bool
	badSignature    bool
	renewable       bool
}

// builtAS is a request ready to send, and what the client keeps to read the
// reply.
type builtAS struct {
	msg    []byte
	key    *pkinit.DHKey
	nonce  uint32
	client pkinit.KRB5PrincipalName
	req    asRequest
}

func randUint32(t testing.TB) uint32 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<31))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n.Int64())
}

func (r asRequest) build(t testing.TB) *builtAS {
	t.Helper()
	if r.client == "" {
		r.client = "alice"
	}
	now := time.Now()
	if r.ctime.IsZero() {
		r.ctime = now
	}
	nonce := randUint32(t)
	body := messages.KDCReqBody{
		KDCOptions: types.NewKrbFlags(),
		CName:      types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, r.client),
		Realm:      realm,
		SName:      types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", realm}},
		Till:       now.Add(10 * time.Hour).UTC().Truncate(time.Second),
		Nonce:      int(nonce),
		EType:      []int32{18, 17},
	}
	if r.renewable {
		types.SetFlag(&body.KDCOptions, 8) // renewable
		body.RTime = now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	}
	bodyDER, err := body.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ap := &pkinit.AuthPack{
		PKAuthenticator: pkinit.PKAuthenticator{
			Cusec:          r.ctime.Nanosecond() / 1000,
			CTime:          r.ctime.UTC().Truncate(time.Second),
			Nonce:          nonce,
			PAChecksum:     pkinit.PAChecksum(bodyDER),
			FreshnessToken: r.freshness,
		},
		ClientDHNonce: r.dhNonce,
		SupportedKDFs: r.kdfs,
	}
	if r.wrongPAChecksum {
		ap.PKAuthenticator.PAChecksum = pkinit.PAChecksum(append(bodyDER, 0))
	}
	if r.wrongNonce {
		ap.PKAuthenticator.Nonce = nonce + 1
	}
	b := &builtAS{nonce: nonce, req: r,
		client: pkinit.KRB5PrincipalName{Realm: realm, NameType: nametype.KRB_NT_PRINCIPAL, Name: []string{r.client}}}
	if !r.rsa {
		switch {
		case r.key != nil:
			b.key = r.key
		case r.curve != 0:
			b.key, err = pkinit.NewECDHKey(r.curve, rand.Reader)
		default:
			g := r.group
			if g == 0 {
				g = pkinit.MODPGroup14
			}
			b.key, err = pkinit.NewDHKey(g, rand.Reader)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ap.ClientPublicValue, err = b.key.PublicKeyInfo(); err != nil {
			t.Fatal(err)
		}
	}
	var chain []*x509.Certificate
	if f := getFixture(t); r.user.cert.Issuer.String() == f.ca.Issuer().Subject.String() {
		chain = []*x509.Certificate{f.ca.Issuer()}
	}
	authPack, err := ap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := pkinit.SignData(authPack, pkinit.ContentAuthData, r.user.key, r.user.cert, pkinit.SignOptions{Chain: chain, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if r.badSignature {
		// The signature is the SignedData's last field: flip its last bit.
		signed[len(signed)-1] ^= 1
	}
	pa, err := (&pkinit.PKASReq{SignedAuthPack: signed}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req := messages.ASReq{KDCReqFields: messages.KDCReqFields{
		PVNO: 5, MsgType: 10, ReqBody: body,
		PAData: types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: pa}},
	}}
	if b.msg, err = req.Marshal(); err != nil {
		t.Fatal(err)
	}
	return b
}

// kdcReply is a decoded answer: an AS-REP, TGS-REP or KRB-ERROR.
type kdcReply struct {
	raw []byte
	err *messages.KRBError
}

func exchangeTCP(t testing.TB, addr string, msg []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	if _, err := c.Write(append(frame, msg...)); err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	return reply
}

func send(t testing.TB, addr string, msg []byte) kdcReply {
	t.Helper()
	raw := exchangeTCP(t, addr, msg)
	r := kdcReply{raw: raw}
	if len(raw) > 0 && raw[0] == 0x7e {
		var e messages.KRBError
		if err := e.Unmarshal(raw); err != nil {
			t.Fatalf("KRB-ERROR does not decode: %v", err)
		}
		r.err = &e
	}
	return r
}

// asResult is a TGT the crafted client obtained.
type asResult struct {
	rep      messages.ASRep
	enc      messages.EncKDCRepPart
	replyKey types.EncryptionKey
}

// asOK sends b and reads an AS-REP the way a client does: the KDC's signed
// reply, the reply key from it, the enc-part decrypted with that key.
func (b *builtAS) asOK(t testing.TB, addr string) *asResult {
	t.Helper()
	return b.readASRep(t, exchangeTCP(t, addr, b.msg))
}

// readASRep reads the KDC's answer to b.
func (b *builtAS) readASRep(t testing.TB, raw []byte) *asResult {
	t.Helper()
	return b.readReply(t, raw, getFixture(t).kdcCert)
}

// readASRepFrom exchanges b with the KDC at addr, whose certificate is kdcCert.
func (b *builtAS) readASRepFrom(t testing.TB, addr string, kdcCert *x509.Certificate) *asResult {
	t.Helper()
	return b.readReply(t, exchangeTCP(t, addr, b.msg), kdcCert)
}

func (b *builtAS) readReply(t testing.TB, raw []byte, kdcCert *x509.Certificate) *asResult {
	t.Helper()
	if len(raw) > 0 && raw[0] == 0x7e {
		var e messages.KRBError
		_ = e.Unmarshal(raw)
		t.Fatalf("KDC refused: %d %s", e.ErrorCode, e.EText)
	}
	var rep messages.ASRep
	if err := rep.Unmarshal(raw); err != nil {
		t.Fatalf("AS-REP: %v", err)
	}
	var pkRep []byte
	for _, pa := range rep.PAData {
		if pa.PADataType == int32(pkinit.PAPKASRep) {
			pkRep = pa.PADataValue
		}
	}
	params := pkinit.ClientReplyParams{
		Key: b.key, Nonce: b.nonce, ClientDHNonce: b.req.dhNonce, EType: rep.EncPart.EType,
		KDFInputs: pkinit.KDFInputs{Client: b.client,
			KDC:   pkinit.KRB5PrincipalName{Realm: realm, NameType: nametype.KRB_NT_SRV_INST, Name: []string{"krbtgt", realm}},
			ASReq: b.msg},
		Certificate: b.req.user.cert, Rand: rand.Reader,
	}
	if b.req.rsa {
		params.Decrypter = b.req.user.key.(crypto.Decrypter)
	}
	key, signed, err := pkinit.ClientReplyKey(pkRep, params)
	if err != nil {
		t.Fatalf("reply key: %v", err)
	}
	if !signed.Signer.Equal(kdcCert) {
		t.Fatalf("reply signed by %s", signed.Signer.Subject)
	}
	res := &asResult{rep: rep, replyKey: types.EncryptionKey{KeyType: key.KeyType, KeyValue: key.KeyValue}}
	plain, err := krbcrypto.DecryptEncPart(rep.EncPart, res.replyKey, keyusage.AS_REP_ENCPART)
	if err != nil {
		t.Fatalf("the enc-part does not decrypt with the reply key: %v", err)
	}
	if err := res.enc.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	if res.enc.Nonce != int(b.nonce) {
		t.Fatalf("EncASRepPart nonce %d, want %d", res.enc.Nonce, b.nonce)
	}
	return res
}
