package harness_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// testRealm holds a CA and a KDC certificate made for one test: just enough for
// MIT's PKINIT plugin to load and advertise PKINIT.
type testRealm struct {
	caPEM, kdcCertPEM, kdcKeyPEM []byte
}

var (
	oidPKINITSAN = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 2}
	oidPKINITKDC = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 5}
	oidSAN       = asn1.ObjectIdentifier{2, 5, 29, 17}
)

func newTestRealm(t *testing.T, realm string) testRealm {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "harness test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	kdcKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kdcTmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(2),
		Subject:            pkix.Name{CommonName: "kdc"},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.Add(24 * time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidPKINITKDC},
		ExtraExtensions:    []pkix.Extension{krbtgtSAN(t, realm)},
	}
	kdcDER, err := x509.CreateCertificate(rand.Reader, kdcTmpl, ca, &kdcKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	return testRealm{
		caPEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		kdcCertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kdcDER}),
		kdcKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// krbtgtSAN is subjectAltName otherName id-pkinit-san = krbtgt/REALM@REALM
// (RFC 4556 §3.2.2).
func krbtgtSAN(t *testing.T, realm string) pkix.Extension {
	t.Helper()
	type principalName struct {
		NameType   int      `asn1:"explicit,tag:0"`
		NameString []string `asn1:"explicit,tag:1,generalstring"`
	}
	type krb5PrincipalName struct {
		Realm     string        `asn1:"explicit,tag:0,generalstring"`
		Principal principalName `asn1:"explicit,tag:1"`
	}
	name, err := asn1.Marshal(krb5PrincipalName{Realm: realm, Principal: principalName{NameType: 2, NameString: []string{"krbtgt", realm}}})
	if err != nil {
		t.Fatal(err)
	}
	oid, err := asn1.Marshal(oidPKINITSAN)
	if err != nil {
		t.Fatal(err)
	}
	value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: name})
	if err != nil {
		t.Fatal(err)
	}
	otherName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, value...)}
	san, err := asn1.Marshal([]asn1.RawValue{otherName})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Value: san}
}
