package selection

import (
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/krb5conf"
)

// PolicyFromConfig reads the selection switches of realm from krb5.conf
// ([realms] REALM, then [libdefaults]; each false by default, Windows'
// defaults): sclogon_allow_time_invalid, sclogon_allow_signature_keys,
// sclogon_allow_no_upn, sclogon_allow_no_eku, sclogon_allow_any_key_usage,
// and MIT's pkinit_cert_match.
func PolicyFromConfig(conf *krb5conf.Config, realm string) (logon.Policy, error) {
	p := logon.Policy{
		AllowTimeInvalid:   conf.RealmBool(realm, "sclogon_allow_time_invalid", false),
		AllowSignatureKeys: conf.RealmBool(realm, "sclogon_allow_signature_keys", false),
		AllowNoUPN:         conf.RealmBool(realm, "sclogon_allow_no_upn", false),
		AllowNoEKU:         conf.RealmBool(realm, "sclogon_allow_no_eku", false),
		AllowAnyKeyUsage:   conf.RealmBool(realm, "sclogon_allow_any_key_usage", false),
	}
	if vs := conf.RealmValues(realm, "pkinit_cert_match"); len(vs) > 0 {
		m, err := logon.ParseCertMatch(vs[0])
		if err != nil {
			return p, err
		}
		p.Match = m
	}
	return p, nil
}
