package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func TestParseOpenSSLRequest(t *testing.T) {
	der, err := os.ReadFile("testdata/openssl-3.0-ocsp-request-nonce.der")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.CertIDs) != 1 || r.CertIDs[0].Hash != crypto.SHA1 || r.CertIDs[0].Serial.Int64() != 0x1000 {
		t.Fatalf("CertIDs %+v", r.CertIDs)
	}
	var nonce []byte
	if rest, err := asn1.Unmarshal(r.Nonce, &nonce); err != nil || len(rest) > 0 || len(nonce) != 16 {
		t.Fatalf("nonce %x: %v", r.Nonce, err)
	}
	if _, err := ParseRequest(append(der, 0)); err == nil {
		t.Fatal("trailing data accepted")
	}
}

// TestResponderGETAndPOST checks the responder's own answers: nonce echoed,
// thisUpdate/nextUpdate set from the injected clock, unknown for another
// issuer, malformedRequest for garbage, GET with an unescaped base64 path.
func TestResponderGETAndPOST(t *testing.T) {
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ca, err := Init(t.TempDir(), InitOptions{Options: Options{Now: clock}, KeyType: P256})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := UserProfile(User{UPN: "g@example.com"})
	key, _ := GenerateKey(P256, rand.Reader)
	cert, _ := ca.Issue(key.Public(), up)
	r, err := NewResponder(ca, ResponderOptions{Options: Options{Now: clock}, Validity: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()

	id, _ := NewCertID(ca.Issuer(), cert.SerialNumber, crypto.SHA256)
	nonce, _ := asn1.Marshal([]byte("nonce-nonce-nonce"))
	req := buildRequest(t, nonce, id)

	check := func(body []byte, wantNonce bool) *ocsp.Response {
		t.Helper()
		resp, err := ocsp.ParseResponseForCert(body, cert, ca.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != ocsp.Good || !resp.ThisUpdate.Equal(now) || !resp.NextUpdate.Equal(now.Add(30*time.Minute)) {
			t.Fatalf("response %+v", resp)
		}
		echoed := bytes.Contains(body, nonce)
		if echoed != wantNonce {
			t.Fatalf("nonce echoed %v, want %v", echoed, wantNonce)
		}
		return resp
	}
	hr, err := http.Post(srv.URL, "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	if hr.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("content type %q", hr.Header.Get("Content-Type"))
	}
	check(body, true)

	// GET, base64 not percent-encoded (it may contain '/').
	enc := base64.StdEncoding.EncodeToString(buildRequest(t, nil, id))
	hr, err = http.Get(srv.URL + "/" + enc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(hr.Body)
	hr.Body.Close()
	check(body, false)

	// Another issuer's CertID, and a serial the CA never issued: unknown.
	foreign := id
	foreign.IssuerKeyHash = bytes.Repeat([]byte{1}, len(id.IssuerKeyHash))
	never, _ := NewCertID(ca.Issuer(), big.NewInt(0xABCDEF), crypto.SHA1)
	for _, q := range []CertID{foreign, never} {
		der, err := r.Respond(buildRequest(t, nil, q))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := ocsp.ParseResponse(der, ca.Issuer()); err != nil || resp.Status != ocsp.Unknown {
			t.Fatalf("CertID %+v: %v %v", q, resp, err)
		}
	}

	hr, err = http.Post(srv.URL, "application/ocsp-request", strings.NewReader("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(hr.Body)
	hr.Body.Close()
	if !bytes.Equal(body, ErrorResponse(ocsp.Malformed)) {
		t.Fatalf("garbage answered %x", body)
	}

	hr, err = http.Get(srv.URL + "/crl")
	if err != nil || hr.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("CRL: %v %v", err, hr.Header)
	}
	hr.Body.Close()
}

func buildRequest(t testing.TB, nonce []byte, ids ...CertID) []byte {
	t.Helper()
	tbs := tbsRequestDER{}
	for _, id := range ids {
		tbs.RequestList = append(tbs.RequestList, requestDER{ReqCert: id.der()})
	}
	if nonce != nil {
		tbs.Extensions = append(tbs.Extensions, pkixExtension(OIDOCSPNonce, nonce))
	}
	der, err := asn1.Marshal(ocspRequestDER{TBSRequest: tbs})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pkixExtension(id asn1.ObjectIdentifier, v []byte) pkix.Extension {
	return pkix.Extension{Id: id, Value: v}
}
