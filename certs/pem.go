package certs

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// ParseCertificates reads every CERTIFICATE block of PEM data, in order,
// skipping other blocks; data with no PEM certificate is read as one DER
// certificate, as MIT's FILE: identities and anchors also accept.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrMalformed, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%w: no PEM or DER certificate", ErrMalformed)
		}
		out = append(out, c)
	}
	return out, nil
}

// ReadCertificates is [ParseCertificates] of a file; errors name the file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}
