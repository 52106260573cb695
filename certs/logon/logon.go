package logon

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/certs"
)

// Rule names one selection rule.
type Rule string

// The rules, in the order they are checked.
const (
	RuleTime          Rule = "time"           // valid now by the clock
	RuleSignatureSlot Rule = "signature-slot" // not the signature-only slot 9C
	RuleUPN           Rule = "upn"            // a UPN, or no-UPN allowed with a hint
	RuleKeyUsage      Rule = "key-usage"      // digitalSignature
	RuleEKU           Rule = "eku"            // smart card logon or id-pkinit-KPClientAuth
	RuleCertMatch     Rule = "cert-match"     // pkinit_cert_match
)

// Policy holds the switches. The zero value is Windows' default.
type Policy struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowTimeInvalid accepts expired and not-yet-valid certificates
	// (Windows AllowTimeInvalidCertificates; sclogon_allow_time_invalid).
	AllowTimeInvalid bool
	// AllowSignatureKeys accepts the signature-only slot 9C (Windows
	// AllowSignatureOnlyKeys; sclogon_allow_signature_keys).
	AllowSignatureKeys bool
	// AllowNoUPN accepts certificates without a UPN when UserHint names
	// the user (Windows AllowCertificatesWithNoUPN + X509HintsNeeded;
	// sclogon_allow_no_upn).
	AllowNoUPN bool
	// UserHint is the user name the person gave (the principal argument).
	UserHint string
	// AllowNoEKU accepts certificates with no EKU or only
	// anyExtendedKeyUsage (Windows AllowCertificatesWithNoEKU;
	// sclogon_allow_no_eku).
	AllowNoEKU bool
	// AllowAnyKeyUsage drops the digitalSignature requirement
	// (sclogon_allow_any_key_usage; Windows has no switch for it).
	AllowAnyKeyUsage bool
	// Match is pkinit_cert_match; nil matches everything.
	Match *CertMatch
}

// Rejection is one rule a certificate broke, with the switch that would
// let it through ("" when none does).
type Rejection struct {
	Rule   Rule   `json:"rule"`
	Reason string `json:"reason"`
	Switch string `json:"switch,omitempty"`
}

// Verdict is what the policy says of one certificate.
type Verdict struct {
	Slot        card.Slot
	Cert        *x509.Certificate
	Label       string
	Fingerprint string // SHA-256 of the DER certificate, lower-case hex
	Rejections  []Rejection
}

// Usable reports whether no rule rejected the certificate.
func (v Verdict) Usable() bool { return len(v.Rejections) == 0 }

func (p Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Check applies every rule to c and records each one it breaks.
func (p Policy) Check(c card.Certificate) Verdict {
	sum := sha256.Sum256(c.Cert.Raw)
	v := Verdict{Slot: c.Slot, Cert: c.Cert, Label: Label(c.Cert), Fingerprint: hex.EncodeToString(sum[:])}
	reject := func(r Rule, sw, format string, a ...any) {
		v.Rejections = append(v.Rejections, Rejection{Rule: r, Reason: fmt.Sprintf(format, a...), Switch: sw})
	}
	cert := c.Cert
	now := p.now()
	if !p.AllowTimeInvalid {
		switch {
		case now.Before(cert.NotBefore):
			reject(RuleTime, "sclogon_allow_time_invalid", "not valid before %s", cert.NotBefore.UTC().Format(time.DateTime))
		case now.After(cert.NotAfter):
			reject(RuleTime, "sclogon_allow_time_invalid", "expired on %s", cert.NotAfter.UTC().Format(time.DateTime))
		}
	}
	if c.Slot == card.SlotSignature && !p.AllowSignatureKeys {
		reject(RuleSignatureSlot, "sclogon_allow_signature_keys", "in the signature-only slot 9c")
	}
	if !HasUPN(cert) {
		switch {
		case !p.AllowNoUPN:
			reject(RuleUPN, "sclogon_allow_no_upn", "no UPN (MS UPN or id-pkinit-san) in the subject alternative name")
		case p.UserHint == "":
			reject(RuleUPN, "", "no UPN, and no user name given as a hint (name the principal)")
		}
	}
	if !p.AllowAnyKeyUsage && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		if cert.KeyUsage == 0 {
			reject(RuleKeyUsage, "sclogon_allow_any_key_usage", "no key usage extension (digitalSignature is required)")
		} else {
			reject(RuleKeyUsage, "sclogon_allow_any_key_usage", "key usage lacks digitalSignature")
		}
	}
	switch eku := ekuState(cert); {
	case eku == ekuLogon:
	case eku == ekuNone && !p.AllowNoEKU:
		reject(RuleEKU, "sclogon_allow_no_eku", "no extended key usage")
	case eku == ekuAny && !p.AllowNoEKU:
		reject(RuleEKU, "sclogon_allow_no_eku", "only the any-purpose extended key usage")
	case eku == ekuOther:
		reject(RuleEKU, "", "extended key usage without smart card logon or id-pkinit-KPClientAuth")
	}
	if p.Match != nil && !p.Match.Match(cert) {
		reject(RuleCertMatch, "pkinit_cert_match", "does not satisfy pkinit_cert_match %q", p.Match.String())
	}
	return v
}

