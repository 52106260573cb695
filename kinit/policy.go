package kinit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/pkinit"
)

// EKUCheck is what the client demands of the KDC certificate's extended key
// usage: MIT's pkinit_eku_checking.
type EKUCheck int

// EKU policies.
const (
	EKUKDC        EKUCheck = iota // id-pkinit-KPKdc (MIT "kpKDC", the default)
	EKUServerAuth                 // id-pkinit-KPKdc or id-kp-serverAuth (MIT "kpServerAuth")
	EKUNone                       // no EKU check (MIT "none")
)

// ParseEKUCheck reads MIT's pkinit_eku_checking values.
func ParseEKUCheck(s string) (EKUCheck, error) {
	switch strings.ToLower(s) {
	case "kpkdc":
		return EKUKDC, nil
	case "kpserverauth":
		return EKUServerAuth, nil
	case "none":
		return EKUNone, nil
	}
	return 0, fmt.Errorf("kinit: pkinit_eku_checking %q: want kpKDC, kpServerAuth or none", s)
}

// OCSPMode says how the KDC certificate's revocation is checked.
type OCSPMode int

// OCSP modes.
const (
	OCSPStapled OCSPMode = iota // check a stapled response when the KDC sends one (default)
	OCSPRequire                 // a good status is required: stapled, else asked of the responder
	OCSPOff                     // no revocation check
)

// ParseOCSPMode reads "stapled", "require" or "off".
func ParseOCSPMode(s string) (OCSPMode, error) {
	switch s {
	case "stapled", "":
		return OCSPStapled, nil
	case "require":
		return OCSPRequire, nil
	case "off":
		return OCSPOff, nil
	}
	return 0, fmt.Errorf("kinit: OCSP mode %q: want stapled, require or off", s)
}

// Policy is how the client judges the KDC and what it offers: MIT's PKINIT
// options of krb5.conf ([Policy.FromConfig]), overridden by flags.
type Policy struct {
	Anchors       *x509.CertPool   // pkinit_anchors: roots for the KDC certificate
	Intermediates *x509.CertPool   // pkinit_pool
	EKU           EKUCheck         // pkinit_eku_checking
	KDCHostnames  []string         // pkinit_kdc_hostname: dNSNames accepted besides krbtgt/REALM
	DHMinBits     int              // pkinit_dh_min_bits (default 2048)
	CertMatch     *logon.CertMatch // pkinit_cert_match
	OCSP          OCSPMode
	// Checker answers OCSP queries; nil makes one with the client's clock.
	Checker *revocation.Checker
	// MaxSkew is the clock difference tolerated with the KDC (clockskew, default 5m).
	MaxSkew time.Duration
	// AllowSHA1 accepts a KDC reply signed with SHA-1 (pkinit_allow_sha1,
	// default false); refused, it fails with pkinit.ErrSHA1Signature. With
	// it the request also lists the SHA-1 algorithms, last, in
	// supportedCMSTypes.
	AllowSHA1 bool
}

// PolicyFromConfig reads realm's PKINIT options from conf as MIT's PKINIT
// plugin does ([krb5conf.Config.RealmValues] precedence).
func PolicyFromConfig(conf *krb5conf.Config, realm string) (Policy, error) {
	p := Policy{DHMinBits: 2048, MaxSkew: 5 * time.Minute}
	var err error
	if vs := conf.RealmValues(realm, "pkinit_anchors"); len(vs) > 0 {
		if p.Anchors, err = LoadCertPool(vs); err != nil {
			return p, err
		}
	}
	if vs := conf.RealmValues(realm, "pkinit_pool"); len(vs) > 0 {
		if p.Intermediates, err = LoadCertPool(vs); err != nil {
			return p, err
		}
	}
	if vs := conf.RealmValues(realm, "pkinit_eku_checking"); len(vs) > 0 {
		if p.EKU, err = ParseEKUCheck(vs[0]); err != nil {
			return p, err
		}
	}
	p.KDCHostnames = conf.RealmValues(realm, "pkinit_kdc_hostname")
	if vs := conf.RealmValues(realm, "pkinit_dh_min_bits"); len(vs) > 0 {
		n, err := strconv.Atoi(vs[0])
		if err != nil {
			return p, fmt.Errorf("kinit: pkinit_dh_min_bits %q: not a number", vs[0])
		}
		p.DHMinBits = n
	}
	p.AllowSHA1 = conf.RealmBool(realm, "pkinit_allow_sha1", false)
	if vs := conf.RealmValues(realm, "pkinit_cert_match"); len(vs) > 0 {
		if p.CertMatch, err = logon.ParseCertMatch(vs[0]); err != nil {
			return p, err
		}
	}
	if v, ok := conf.Value("libdefaults", "clockskew"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, fmt.Errorf("kinit: clockskew %q: want seconds", v)
		}
		p.MaxSkew = time.Duration(n) * time.Second
	}
	return p, nil
}

// issuerChain returns the CAs between cert and a root, found in pkinit_pool
// (with the anchors, or the pool itself, as roots), to send with the request
// as MIT's client does: a KDC that trusts only the root can then build the
// path of a certificate from an issuing CA. Nil when no path is found; the
// KDC then needs the intermediates itself.
func (p *Policy) issuerChain(cert *x509.Certificate, now time.Time) []*x509.Certificate {
	if p.Intermediates == nil {
		return nil
	}
	for _, roots := range []*x509.CertPool{p.Anchors, p.Intermediates} {
		if roots == nil {
			continue
		}
		chains, err := cert.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: p.Intermediates, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil && len(chains) > 0 && len(chains[0]) > 1 {
			return chains[0][1:]
		}
	}
	return nil
}

