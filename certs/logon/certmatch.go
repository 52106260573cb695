package logon

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sclogon/sclogon/certs"
)

// CertMatch is MIT's pkinit_cert_match: rules a certificate must satisfy to
// be used, such as "<SUBJECT>.*CN=alice.*" or "||<EKU>msScLogin<EKU>pkinit".
// Rules are joined by && (all, the default) or || (any), written once at the
// start. Kinds: <SUBJECT> and <ISSUER> (regular expressions over the RFC 2253
// name), <SAN> (over id-pkinit-san principals and UPNs), <EKU> (pkinit,
// msScLogin, clientAuth, emailProtection), <KU> (digitalSignature,
// keyEncipherment).
type CertMatch struct {
	any   bool
	rules []matchRule
	text  string
}

type matchRule struct {
	kind string
	re   *regexp.Regexp
	list []string
}

// ParseCertMatch parses a pkinit_cert_match expression.
func ParseCertMatch(s string) (*CertMatch, error) {
	m := &CertMatch{text: s}
	rest := s
	switch {
	case strings.HasPrefix(rest, "&&"):
		rest = rest[2:]
	case strings.HasPrefix(rest, "||"):
		m.any, rest = true, rest[2:]
	}
	for rest != "" {
		if rest[0] != '<' {
			return nil, fmt.Errorf("logon: pkinit_cert_match %q: expected <KIND> at %q", s, rest)
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return nil, fmt.Errorf("logon: pkinit_cert_match %q: unterminated <", s)
		}
		kind := strings.ToUpper(rest[1:end])
		rest = rest[end+1:]
		next := strings.IndexByte(rest, '<')
		// A regular expression may contain '<' only at the end of the rule list.
		val := rest
		if next >= 0 && kind != "SUBJECT" && kind != "ISSUER" && kind != "SAN" {
			val, rest = rest[:next], rest[next:]
		} else if next >= 0 && isRuleStart(rest[next:]) {
			val, rest = rest[:next], rest[next:]
		} else {
			rest = ""
		}
		r := matchRule{kind: kind}
		switch kind {
		case "SUBJECT", "ISSUER", "SAN":
			re, err := regexp.Compile(val)
			if err != nil {
				return nil, fmt.Errorf("logon: pkinit_cert_match %q: %v", s, err)
			}
			r.re = re
		case "EKU", "KU":
			for _, v := range strings.Split(val, ",") {
				if v = strings.TrimSpace(v); v != "" {
					r.list = append(r.list, v)
				}
			}
			for _, v := range r.list {
				if !knownUsage(kind, v) {
					return nil, fmt.Errorf("logon: pkinit_cert_match %q: unknown %s %q", s, kind, v)
				}
			}
		default:
			return nil, fmt.Errorf("logon: pkinit_cert_match %q: unknown rule <%s>", s, kind)
		}
		m.rules = append(m.rules, r)
	}
	if len(m.rules) == 0 {
		return nil, fmt.Errorf("logon: pkinit_cert_match %q: no rules", s)
	}
	return m, nil
}

func isRuleStart(s string) bool {
	for _, k := range []string{"<SUBJECT>", "<ISSUER>", "<SAN>", "<EKU>", "<KU>"} {
		if len(s) >= len(k) && strings.EqualFold(s[:len(k)], k) {
			return true
		}
	}
	return false
}

func knownUsage(kind, v string) bool {
	if kind == "EKU" {
		return slices.Contains([]string{"pkinit", "msScLogin", "clientAuth", "emailProtection"}, v)
	}
	return slices.Contains([]string{"digitalSignature", "keyEncipherment"}, v)
}

// String returns the expression as written.
func (m *CertMatch) String() string { return m.text }

// Match reports whether c satisfies the rules.
func (m *CertMatch) Match(c *x509.Certificate) bool {
	for _, r := range m.rules {
		ok := r.match(c)
		if ok && m.any {
			return true
		}
		if !ok && !m.any {
			return false
		}
	}
	return !m.any
}

func (r matchRule) match(c *x509.Certificate) bool {
	switch r.kind {
	case "SUBJECT":
		return r.re.MatchString(c.Subject.String())
	case "ISSUER":
		return r.re.MatchString(c.Issuer.String())
	case "SAN":
		sans, _ := certs.PKINITSANs(c)
		for _, s := range sans {
			if r.re.MatchString(s.String()) {
				return true
			}
		}
		upns, _ := certs.UPNs(c)
		for _, u := range upns {
			if r.re.MatchString(u) {
				return true
			}
		}
		return false
	case "EKU":
		for _, v := range r.list {
			if !hasEKU(c, v) {
				return false
			}
		}
		return true
	case "KU":
		for _, v := range r.list {
			bit := x509.KeyUsageDigitalSignature
			if v == "keyEncipherment" {
				bit = x509.KeyUsageKeyEncipherment
			}
			if c.KeyUsage&bit == 0 {
				return false
			}
		}
		return true
	}
	return false
}

func hasEKU(c *x509.Certificate, name string) bool {
	switch name {
	case "pkinit":
		return slices.ContainsFunc(c.UnknownExtKeyUsage, certs.OIDExtKeyUsagePKINITClientAuth.Equal)
	case "msScLogin":
		return slices.ContainsFunc(c.UnknownExtKeyUsage, certs.OIDExtKeyUsageSmartCardLogon.Equal)
	case "clientAuth":
		return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	case "emailProtection":
		return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageEmailProtection)
	}
	return false
}
