package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SAN is the part of a subjectAltName (RFC 5280 §4.2.1.6) that logon cares
// about. [ParseSAN] fills it from an extension; [SAN.Extension] builds one.
// Name forms other than these four are skipped when parsing.
type SAN struct {
	UPNs       []string        // MS UPN otherName 1.3.6.1.4.1.311.20.2.3
	Principals []PrincipalName // id-pkinit-san otherName 1.3.6.1.5.2.2
	DNSNames   []string        // dNSName
	Emails     []string        // rfc822Name
}

var (
	tagOtherName = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagRFC822    = cbasn1.Tag(1).ContextSpecific()
	tagDNSName   = cbasn1.Tag(2).ContextSpecific()
	tagExplicit0 = cbasn1.Tag(0).ContextSpecific().Constructed()
)

// Extension returns a non-critical subjectAltName extension holding every
// name in s, in the order UPNs, principals, DNS names, emails.
func (s SAN) Extension() (pkix.Extension, error) {
	if len(s.UPNs)+len(s.Principals)+len(s.DNSNames)+len(s.Emails) == 0 {
		return pkix.Extension{}, fmt.Errorf("certs: subjectAltName needs at least one name")
	}
	for _, u := range s.UPNs {
		if u == "" || !utf8.ValidString(u) {
			return pkix.Extension{}, fmt.Errorf("certs: UPN %q is empty or not UTF-8", u)
		}
	}
	for _, p := range s.Principals {
		if err := p.validate(); err != nil {
			return pkix.Extension{}, err
		}
	}
	for _, n := range append(append([]string(nil), s.DNSNames...), s.Emails...) {
		if !isIA5(n) || n == "" {
			return pkix.Extension{}, fmt.Errorf("certs: name %q is empty or not IA5 (ASCII)", n)
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, u := range s.UPNs {
			addOtherName(b, OIDUPN, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
			})
		}
		for _, p := range s.Principals {
			addOtherName(b, OIDPKINITSAN, p.marshalTo)
		}
		for _, d := range s.DNSNames {
			b.AddASN1(tagDNSName, func(b *cryptobyte.Builder) { b.AddBytes([]byte(d)) })
		}
		for _, e := range s.Emails {
			b.AddASN1(tagRFC822, func(b *cryptobyte.Builder) { b.AddBytes([]byte(e)) })
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("certs: encoding subjectAltName: %w", err)
	}
	return pkix.Extension{Id: OIDSubjectAltName, Value: der}, nil
}

func addOtherName(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) {
	b.AddASN1(tagOtherName, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(tagExplicit0, value)
	})
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ParseSAN parses the value of a subjectAltName extension. It rejects
// trailing data and malformed UPN, id-pkinit-san, dNSName and rfc822Name
// entries; other name forms and other otherNames are skipped.
func ParseSAN(der []byte) (SAN, error) {
	var san SAN
	err := walkGeneralNames(der, "subjectAltName", func(tag cbasn1.Tag, oid asn1.ObjectIdentifier, v cryptobyte.String) error {
		switch {
		case tag == tagOtherName && oid.Equal(OIDUPN):
			var u cryptobyte.String
			if !v.ReadASN1(&u, cbasn1.UTF8String) || !v.Empty() || !utf8.Valid(u) {
				return fmt.Errorf("%w: UPN otherName is not one UTF8String", ErrMalformed)
			}
			san.UPNs = append(san.UPNs, string(u))
		case tag == tagOtherName && oid.Equal(OIDPKINITSAN):
			p, err := readPrincipalName(&v)
			if err != nil {
				return err
			}
			if !v.Empty() {
				return fmt.Errorf("%w: trailing data after id-pkinit-san", ErrMalformed)
			}
			san.Principals = append(san.Principals, p)
		case tag == tagDNSName:
			if !isIA5(string(v)) {
				return fmt.Errorf("%w: dNSName is not IA5", ErrMalformed)
			}
			san.DNSNames = append(san.DNSNames, string(v))
		case tag == tagRFC822:
			if !isIA5(string(v)) {
				return fmt.Errorf("%w: rfc822Name is not IA5", ErrMalformed)
			}
			san.Emails = append(san.Emails, string(v))
		}
		return nil
	})
	if err != nil {
		return SAN{}, err
	}
	return san, nil
}

// walkGeneralNames calls fn for each GeneralName in a DER GeneralNames. For
// an otherName, oid is its type-id and v the content of its [0] value;
// otherwise oid is nil and v the content of the name.
func walkGeneralNames(der []byte, what string, fn func(tag cbasn1.Tag, oid asn1.ObjectIdentifier, v cryptobyte.String) error) error {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: %s is not a SEQUENCE", ErrMalformed, what)
	}
	if !in.Empty() {
		return fmt.Errorf("%w: trailing data after %s", ErrMalformed, what)
	}
	for !seq.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&gn, &tag) {
			return fmt.Errorf("%w: bad GeneralName in %s", ErrMalformed, what)
		}
		if tag != tagOtherName {
			if err := fn(tag, nil, gn); err != nil {
				return err
			}
			continue
		}
		var oid asn1.ObjectIdentifier
		var v cryptobyte.String
		if !gn.ReadASN1ObjectIdentifier(&oid) || !gn.ReadASN1(&v, tagExplicit0) || !gn.Empty() {
			return fmt.Errorf("%w: bad otherName in %s", ErrMalformed, what)
		}
		if err := fn(tag, oid, v); err != nil {
			return err
		}
	}
	return nil
}

func findExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) ([]byte, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Value, true
		}
	}
	return nil, false
}

// CertSAN parses c's subjectAltName; a certificate without one yields an
// empty SAN.
func CertSAN(c *x509.Certificate) (SAN, error) {
	v, ok := findExtension(c, OIDSubjectAltName)
	if !ok {
		return SAN{}, nil
	}
	return ParseSAN(v)
}

// UPNs returns the MS UPN otherNames (1.3.6.1.4.1.311.20.2.3) in c's
// subjectAltName, in certificate order.
func UPNs(c *x509.Certificate) ([]string, error) {
	s, err := CertSAN(c)
	return s.UPNs, err
}

// PKINITSANs returns the id-pkinit-san principals (RFC 4556 §3.2.2) in c's
// subjectAltName, in certificate order.
func PKINITSANs(c *x509.Certificate) ([]PrincipalName, error) {
	s, err := CertSAN(c)
	return s.Principals, err
}
