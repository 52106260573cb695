package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType names a key algorithm and size the CA can generate.
type KeyType string

// The key types an AD CS template offers for smart-card logon.
const (
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	RSA4096 KeyType = "rsa4096"
	P256    KeyType = "p256"
	P384    KeyType = "p384"
)

// KeyTypes lists every supported key type.
var KeyTypes = []KeyType{RSA2048, RSA3072, RSA4096, P256, P384}

// ParseKeyType accepts the names in [KeyTypes], case-insensitively, and the
// aliases "rsa" (2048), "P-256" and "P-384".
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "rsa", "rsa2048", "rsa-2048":
		return RSA2048, nil
	case "rsa3072", "rsa-3072":
		return RSA3072, nil
	case "rsa4096", "rsa-4096":
		return RSA4096, nil
	case "p256", "p-256", "ec", "ecdsa":
		return P256, nil
	case "p384", "p-384":
		return P384, nil
	}
	return "", fmt.Errorf("pki: unknown key type %q (want one of rsa2048, rsa3072, rsa4096, p256, p384)", s)
}

// GenerateKey makes a new private key of type t.
func GenerateKey(t KeyType, rand io.Reader) (crypto.Signer, error) {
	switch t {
	case RSA2048:
		return rsa.GenerateKey(rand, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand, 4096)
	case P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand)
	}
	return nil, fmt.Errorf("pki: unknown key type %q", t)
}

// MarshalKeyPEM returns key as a PKCS#8 "PRIVATE KEY" PEM block, which MIT
// Kerberos and OpenSSL both read.
func MarshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeyPEM reads a PKCS#8, PKCS#1 or SEC 1 private key PEM block.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("pki: no PEM block in key file")
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("pki: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: parsing private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %T keys cannot sign", k)
	}
	return s, nil
}

// CertPEM returns c as a "CERTIFICATE" PEM block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ParseCertPEM reads the first "CERTIFICATE" block of data.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("pki: no CERTIFICATE PEM block")
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pki: parsing certificate: %w", err)
			}
			return c, nil
		}
	}
}
