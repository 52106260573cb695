package conform

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
)

// caName is the common name of both conformance CAs: the untrusted one
// differs from the trusted one only by its key, so a client that matches
// issuers by name alone is caught.
const caName = "sclogon Conformance Root CA"

// Identity is one certificate the conformance KDC signs replies with.
type Identity int

const (
	IdentityGood      Identity = iota // issued by the trusted CA, as a KDC certificate should be
	IdentityUntrusted                 // the same profile, issued by an untrusted CA of the same name
	IdentityNoKDCEKU                  // serverAuth only, no id-pkinit-KPKdc
	IdentityWrongSAN                  // id-pkinit-san krbtgt/OTHER.INVALID@OTHER.INVALID
	IdentityExpired                   // expired a day ago
	identityCount
)

// PKI is the conformance KDC's certificates: a trusted CA (the one the
// client under test must trust, [PKI.AnchorPath]), an untrusted CA of the
// same name, one KDC key certified five ways, and a client certificate for
// the client under test ([PKI.ClientCertPath], [PKI.ClientKeyPath]).
type PKI struct {
	Dir    string
	Realm  string
	Anchor *x509.Certificate // the trusted root
	// KDCKey signs every reply; KDC[i] is its certificate as Identity i.
	KDCKey crypto.Signer
	KDC    [identityCount]*x509.Certificate
	// Chain[i] is what Identity i's reply embeds after the KDC certificate.
	Chain [identityCount][]*x509.Certificate
}

// AnchorPath is the trusted CA's certificate (PEM): the client's pkinit_anchors.
func (p *PKI) AnchorPath() string { return filepath.Join(p.Dir, "ca.pem") }

// ClientCertPath and ClientKeyPath are a client identity the KDC accepts
// (any certificate whose signature verifies is accepted: the client is under
// test, not its certificate).
func (p *PKI) ClientCertPath() string { return filepath.Join(p.Dir, "client.pem") }
func (p *PKI) ClientKeyPath() string  { return filepath.Join(p.Dir, "client-key.pem") }

// PKIOptions carries the clock and randomness; zero means the system's.
type PKIOptions struct {
	Now  func() time.Time
	Rand io.Reader
	// Client names the client certificate's principal (default "alice").
	Client string
}

// NewPKI makes the conformance PKI in dir, or reuses the CAs and client
// identity a previous run left there. The KDC certificates are issued anew.
func NewPKI(dir, realm string, o PKIOptions) (*PKI, error) {
	if realm == "" {
		return nil, errors.New("conform: no realm")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == "" {
		o.Client = "alice"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("conform: %w", err)
	}
	opts := pki.Options{Now: o.Now, Rand: o.Rand}
	trusted, err := openOrInit(filepath.Join(dir, "trusted-ca"), opts)
	if err != nil {
		return nil, err
	}
	untrusted, err := openOrInit(filepath.Join(dir, "untrusted-ca"), opts)
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, Realm: realm, Anchor: trusted.Root()}
	if err := os.WriteFile(p.AnchorPath(), pki.CertPEM(trusted.Root()), 0o644); err != nil {
		return nil, fmt.Errorf("conform: %w", err)
	}
	if p.KDCKey, err = pki.GenerateKey(pki.RSA2048, o.Rand); err != nil {
		return nil, err
	}
	if err := p.issueKDCCertificates(trusted, untrusted, opts); err != nil {
		return nil, err
	}
	if err := p.issueClient(trusted, o); err != nil {
		return nil, err
	}
	return p, nil
}

func openOrInit(dir string, o pki.Options) (*pki.CA, error) {
	if _, err := os.Stat(filepath.Join(dir, "ca.json")); err == nil {
		return pki.Open(dir, o)
	}
	return pki.Init(dir, pki.InitOptions{Options: o, Name: caName})
}

// issueKDCCertificates certifies the one KDC key as each Identity.
func (p *PKI) issueKDCCertificates(trusted, untrusted *pki.CA, o pki.Options) error {
	good := pki.KDC{Realm: p.Realm}
	noEKU := pki.KDC{Realm: p.Realm, ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageServerAuth}}
	wrongSAN := pki.KDC{Realm: "OTHER.INVALID"}
	// The expired certificate comes from the same CA opened with a clock
	// two days back, valid for one day.
	pastCA, err := pki.Open(trusted.Dir(), pki.Options{Now: func() time.Time { return o.Now().Add(-48 * time.Hour) }, Rand: o.Rand})
	if err != nil {
		return err
	}
	expired := pki.KDC{Realm: p.Realm, Validity: 24 * time.Hour}
	for _, c := range []struct {
		id  Identity
		ca  *pki.CA
		kdc pki.KDC
	}{
		{IdentityGood, trusted, good},
		{IdentityUntrusted, untrusted, good},
		{IdentityNoKDCEKU, trusted, noEKU},
		{IdentityWrongSAN, trusted, wrongSAN},
		{IdentityExpired, pastCA, expired},
	} {
		prof, err := pki.KDCProfile(c.kdc)
		if err != nil {
			return err
		}
		cert, err := c.ca.Issue(p.KDCKey.Public(), prof)
		if err != nil {
			return fmt.Errorf("conform: KDC certificate: %w", err)
		}
		p.KDC[c.id] = cert
		// The root goes along too: a client that trusts whatever root the
		// reply carries accepts the untrusted CA's.
		p.Chain[c.id] = []*x509.Certificate{c.ca.Root()}
	}
	return nil
}

// issueClient writes client.pem and client-key.pem unless a previous run did.
func (p *PKI) issueClient(trusted *pki.CA, o PKIOptions) error {
	if _, err := os.Stat(p.ClientKeyPath()); err == nil {
		return nil
	}
	key, err := pki.GenerateKey(pki.RSA2048, o.Rand) // RSA: key transport needs it
	if err != nil {
		return err
	}
	prof, err := pki.UserProfile(pki.User{
		UPN:        o.Client + "@" + p.Realm,
		Principals: []certs.PrincipalName{{NameType: 1, Name: []string{o.Client}, Realm: p.Realm}},
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageClientAuth,
			certs.OIDExtKeyUsageSmartCardLogon},
	})
	if err != nil {
		return err
	}
	cert, err := trusted.Issue(key.Public(), prof)
	if err != nil {
		return err
	}
	return pki.WriteKeyAndCert(p.ClientKeyPath(), p.ClientCertPath(), key, cert)
}