// LoadCertPool reads MIT's identity locations of CA certificates:
// FILE:path (PEM or DER, several PEM certificates allowed) and DIR:path
// (every file in it). A path without a type is read as FILE:.
func LoadCertPool(locations []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, loc := range locations {
		typ, path, ok := strings.Cut(loc, ":")
		if !ok {
			typ, path = "FILE", loc
		}
		var files []string
		switch strings.ToUpper(typ) {
		case "FILE":
			files = []string{path}
		case "DIR":
			ents, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("kinit: anchors %s: %w", loc, err)
			}
			for _, e := range ents {
				if !e.IsDir() {
					files = append(files, filepath.Join(path, e.Name()))
				}
			}
		default:
			return nil, fmt.Errorf("kinit: certificate location %q: want FILE:path or DIR:path", loc)
		}
		for _, f := range files {
			cs, err := certs.ReadCertificates(f)
			if err != nil {
				return nil, fmt.Errorf("kinit: %w", err)
			}
			for _, c := range cs {
				pool.AddCert(c)
			}
		}
	}
	return pool, nil
}

// kdcCheck is everything checkKDC needs besides the policy.
type kdcCheck struct {
	signed *pkinit.SignedContent
	raw    []byte // the SignedData as received, for a stapled OCSP response
	realm  string
	now    time.Time
}

// checkKDC is the part of reply verification pkinit leaves to the caller:
// the KDC certificate's path to the anchors, its EKU, its name, and its
// revocation status.
func (p *Policy) checkKDC(ctx context.Context, k kdcCheck) error {
	cert := k.signed.Signer
	if p.Anchors == nil {
		return fmt.Errorf("%w: no trust anchors (set pkinit_anchors for realm %s in krb5.conf, or --anchors)", ErrKDCNotTrusted, k.realm)
	}
	inter := x509.NewCertPool()
	if p.Intermediates != nil {
		inter = p.Intermediates.Clone()
	}
	for _, c := range k.signed.Certificates {
		if c != cert {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: p.Anchors, Intermediates: inter, CurrentTime: k.now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, // the KDC EKU is checked below, on the leaf only
	})
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrKDCNotTrusted, cert.Subject.String(), err)
	}
	if err := p.checkEKU(cert); err != nil {
		return err
	}
	if err := p.checkName(cert, k.realm); err != nil {
		return err
	}
	return p.checkRevocation(ctx, k, chains[0])
}

func (p *Policy) checkEKU(cert *x509.Certificate) error {
	hasKDC := slices.ContainsFunc(cert.UnknownExtKeyUsage, certs.OIDExtKeyUsagePKINITKDC.Equal)
	switch p.EKU {
	case EKUNone:
		return nil
	case EKUServerAuth:
		if hasKDC || slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			return nil
		}
		return fmt.Errorf("%w: %q has neither id-pkinit-KPKdc nor serverAuth", ErrKDCEKU, cert.Subject.String())
	}
	if hasKDC {
		return nil
	}
	return fmt.Errorf("%w: %q lacks the extended key usage id-pkinit-KPKdc (1.3.6.1.5.2.3.5)", ErrKDCEKU, cert.Subject.String())
}

func (p *Policy) checkName(cert *x509.Certificate, realm string) error {
	sans, err := certs.PKINITSANs(cert)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKDCName, err)
	}
	for _, s := range sans {
		if s.Realm == realm && len(s.Name) == 2 && s.Name[0] == "krbtgt" && s.Name[1] == realm {
			return nil
		}
	}
	for _, h := range p.KDCHostnames {
		for _, d := range cert.DNSNames {
			if strings.EqualFold(strings.TrimSuffix(h, "."), strings.TrimSuffix(d, ".")) {
				return nil
			}
		}
	}
	var names []string
	for _, s := range sans {
		names = append(names, s.String())
	}
	names = append(names, cert.DNSNames...)
	want := "krbtgt/" + realm + "@" + realm
	if len(p.KDCHostnames) > 0 {
		want += " or " + strings.Join(p.KDCHostnames, ", ")
	}
	return fmt.Errorf("%w: want %s, the certificate names %v", ErrKDCName, want, names)
}

func (p *Policy) checkRevocation(ctx context.Context, k kdcCheck, chain []*x509.Certificate) error {
	if p.OCSP == OCSPOff {
		return nil
	}
	if len(chain) < 2 {
		return nil // the KDC certificate is itself an anchor
	}
	cert, issuer := chain[0], chain[1]
	checker := p.Checker
	if checker == nil {
		hard := p.OCSP == OCSPRequire
		checker = revocation.NewChecker(revocation.Options{Policy: revocation.Policy{HardFail: hard}, Now: func() time.Time { return k.now }})
	}
	staple, err := stapledOCSP(k.raw)
	switch {
	case err == nil:
		if _, err := checker.CheckStapled(staple, cert, issuer); err != nil {
			return fmt.Errorf("%w: stapled OCSP response: %w", ErrKDCRevoked, err)
		}
		return nil
	case !errors.Is(err, errNoStaple):
		return err
	}
	if p.OCSP != OCSPRequire {
		return nil
	}
	res, err := checker.Check(ctx, cert, issuer)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKDCRevoked, err)
	}
	if res.Status != revocation.Good {
		return fmt.Errorf("%w: status %s", ErrKDCRevoked, res.Status)
	}
	return nil
}
