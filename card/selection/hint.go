package selection

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/logon"

	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/krb5conf"
)

// ErrHint: the name hint is not a user name, DOMAIN\user or user@suffix.
var ErrHint = errors.New("selection: bad user name hint")

// Hint is the user name a person gave, as Windows' X509HintsNeeded sends
// it: the client name of the AS-REQ, so that the KDC's certificate mapping
// decides whether the certificate belongs to that account.
type Hint struct {
	// Text is the hint as typed: "alice", `EXAMPLE\alice` or
	// "alice@example.com".
	Text string
	// Principal is the AS-REQ client name: NT-PRINCIPAL user@REALM for a
	// plain name, for DOMAIN\user and for a UPN whose suffix is the realm;
	// NT-ENTERPRISE "user@suffix" in the suffix's realm otherwise.
	Principal ccache.Principal
}

// Enterprise reports whether the hint goes as an enterprise name, which the
// KDC answers with the account's own (canonical) name.
func (h Hint) Enterprise() bool { return h.Principal.NameType == kinit.NameTypeEnterprise }

// ParseHint reads a hint. realm is the realm a plain name belongs to (""
// means krb5.conf's default_realm); a UPN suffix goes to the realm
// [domain_realm] maps it to, else to realm.
func ParseHint(text string, conf *krb5conf.Config, realm string) (Hint, error) {
	if realm == "" {
		realm = conf.DefaultRealm()
	}
	if realm == "" {
		return Hint{}, fmt.Errorf("%w %q: no realm (krb5.conf sets no default_realm)", ErrHint, text)
	}
	if text == "" || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '/' }) {
		return Hint{}, fmt.Errorf("%w %q: want user, DOMAIN\\user or user@suffix", ErrHint, text)
	}
	h := Hint{Text: text}
	plain := func(user, realm string) ccache.Principal {
		return ccache.Principal{NameType: kinit.NameTypePrincipal, Components: []string{user}, Realm: realm}
	}
	if domain, user, ok := strings.Cut(text, `\`); ok {
		if user == "" || strings.ContainsAny(user, `\@`) {
			return Hint{}, fmt.Errorf("%w %q: want DOMAIN\\user", ErrHint, text)
		}
		if !domainOf(domain, realm) {
			return Hint{}, fmt.Errorf("%w %q: the domain %s is not the realm %s; give the name as user@suffix", ErrHint, text, domain, realm)
		}
		h.Principal = plain(user, realm)
		return h, nil
	}
	user, suffix, ok := strings.Cut(text, "@")
	if !ok {
		h.Principal = plain(text, realm)
		return h, nil
	}
	if user == "" || suffix == "" || strings.Contains(suffix, "@") {
		return Hint{}, fmt.Errorf("%w %q: want user@suffix", ErrHint, text)
	}
	if r := conf.HostRealm(suffix); r != "" {
		realm = r
	}
	if strings.EqualFold(suffix, realm) {
		h.Principal = plain(user, realm)
		return h, nil
	}
	h.Principal = ccache.Principal{NameType: kinit.NameTypeEnterprise, Components: []string{text}, Realm: realm}
	return h, nil
}

// domainOf reports whether domain names realm: the realm itself, or its
// first label (the NetBIOS-style short name EXAMPLE of EXAMPLE.COM).
func domainOf(domain, realm string) bool {
	short, _, _ := strings.Cut(realm, ".")
	return strings.EqualFold(domain, realm) || strings.EqualFold(domain, short)
}

// Names reports whether cert names the hinted account: an id-pkinit-san
// equal to the hint's principal, or a UPN equal to an enterprise hint, or
// whose user part is a plain hint's name. It ranks certificates for a
// logon that cannot ask; the KDC's mapping still decides.
func (h Hint) Names(cert *x509.Certificate) bool {
	p := h.Principal
	if sans, err := certs.PKINITSANs(cert); err == nil {
		for _, s := range sans {
			if s.Realm == p.Realm && slices.Equal(s.Name, p.Components) {
				return true
			}
		}
	}
	upns, _ := certs.UPNs(cert)
	for _, u := range upns {
		if h.Enterprise() && strings.EqualFold(u, p.Components[0]) {
			return true
		}
		user, _, _ := strings.Cut(u, "@")
		if !h.Enterprise() && len(p.Components) == 1 && strings.EqualFold(user, p.Components[0]) {
			return true
		}
	}
	return false
}

// PreferNamed is a [Chooser] for a logon that cannot ask (pam_exec): the
// one certificate among the choices that [Hint.Names] the account; with
// none or several, a [*logon.AmbiguousError].
func PreferNamed(h Hint) Chooser {
	return func(choices []logon.Verdict) (int, error) {
		found := -1
		for i, v := range choices {
			if h.Names(v.Cert) {
				if found >= 0 {
					return 0, &logon.AmbiguousError{Choices: choices}
				}
				found = i
			}
		}
		if found < 0 {
			return 0, &logon.AmbiguousError{Choices: choices}
		}
		return found, nil
	}
}
