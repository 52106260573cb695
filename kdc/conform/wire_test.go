package conform

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	gasn1 "github.com/jcmturner/gofork/encoding/asn1"
	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/pkinit"
)

// wireClient is a PKINIT client written here from the pkinit primitives,
// to send one AS-REQ and take the reply apart field by field.
type wireClient struct {
	exchange Exchange
	dh       *pkinit.DHKey // nil for key transport
	prime    *big.Int
	signer   crypto.Signer
	cert     *x509.Certificate
	body     messages.KDCReqBody
	authPack *pkinit.AuthPack
	msg      []byte
}

func newWireClient(t *testing.T, p *PKI, ex Exchange) *wireClient {
	t.Helper()
	return newWireClientIn(t, p, ex, pkinit.MODPGroup14)
}

// newWireClientIn is a client that offers group for MODP.
func newWireClientIn(t *testing.T, p *PKI, ex Exchange, group pkinit.Group) *wireClient {
	t.Helper()
	keyPEM, err := os.ReadFile(p.ClientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(p.ClientCertPath())
	if err != nil {
		t.Fatal(err)
	}
	c := &wireClient{exchange: ex}
	if c.signer, err = pki.ParseKeyPEM(keyPEM); err != nil {
		t.Fatal(err)
	}
	if c.cert, err = pki.ParseCertPEM(certPEM); err != nil {
		t.Fatal(err)
	}
	switch ex {
	case ExchangeMODP:
		c.dh, err = pkinit.NewDHKey(group, rand.Reader)
	case ExchangeECDH:
		c.dh, err = pkinit.NewECDHKey(pkinit.CurveP256, rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.msg = c.asReq(t, p.Realm)
	return c
}

// asReq builds the AS-REQ: a body, its paChecksum in a signed AuthPack.
func (c *wireClient) asReq(t *testing.T, realm string) []byte {
	t.Helper()
	nonce := make([]byte, 4)
	rand.Read(nonce)
	c.body = messages.KDCReqBody{
		KDCOptions: gasn1.BitString{Bytes: make([]byte, 4), BitLength: 32},
		CName:      types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"),
		Realm:      realm,
		SName:      types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm),
		Till:       time.Now().Add(time.Hour).UTC().Truncate(time.Second),
		Nonce:      int(new(big.Int).SetBytes(nonce).Int64() & 0x7fffffff),
		EType:      []int32{etypeAES256},
	}
	body, err := c.body.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c.authPack = &pkinit.AuthPack{
		PKAuthenticator:   pkinit.PKAuthenticator{CTime: time.Now().UTC().Truncate(time.Second), Nonce: uint32(c.body.Nonce), PAChecksum: pkinit.PAChecksum(body)},
		SupportedCMSTypes: []pkix.AlgorithmIdentifier{{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}}}, // sha256WithRSAEncryption
		SupportedKDFs:     []pkinit.KDF{pkinit.KDFSHA256},
	}
	if c.dh != nil {
		if c.authPack.ClientPublicValue, err = c.dh.PublicKeyInfo(); err != nil {
			t.Fatal(err)
		}
		if c.exchange == ExchangeMODP {
			if c.prime, err = dhPrime(c.authPack.ClientPublicValue); err != nil {
				t.Fatal(err)
			}
		}
	}
	pa, err := pkinit.BuildPKASReq(c.authPack, c.signer, c.cert, pkinit.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := (&messages.ASReq{KDCReqFields: messages.KDCReqFields{PVNO: 5, MsgType: 10,
		PAData: types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: pa}}, ReqBody: c.body}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// defects are what a reply shows a careful client, by fault name.
type defects map[string]bool

func (d defects) names() []string {
	var out []string
	for n := range d {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// inspect takes a reply apart and names every defect it finds. Checks that
// need the reply key are skipped when a defect upstream hides it.
func (c *wireClient) inspect(t *testing.T, p *PKI, reply []byte) defects {
	t.Helper()
	d := defects{}
	var krbErr messages.KRBError
	if krbErr.Unmarshal(reply) == nil {
		if krbErr.ErrorCode == 65 && offersOnlyGroup2(t, krbErr.EData) {
			d["dh-group-downgrade"] = true
			return d
		}
		t.Fatalf("KRB-ERROR %d: %s", krbErr.ErrorCode, krbErr.EText)
	}
	var rep messages.ASRep
	if err := rep.Unmarshal(reply); err != nil {
		t.Fatalf("AS-REP: %v", err)
	}
	if rep.CName.PrincipalNameString() != c.body.CName.PrincipalNameString() {
		d["as-rep-cname"] = true
	}
	pk := c.parsePKASRep(t, rep)
	var key pkinit.EncryptionKey
	var ok bool
	if pk.DHInfo != nil {
		key, ok = c.inspectDH(t, p, pk, d)
	} else {
		if c.dh != nil {
			d["key-transport-for-dh"] = true
		}
		key, ok = c.inspectKeyTransport(t, p, pk, d)
	}
	if ok {
		c.inspectEncPart(t, rep, key, d)
	}
	return d
}

func (c *wireClient) parsePKASRep(t *testing.T, rep messages.ASRep) *pkinit.PKASRep {
	t.Helper()
	if len(rep.PAData) != 1 || rep.PAData[0].PADataType != int32(pkinit.PAPKASRep) {
		t.Fatalf("AS-REP padata: %+v", rep.PAData)
	}
	pk, err := pkinit.ParsePKASRep(rep.PAData[0].PADataValue)
	if err != nil {
		t.Fatalf("PA-PK-AS-REP: %v", err)
	}
	return pk
}

// inspectSigned verifies a reply SignedData and the KDC certificate.
func (c *wireClient) inspectSigned(t *testing.T, p *PKI, signed []byte, ct pkinit.ContentType, d defects) *pkinit.SignedContent {
	t.Helper()
	sc, err := pkinit.VerifySignedData(signed, pkinit.VerifyOptions{ContentType: ct, AllowSHA1: true})
	if errors.Is(err, pkinit.ErrBadSignature) {
		d["kdc-signature"] = true
		return nil // nothing past a broken signature is the KDC's word
	}
	if err != nil {
		t.Fatalf("reply SignedData: %v", err)
	}
	if sc.Hash == crypto.SHA1 {
		d["sha1-signature"] = true
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.Anchor)
	_, err = sc.Signer.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		d["expired-kdc-cert"] = true
	case errors.As(err, new(x509.UnknownAuthorityError)):
		d["untrusted-ca"] = true
	case err != nil:
		t.Fatalf("KDC certificate: %v", err)
	}
	hasKDCEKU := false
	for _, eku := range sc.Signer.UnknownExtKeyUsage {
		hasKDCEKU = hasKDCEKU || eku.Equal(certs.OIDExtKeyUsagePKINITKDC)
	}
	if !hasKDCEKU {
		d["no-kdc-eku"] = true
	}
	sans, err := certs.PKINITSANs(sc.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if len(sans) != 1 || sans[0].String() != "krbtgt/"+p.Realm+"@"+p.Realm {
		d["wrong-krbtgt-san"] = true
	}
	return sc
}

// inspectDH checks the KDCDHKeyInfo and derives the reply key.
func (c *wireClient) inspectDH(t *testing.T, p *PKI, pk *pkinit.PKASRep, d defects) (pkinit.EncryptionKey, bool) {
	t.Helper()
	sc := c.inspectSigned(t, p, pk.DHInfo.DHSignedData, pkinit.ContentDHKeyData, d)
	if sc == nil {
		return pkinit.EncryptionKey{}, false
	}
	info, err := pkinit.ParseKDCDHKeyInfo(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	if info.Nonce != c.authPack.PKAuthenticator.Nonce {
		d["dh-reply-nonce"] = true
	}
	if pk.DHInfo.ServerDHNonce != nil && info.DHKeyExpiration.IsZero() {
		d["server-dh-nonce-without-expiration"] = true
	}
	if bad := c.publicValueDefect(t, info.SubjectPublicKey); bad != "" {
		d[bad] = true
		return pkinit.EncryptionKey{}, false
	}
	secret, err := c.dh.SharedSecret(info.SubjectPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pkinit.ReplyKeyFromSecret(secret, nil, pk.DHInfo.ServerDHNonce, pkinit.KDFParams{KDF: pk.DHInfo.KDF, EType: etypeAES256,
		Client: pkinit.KRB5PrincipalName{Realm: p.Realm, NameType: 1, Name: []string{"alice"}},
		KDC:    pkinit.KRB5PrincipalName{Realm: p.Realm, NameType: 2, Name: []string{"krbtgt", p.Realm}}, ASReq: c.msg, PKASRep: pk.Raw})
	if err != nil {
		t.Fatal(err)
	}
	return key, true
}

// publicValueDefect names what is wrong with the KDC's public value, if anything.
func (c *wireClient) publicValueDefect(t *testing.T, value []byte) string {
	t.Helper()
	if c.exchange == ExchangeECDH {
		if _, err := ecdh.P256().NewPublicKey(value); err != nil {
			return "ecdh-point-off-curve"
		}
		return ""
	}
	y := new(big.Int)
	if rest, err := asn1.Unmarshal(value, &y); err != nil || len(rest) > 0 {
		t.Fatalf("DH public value: %v", err)
	}
	pMinus1 := new(big.Int).Sub(c.prime, big.NewInt(1))
	switch {
	case y.Cmp(big.NewInt(1)) == 0:
		return "dh-public-one"
	case y.Cmp(pMinus1) == 0:
		return "dh-public-p-minus-1"
	case y.Sign() <= 0 || y.Cmp(pMinus1) > 0:
		t.Fatalf("DH public value out of range, and no fault says so")
	case big.Jacobi(y, c.prime) != 1: // the order-q subgroup of a safe prime is the residues
		return "dh-public-outside-subgroup"
	}
	return ""
}

// inspectKeyTransport opens the envelope and checks the asChecksum.
func (c *wireClient) inspectKeyTransport(t *testing.T, p *PKI, pk *pkinit.PKASRep, d defects) (pkinit.EncryptionKey, bool) {
	t.Helper()
	dec, ok := c.signer.(crypto.Decrypter)
	if !ok {
		t.Fatal("client key is no Decrypter")
	}
	_, inner, err := pkinit.OpenEnvelopedData(pk.EncKeyPack, c.cert, dec, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sc := c.inspectSigned(t, p, inner, pkinit.ContentRKeyData, d)
	if sc == nil {
		return pkinit.EncryptionKey{}, false
	}
	var fields []asn1.RawValue
	if _, err := asn1.Unmarshal(sc.Content, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) == 1 && fields[0].Tag == 0 {
		d["as-checksum-missing"] = true
		return pkinit.EncryptionKey{}, false
	}
	pack, err := pkinit.ParseReplyKeyPack(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.CheckASChecksum(c.msg); err != nil {
		d["as-checksum-wrong"] = true
	}
	return pack.ReplyKey, true
}

// inspectEncPart decrypts the EncASRepPart and checks its nonce.
func (c *wireClient) inspectEncPart(t *testing.T, rep messages.ASRep, key pkinit.EncryptionKey, d defects) {
	t.Helper()
	k := types.EncryptionKey{KeyType: key.KeyType, KeyValue: key.KeyValue}
	plain, err := krbcrypto.DecryptEncPart(rep.EncPart, k, keyusage.AS_REP_ENCPART)
	if err != nil {
		if plain, err = krbcrypto.DecryptEncPart(rep.EncPart, k, keyusage.TGS_REP_ENCPART_SESSION_KEY); err != nil {
			t.Fatalf("the enc-part opens with no key usage: %v", err)
		}
		d["enc-part-key-usage"] = true
	}
	var part messages.EncKDCRepPart
	if err := part.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	if part.Nonce != c.body.Nonce {
		d["as-rep-nonce"] = true
	}
}

func offersOnlyGroup2(t *testing.T, edata []byte) bool {
	t.Helper()
	td, err := pkinit.ParseTypedData(edata)
	if err != nil || len(td) != 1 || td[0].Type != pkinit.TDDHParameters {
		return false
	}
	params, err := pkinit.ParseTDDHParameters(td[0].Value)
	if err != nil || len(params) != 1 {
		return false
	}
	want, _ := pkinit.DHParameters(pkinit.MODPGroup2)
	return bytes.Equal(params[0].Parameters.FullBytes, want[0].Parameters.FullBytes)
}

// wireExchange is the exchange a fault is shown with on the wire.
func wireExchange(f Fault) Exchange {
	for _, ex := range []Exchange{ExchangeMODP, ExchangeECDH, ExchangeKeyTransport} {
		if f.applies(Request{Exchange: ex, Group: 14, Curve: "P-256", OffersSHA2: true, RSAClientKey: true}) {
			return ex
		}
	}
	return ""
}

var netipZero netip.AddrPort

// TestConformFaultsOnTheWire: every fault's reply, taken apart by a careful
// client, shows that fault and no other; the control shows none. So a
// "refused" in the table always answers the fault named.
func TestConformFaultsOnTheWire(t *testing.T) {
	p, err := NewPKI(t.TempDir(), testRealm, PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Faults() {
		t.Run(f.Name, func(t *testing.T) {
			ex := wireExchange(f)
			if ex == "" {
				t.Fatalf("%s applies to no exchange", f.Name)
			}
			a := k.Begin(f)
			defer k.End()
			for try := 0; try < f.Tries; try++ {
				c := newWireClient(t, p, ex)
				reply := k.ServeKerberos(context.Background(), c.msg, netipZero, "tcp")
				got := c.inspect(t, p, reply)
				want := []string{f.Name}
				if f.Name == Control.Name {
					want = nil
				}
				if strings.Join(got.names(), ",") != strings.Join(want, ",") {
					t.Fatalf("try %d: the reply shows %v, want %v", try, got.names(), want)
				}
			}
			if snap := k.Snapshot(a); len(snap.Replies) != f.Tries || snap.Inapplicable != "" || snap.Failed != "" {
				t.Fatalf("attempt: %d replies, inapplicable %q, failed %q", len(snap.Replies), snap.Inapplicable, snap.Failed)
			}
		})
	}
}

// TestConformDowngradeRetry: a client that comes back with group 2 after
// the downgrade fault's TD-DH-PARAMETERS gets a correct reply, so taking
// the downgrade shows as accepted.
func TestConformDowngradeRetry(t *testing.T) {
	p, err := NewPKI(t.TempDir(), testRealm, PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := FaultByName("dh-group-downgrade")
	a := k.Begin(f)
	defer k.End()
	first := newWireClient(t, p, ExchangeMODP)
	if got := first.inspect(t, p, k.ServeKerberos(context.Background(), first.msg, netipZero, "tcp")).names(); len(got) != 1 || got[0] != f.Name {
		t.Fatalf("first reply shows %v", got)
	}
	retry := newWireClientIn(t, p, ExchangeMODP, pkinit.MODPGroup2)
	if got := retry.inspect(t, p, k.ServeKerberos(context.Background(), retry.msg, netipZero, "tcp")); len(got) != 0 {
		t.Fatalf("the group-2 retry's reply shows %v, want a correct reply", got.names())
	}
	if snap := k.Snapshot(a); len(snap.sessionKeys) != 1 || len(snap.Replies) != 2 {
		t.Fatalf("%d session keys, %d replies", len(snap.sessionKeys), len(snap.Replies))
	}
}
