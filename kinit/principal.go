package kinit

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/krb5conf"
)

// Name types, RFC 4120 §6.2 and RFC 6806 §5.
const (
	NameTypePrincipal  int32 = 1  // NT-PRINCIPAL
	NameTypeSrvInst    int32 = 2  // NT-SRV-INST
	NameTypeSrvHst     int32 = 3  // NT-SRV-HST
	NameTypeEnterprise int32 = 10 // NT-ENTERPRISE
)

// ClientName decides whom to ask a TGT for: arg when given ("alice" in the
// default realm, or "alice@REALM"); else the certificate's id-pkinit-san;
// else its UPN, as an enterprise name when its suffix is not the realm
// ([domain_realm] maps the suffix, else default_realm, else the suffix in
// upper case).
func ClientName(arg string, cert *x509.Certificate, conf *krb5conf.Config) (ccache.Principal, error) {
	if arg != "" {
		if !strings.Contains(arg, "@") {
			realm := conf.DefaultRealm()
			if realm == "" {
				return ccache.Principal{}, fmt.Errorf("kinit: %q has no realm and krb5.conf sets no default_realm; write it as %s@REALM", arg, arg)
			}
			arg += "@" + realm
		}
		p, err := certs.ParsePrincipalName(arg)
		if err != nil {
			return ccache.Principal{}, fmt.Errorf("kinit: %w", err)
		}
		return ccache.Principal{NameType: NameTypePrincipal, Components: p.Name, Realm: p.Realm}, nil
	}
	if cert == nil {
		return ccache.Principal{}, fmt.Errorf("kinit: no principal given and no certificate to take it from")
	}
	if sans, err := certs.PKINITSANs(cert); err == nil && len(sans) > 0 {
		return ccache.Principal{NameType: NameTypePrincipal, Components: sans[0].Name, Realm: sans[0].Realm}, nil
	}
	upns, _ := certs.UPNs(cert)
	if len(upns) == 0 {
		return ccache.Principal{}, fmt.Errorf("kinit: the certificate %q names no principal (no id-pkinit-san, no UPN); give the principal as an argument", cert.Subject.String())
	}
	user, suffix, ok := strings.Cut(upns[0], "@")
	if !ok || user == "" || suffix == "" {
		return ccache.Principal{}, fmt.Errorf("kinit: the certificate's UPN %q is not user@domain", upns[0])
	}
	realm := conf.HostRealm(suffix)
	if realm == "" {
		realm = conf.DefaultRealm()
	}
	if realm == "" {
		realm = strings.ToUpper(suffix)
	}
	if strings.EqualFold(suffix, realm) {
		return ccache.Principal{NameType: NameTypePrincipal, Components: []string{user}, Realm: realm}, nil
	}
	return ccache.Principal{NameType: NameTypeEnterprise, Components: []string{upns[0]}, Realm: realm}, nil
}

// ServiceName parses "service/host[@REALM]" for a TGS request, in realm
// unless it names its own.
func ServiceName(s, realm string) (ccache.Principal, error) {
	if !strings.Contains(s, "@") {
		s += "@" + realm
	}
	p, err := certs.ParsePrincipalName(s)
	if err != nil {
		return ccache.Principal{}, fmt.Errorf("kinit: service %w", err)
	}
	nt := NameTypePrincipal
	if len(p.Name) > 1 {
		nt = NameTypeSrvHst
	}
	return ccache.Principal{NameType: nt, Components: p.Name, Realm: p.Realm}, nil
}
