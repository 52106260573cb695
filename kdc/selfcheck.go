package kdc

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// ErrOwnCertificate: the KDC's own certificate cannot serve (expired, not
// yet valid); the KDC refuses to start.
var ErrOwnCertificate = errors.New("kdc: the KDC's certificate cannot be used")

// expiryWarning is how close to its end the KDC's certificate is warned of.
const expiryWarning = 24 * time.Hour

// ownChain checks the KDC's certificate as a client will (RFC 4556 §3.2.4)
// and returns the CA certificates to send with every reply: the path from
// it to the anchors through the configured intermediates, so a client that
// trusts only the root can verify the reply. What would make every logon fail
// is an error; what a client may be configured around is a warning.
func (c *Config) ownChain(now time.Time, log *slog.Logger) ([]*x509.Certificate, error) {
	leaf := c.Certificate[0]
	switch {
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("%w: %s is valid only from %s", ErrOwnCertificate, leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("%w: %s expired at %s", ErrOwnCertificate, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	case leaf.NotAfter.Sub(now) < expiryWarning:
		log.Warn("kdc: the KDC's certificate expires within a day; renew it", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC())
	}
	c.warnOwnNames(leaf, log)
	chain := c.pathToAnchors(now)
	if chain == nil {
		log.Warn("kdc: the KDC's certificate has no path to the anchors through the configured intermediates; clients must trust its CA themselves",
			"subject", leaf.Subject.String(), "issuer", leaf.Issuer.String())
		return c.Certificate[1:], nil
	}
	// What the certificate file holds beyond the leaf is sent too.
	for _, extra := range c.Certificate[1:] {
		if !slices.ContainsFunc(chain, extra.Equal) {
			chain = append(chain, extra)
		}
	}
	return chain, nil
}

// pathToAnchors is the shortest verified path from the KDC's certificate to
// an anchor, without the leaf and the anchor; nil when there is none.
func (c *Config) pathToAnchors(now time.Time) []*x509.Certificate {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range c.Anchors {
		roots.AddCert(a)
	}
	for _, i := range slices.Concat(c.Certificate[1:], c.Intermediates) {
		inter.AddCert(i)
	}
	paths, err := c.Certificate[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(paths) == 0 {
		return nil
	}
	best := slices.MinFunc(paths, func(a, b []*x509.Certificate) int { return len(a) - len(b) })
	if len(best) < 2 {
		// The KDC's certificate is itself an anchor: nothing lies between.
		return []*x509.Certificate{}
	}
	return slices.Clone(best[1 : len(best)-1])
}

// warnOwnNames warns of a KDC certificate that clients refuse by default:
// no KDC EKU, or no id-pkinit-san naming krbtgt/REALM@REALM (then a client
// needs pkinit_kdc_hostname).
func (c *Config) warnOwnNames(leaf *x509.Certificate, log *slog.Logger) {
	if !slices.ContainsFunc(leaf.UnknownExtKeyUsage, certs.OIDExtKeyUsagePKINITKDC.Equal) {
		log.Warn("kdc: the KDC's certificate lacks the EKU id-pkinit-KPKdc (KDC Authentication); clients refuse it unless told otherwise (pkinit_eku_checking)",
			"subject", leaf.Subject.String())
	}
	want := certs.PrincipalName{NameType: 2, Name: []string{"krbtgt", c.Realm}, Realm: c.Realm}
	names, _ := certs.PKINITSANs(leaf)
	if !slices.ContainsFunc(names, func(p certs.PrincipalName) bool { return p.String() == want.String() }) {
		log.Warn("kdc: the KDC's certificate does not name "+want.String()+" (id-pkinit-san); clients need pkinit_kdc_hostname",
			"subject", leaf.Subject.String(), "dns_names", leaf.DNSNames)
	}
}
