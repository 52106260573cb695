package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// Profile is the content of a certificate to issue, independent of its key.
type Profile struct {
	// Kind is recorded in the index ("user", "kdc", "ocsp", …).
	Kind    string
	Subject pkix.Name
	SAN     certs.SAN
	// SID, when not zero, adds the szOID_NTDS_CA_SECURITY_EXT extension.
	SID certs.SID
	// ExtKeyUsage lists the EKU OIDs in order; empty means no EKU extension.
	ExtKeyUsage []asn1.ObjectIdentifier
	// KeyUsage zero means the default for the key: digitalSignature and,
	// for RSA, keyEncipherment (the AD smart-card logon template).
	KeyUsage x509.KeyUsage
	// Validity zero means one year. NotAfter never exceeds the issuer's.
	Validity time.Duration
	// OCSPNoCheck adds id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) and leaves
	// out AIA and CRL DP, as delegated OCSP responder certificates do.
	OCSPNoCheck bool
}

// User describes a smart-card logon certificate.
type User struct {
	// UPN goes into the MS UPN otherName; AD maps the account by it.
	UPN string
	// Principals go into id-pkinit-san otherNames (MIT maps by these).
	Principals []certs.PrincipalName
	// SID adds the KB5014754 SID extension when not zero.
	SID        certs.SID
	CommonName string
	Emails     []string
	// ExtKeyUsage nil means smart card logon and client authentication,
	// as the AD "Smartcard Logon" template issues.
	ExtKeyUsage []asn1.ObjectIdentifier
	KeyUsage    x509.KeyUsage
	Validity    time.Duration
}

// UserProfile turns u into a [Profile].
func UserProfile(u User) (Profile, error) {
	if u.UPN == "" && len(u.Principals) == 0 && u.CommonName == "" {
		return Profile{}, errors.New("pki: a user certificate needs a UPN, a principal or a common name")
	}
	cn := u.CommonName
	if cn == "" {
		cn, _, _ = strings.Cut(u.UPN, "@")
		if cn == "" && len(u.Principals) > 0 {
			cn = strings.Join(u.Principals[0].Name, "/")
		}
	}
	eku := u.ExtKeyUsage
	if eku == nil {
		eku = []asn1.ObjectIdentifier{certs.OIDExtKeyUsageClientAuth, certs.OIDExtKeyUsageSmartCardLogon}
	}
	p := Profile{
		Kind:        "user",
		Subject:     pkix.Name{CommonName: cn},
		SAN:         certs.SAN{Principals: u.Principals, Emails: u.Emails},
		SID:         u.SID,
		ExtKeyUsage: eku,
		KeyUsage:    u.KeyUsage,
		Validity:    u.Validity,
	}
	if u.UPN != "" {
		p.SAN.UPNs = []string{u.UPN}
	}
	return p, nil
}

// KDC describes a KDC certificate: id-pkinit-KPKdc, the krbtgt/REALM@REALM
// id-pkinit-san that MIT clients check, and the host's dNSName that Windows
// clients and MIT's pkinit_kdc_hostname check.
type KDC struct {
	Realm       string
	DNSNames    []string
	ExtKeyUsage []asn1.ObjectIdentifier // nil: id-pkinit-KPKdc and serverAuth
	KeyUsage    x509.KeyUsage
	Validity    time.Duration
}

// nameTypeSrvInst is KRB5-NT-SRV-INST, RFC 4120 §6.2.
const nameTypeSrvInst = 2

// KDCProfile turns k into a [Profile].
func KDCProfile(k KDC) (Profile, error) {
	if k.Realm == "" {
		return Profile{}, errors.New("pki: a KDC certificate needs a realm")
	}
	eku := k.ExtKeyUsage
	if eku == nil {
		eku = []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITKDC, certs.OIDExtKeyUsageServerAuth}
	}
	cn := k.Realm
	if len(k.DNSNames) > 0 {
		cn = k.DNSNames[0]
	}
	return Profile{
		Kind:    "kdc",
		Subject: pkix.Name{CommonName: cn},
		SAN: certs.SAN{
			Principals: []certs.PrincipalName{{NameType: nameTypeSrvInst, Name: []string{"krbtgt", k.Realm}, Realm: k.Realm}},
			DNSNames:   k.DNSNames,
		},
		ExtKeyUsage: eku,
		KeyUsage:    k.KeyUsage,
		Validity:    k.Validity,
	}, nil
}

// OCSPResponderProfile describes a delegated OCSP responder certificate
// (RFC 6960 §4.2.2.2): id-kp-OCSPSigning and id-pkix-ocsp-nocheck.
func OCSPResponderProfile(name string, validity time.Duration) Profile {
	if name == "" {
		name = "sclogon OCSP Responder"
	}
	return Profile{
		Kind:        "ocsp",
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageOCSPSigning},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		Validity:    validity,
		OCSPNoCheck: true,
	}
}

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// Issue signs a certificate for pub with the content p, records it in the
// index and writes issued/SERIAL.pem.
func (ca *CA) Issue(pub crypto.PublicKey, p Profile) (*x509.Certificate, error) {
	ku := p.KeyUsage
	if ku == 0 {
		switch pub.(type) {
		case *rsa.PublicKey:
			ku = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		case *ecdsa.PublicKey:
			ku = x509.KeyUsageDigitalSignature
		default:
			return nil, fmt.Errorf("pki: unsupported public key type %T (want RSA or ECDSA)", pub)
		}
	}
	validity := p.Validity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	now := ca.opts.now()
	tmpl := &x509.Certificate{
		Subject:            p.Subject,
		NotBefore:          now.Add(-time.Minute),
		NotAfter:           now.Add(validity),
		KeyUsage:           ku,
		UnknownExtKeyUsage: p.ExtKeyUsage,
		SubjectKeyId:       keyID(pub),
	}
	if tmpl.NotAfter.After(ca.issuer.NotAfter) {
		tmpl.NotAfter = ca.issuer.NotAfter
	}
	if p.OCSPNoCheck {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}})
	} else {
		ca.addURLs(tmpl)
	}
	if len(p.SAN.UPNs)+len(p.SAN.Principals)+len(p.SAN.DNSNames)+len(p.SAN.Emails) > 0 {
		ext, err := p.SAN.Extension()
		if err != nil {
			return nil, err
		}
		ext.Critical = len(p.Subject.ToRDNSequence()) == 0
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	if !p.SID.IsZero() {
		ext, err := certs.SIDExtension(p.SID)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	var cert *x509.Certificate
	err := ca.change(func(recs []Record) ([]Record, error) {
		serial, err := ca.nextSerial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
		cert, err = createCert(ca.opts.rand(), tmpl, ca.issuer, pub, ca.issuerKey)
		if err != nil {
			return nil, err
		}
		file := "issued/" + serialHex(serial) + ".pem"
		if err := writeFile(ca.path(file), CertPEM(cert), 0o644); err != nil {
			return nil, err
		}
		return append(recs, Record{
			Serial:    serialHex(serial),
			Kind:      p.Kind,
			Subject:   cert.Subject.String(),
			NotBefore: cert.NotBefore,
			NotAfter:  cert.NotAfter,
			File:      file,
		}), nil
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// IssueFromCSR checks the CSR's self-signature (proof the requester holds
// the key, for example a key generated on a card) and issues a certificate
// for its public key with the content p. The CSR's own subject and
// extensions are ignored: the CA decides what the certificate says, as AD
// CS does for a template.
func (ca *CA) IssueFromCSR(csr *x509.CertificateRequest, p Profile) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: the certificate request's signature does not verify: %w", err)
	}
	return ca.Issue(csr.PublicKey, p)
}
