package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseCertificates(t *testing.T) {
	a, b := selfSigned(t, "a"), selfSigned(t, "b")
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: a.Raw})
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("skipped")})
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})
	cs, err := ParseCertificates(buf.Bytes())
	if err != nil || len(cs) != 2 || cs[0].Subject.CommonName != "a" || cs[1].Subject.CommonName != "b" {
		t.Fatalf("PEM bundle: %v %v", cs, err)
	}
	if cs, err := ParseCertificates(a.Raw); err != nil || len(cs) != 1 {
		t.Fatalf("DER: %v %v", cs, err)
	}
	for name, data := range map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("not a certificate"),
		"bad PEM body": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x01}}),
	} {
		if _, err := ParseCertificates(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	path := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(path, []byte("x"), 0o644)
	if _, err := ReadCertificates(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadCertificates error %v does not name the file", err)
	}
}