// CheckAll checks every certificate.
func (p Policy) CheckAll(list []card.Certificate) []Verdict {
	out := make([]Verdict, 0, len(list))
	for _, c := range list {
		out = append(out, p.Check(c))
	}
	return out
}

// Usable keeps the usable verdicts.
func Usable(vs []Verdict) []Verdict {
	var out []Verdict
	for _, v := range vs {
		if v.Usable() {
			out = append(out, v)
		}
	}
	return out
}

type ekuKind int

const (
	ekuNone ekuKind = iota
	ekuAny
	ekuLogon
	ekuOther
)

func ekuState(c *x509.Certificate) ekuKind {
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(certs.OIDExtKeyUsageSmartCardLogon) || o.Equal(certs.OIDExtKeyUsagePKINITClientAuth) {
			return ekuLogon
		}
	}
	others := len(c.UnknownExtKeyUsage)
	any := false
	for _, e := range c.ExtKeyUsage {
		if e == x509.ExtKeyUsageAny {
			any = true
		} else {
			others++
		}
	}
	switch {
	case others > 0:
		return ekuOther
	case any:
		return ekuAny
	}
	return ekuNone
}

// HasUPN reports an MS UPN otherName or an id-pkinit-san in the SAN.
func HasUPN(c *x509.Certificate) bool {
	if u, err := certs.UPNs(c); err == nil && len(u) > 0 {
		return true
	}
	p, err := certs.PKINITSANs(c)
	return err == nil && len(p) > 0
}

// Label names a certificate as Windows lists it: its UPN (MS UPN, else
// id-pkinit-san), else its e-mail address, else its subject.
func Label(c *x509.Certificate) string {
	if u, err := certs.UPNs(c); err == nil && len(u) > 0 {
		return u[0]
	}
	if p, err := certs.PKINITSANs(c); err == nil && len(p) > 0 {
		return p[0].String()
	}
	if len(c.EmailAddresses) > 0 {
		return c.EmailAddresses[0]
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}) {
			if s, ok := n.Value.(string); ok && s != "" {
				return s
			}
		}
	}
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "(no subject)"
}

// ErrNoUsable: no certificate passed the rules.
var ErrNoUsable = errors.New("logon: no certificate on the card may log on")

// AmbiguousError: several certificates are usable and nothing chose one.
type AmbiguousError struct {
	Choices []Verdict
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	b.WriteString("logon: several certificates may log on; choose one with --cert:")
	for _, v := range e.Choices {
		fmt.Fprintf(&b, "\n  --cert %s   %s (SHA-256 %s…)", v.Slot, v.Label, v.Fingerprint[:16])
	}
	return b.String()
}

// NoMatchError: --cert named nothing usable.
type NoMatchError struct {
	Pick string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("logon: no usable certificate matches --cert %q (a slot such as 9a, a UPN, or a SHA-256 fingerprint)", e.Pick)
}

// Find returns the usable certificate pick names: a slot ("9a"), a UPN or
// label (case-insensitive), or a SHA-256 fingerprint (hex, colons allowed,
// at least 8 digits of its start).
func Find(usable []Verdict, pick string) (Verdict, error) {
	if s, err := card.ParseSlot(pick); err == nil && len(pick) <= 4 {
		for _, v := range usable {
			if v.Slot == s {
				return v, nil
			}
		}
	}
	fp := strings.ToLower(strings.ReplaceAll(pick, ":", ""))
	var hits []Verdict
	for _, v := range usable {
		switch {
		case strings.EqualFold(v.Label, pick):
			hits = append(hits, v)
		case len(fp) >= 8 && strings.HasPrefix(v.Fingerprint, fp):
			hits = append(hits, v)
		default:
			if u, err := certs.UPNs(v.Cert); err == nil && slices.ContainsFunc(u, func(x string) bool { return strings.EqualFold(x, pick) }) {
				hits = append(hits, v)
			}
		}
	}
	switch len(hits) {
	case 0:
		return Verdict{}, &NoMatchError{Pick: pick}
	case 1:
		return hits[0], nil
	}
	return Verdict{}, &AmbiguousError{Choices: hits}
}

// Choose picks the certificate to log on with: the one named by pick; else
// the only usable one; else ask (a numbered choice on a terminal) when ask
// is not nil; else an [*AmbiguousError] listing the choices.
func Choose(usable []Verdict, pick string, ask func(choices []Verdict) (int, error)) (Verdict, error) {
	if len(usable) == 0 {
		return Verdict{}, ErrNoUsable
	}
	if pick != "" {
		return Find(usable, pick)
	}
	if len(usable) == 1 {
		return usable[0], nil
	}
	if ask == nil {
		return Verdict{}, &AmbiguousError{Choices: usable}
	}
	i, err := ask(usable)
	if err != nil {
		return Verdict{}, err
	}
	if i < 0 || i >= len(usable) {
		return Verdict{}, fmt.Errorf("logon: choice %d is not between 1 and %d", i+1, len(usable))
	}
	return usable[i], nil
}
