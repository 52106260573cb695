package kinit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/pkinit"
)

// keyIdentity is an Identity over a software key, for building requests.
type keyIdentity struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (k keyIdentity) Certificate() *x509.Certificate      { return k.cert }
func (k keyIdentity) Chain() []*x509.Certificate          { return nil }
func (k keyIdentity) Signer() crypto.Signer               { return k.key }
func (k keyIdentity) Decrypter() (crypto.Decrypter, bool) { return nil, false }
func (k keyIdentity) Label() string                       { return "test key" }

// TestAuthPackSupportedCMSTypes decodes the AuthPack the client sends: it
// lists the signature algorithms the client verifies, strongest first, and
// the SHA-1 ones (last) only under AllowSHA1.
func TestAuthPackSupportedCMSTypes(t *testing.T) {
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alice"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	// RSA algorithms carry NULL parameters (RFC 5754 §3.2), ECDSA none (RFC 5758 §3.2).
	want := []struct {
		oid asn1.ObjectIdentifier
		rsa bool
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, false},  // ecdsa-with-SHA512
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, false},  // ecdsa-with-SHA384
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, false},  // ecdsa-with-SHA256
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, true}, // sha512WithRSAEncryption
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, true}, // sha384WithRSAEncryption
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, true}, // sha256WithRSAEncryption
		{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, false},     // ecdsa-with-SHA1
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, true},  // sha1WithRSAEncryption
	}
	c := &Client{Rand: rand.Reader}
	for _, allowSHA1 := range []bool{false, true} {
		req := Request{
			Client: ccache.Principal{NameType: NameTypePrincipal, Components: []string{"alice"}, Realm: "EXAMPLE.COM"},
			Policy: Policy{AllowSHA1: allowSHA1},
		}
		x := &asExchange{req: req, id: keyIdentity{cert, key}, pol: req.Policy, kx: KeyExchange{Curve: pkinit.CurveP256}, server: req.server()}
		st, err := c.pkinitRequest(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		var as messages.ASReq
		if err := as.Unmarshal(st.asReq); err != nil {
			t.Fatal(err)
		}
		var ap *pkinit.AuthPack
		for _, pa := range as.PAData {
			if pa.PADataType != int32(pkinit.PAPKASReq) {
				continue
			}
			pk, err := pkinit.ParsePKASReq(pa.PADataValue)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := pkinit.VerifySignedData(pk.SignedAuthPack, pkinit.VerifyOptions{ContentType: pkinit.ContentAuthData})
			if err != nil {
				t.Fatal(err)
			}
			if ap, err = pkinit.ParseAuthPack(sc.Content); err != nil {
				t.Fatal(err)
			}
		}
		if ap == nil {
			t.Fatal("no PA-PK-AS-REQ")
		}
		n := 6
		if allowSHA1 {
			n = 8
		}
		got := ap.SupportedCMSTypes
		if len(got) != n {
			t.Fatalf("AllowSHA1 %v: %d supportedCMSTypes, want %d: %v", allowSHA1, len(got), n, got)
		}
		for i, a := range got {
			params := []byte{}
			if want[i].rsa {
				params = []byte{0x05, 0x00}
			}
			if !a.Algorithm.Equal(want[i].oid) || string(a.Parameters.FullBytes) != string(params) {
				t.Errorf("AllowSHA1 %v: supportedCMSTypes[%d] = %v (parameters %x), want %v", allowSHA1, i, a.Algorithm, a.Parameters.FullBytes, want[i].oid)
			}
		}
	}
}
