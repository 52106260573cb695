package kdc

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// checkClientCertificate verifies what RFC 4556 §3.2.2 and AD ask of a
// client certificate and returns the CA that issued it. The path comes
// from the KDC's cache when one verified lately is still valid; everything
// else is checked on every request (see certPathCache).
func (k *KDC) checkClientCertificate(cert *x509.Certificate, embedded []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		r := reject(krberror.InvalidCertificate, nil, "client certificate valid from %s to %s, not now", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		r.edata = invalidCertificatesEData(cert)
		return nil, r
	}
	issuer, key := k.cachedIssuer(cert, embedded, now)
	var chains [][]*x509.Certificate
	if issuer == nil {
		var err error
		if chains, err = k.verifyClientPath(cert, embedded, now); err != nil {
			return nil, err
		}
		if issuer = k.ntauthIssuer(chains); issuer == nil {
			return nil, reject(krberror.ClientNotTrusted, nil, "the CA that issued the client certificate (%s) is not in the NTAuth store", cert.Issuer)
		}
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, reject(krberror.InconsistentKeyPurpose, nil, "client certificate key usage lacks digitalSignature")
	}
	if !k.ekuAccepted(cert) {
		return nil, reject(krberror.InconsistentKeyPurpose, nil, "client certificate lacks the logon EKU the policy requires")
	}
	if chains != nil {
		k.certPaths.add(key, cert, embedded, chains, now)
	}
	return issuer, nil
}

// verifyClientPath builds and verifies the client certificate's paths to
// the anchors, through the configured intermediates and those the client
// sent.
func (k *KDC) verifyClientPath(cert *x509.Certificate, embedded []*x509.Certificate, now time.Time) ([][]*x509.Certificate, error) {
	// The configured intermediates, plus any the client sent: cloned only
	// then, as a request that carries only its own certificate needs no copy.
	inter := k.intermediates
	for _, c := range embedded {
		if c != cert {
			if inter == k.intermediates {
				inter = k.intermediates.Clone()
			}
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: k.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, // the logon EKUs are checked by checkClientCertificate
	})
	if err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			r := reject(krberror.CantVerifyCertificate, err, "client certificate does not chain to a trusted root")
			r.edata = k.trustedCertifiersEData()
			return nil, r
		}
		r := reject(krberror.InvalidCertificate, err, "client certificate path does not verify")
		r.edata = invalidCertificatesEData(cert)
		return nil, r
	}
	return chains, nil
}

// ntauthIssuer is AD's NTAuth rule: the CA that issued the client
// certificate, on one of its paths, must itself be in NTAuth, whatever root
// it chains to. nil when none is.
func (k *KDC) ntauthIssuer(chains [][]*x509.Certificate) *x509.Certificate {
	for _, chain := range chains {
		if len(chain) > 1 && k.ntauth[string(chain[1].Raw)] {
			return chain[1]
		}
	}
	return nil
}

func (k *KDC) ekuAccepted(cert *x509.Certificate) bool {
	var scLogon, pkClient bool
	for _, oid := range cert.UnknownExtKeyUsage {
		switch {
		case oid.Equal(certs.OIDExtKeyUsageSmartCardLogon):
			scLogon = true
		case oid.Equal(certs.OIDExtKeyUsagePKINITClientAuth):
			pkClient = true
		}
	}
	switch k.cfg.ClientEKU {
	case EKUSmartcardLogon:
		return scLogon
	case EKUPKINITClient:
		return pkClient
	case EKUNone:
		return true
	}
	return scLogon || pkClient
}

// trustedCertifiersEData names the anchors (TD-TRUSTED-CERTIFIERS) so a
// client with several certificates can pick one that chains to them.
func (k *KDC) trustedCertifiersEData() []byte {
	var ids []pkinit.ExternalPrincipalIdentifier
	for _, c := range k.cfg.Anchors {
		ids = append(ids, pkinit.ExternalPrincipalIdentifier{SubjectName: c.RawSubject})
	}
	v, err := pkinit.MarshalExternalPrincipalIdentifiers(ids)
	if err != nil {
		return nil
	}
	b, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDTrustedCertifiers, Value: v}})
	return b
}

// invalidCertificatesEData names the refused certificate by issuer and serial
// (TD-INVALID-CERTIFICATES).
func invalidCertificatesEData(cert *x509.Certificate) []byte {
	ias, err := asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial asn1.RawValue
	}{asn1.RawValue{FullBytes: cert.RawIssuer}, serialRaw(cert)})
	if err != nil {
		return nil
	}
	v, err := pkinit.MarshalExternalPrincipalIdentifiers([]pkinit.ExternalPrincipalIdentifier{{IssuerAndSerialNumber: ias}})
	if err != nil {
		return nil
	}
	b, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDInvalidCertificates, Value: v}})
	return b
}

func serialRaw(cert *x509.Certificate) asn1.RawValue {
	b, _ := asn1.Marshal(cert.SerialNumber)
	return asn1.RawValue{FullBytes: b}
}
