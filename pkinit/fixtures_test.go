package pkinit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

type testIdentity struct {
	key  crypto.Signer
	cert *x509.Certificate
}

type fixtureSet struct {
	client, kdc, ecClient testIdentity
}

var fixturesOnce = sync.OnceValues(func() (*fixtureSet, error) {
	mk := func(cn string, key crypto.Signer, serial int64) (testIdentity, error) {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
			SubjectKeyId: []byte(cn),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return testIdentity{}, err
		}
		c, err := x509.ParseCertificate(der)
		return testIdentity{key, c}, err
	}
	var f fixtureSet
	var err error
	k1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	k3, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if f.client, err = mk("alice", k1, 1001); err != nil {
		return nil, err
	}
	if f.kdc, err = mk("kdc", k2, 1002); err != nil {
		return nil, err
	}
	if f.ecClient, err = mk("bob-ec", k3, 1003); err != nil {
		return nil, err
	}
	return &f, nil
})

// fixtures are made once per test binary: RSA key generation is slow.
func fixtures(tb testing.TB) *fixtureSet {
	tb.Helper()
	f, err := fixturesOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return f
}
