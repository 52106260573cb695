package pam

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/pam/offline"
)

// DefaultConfigPath is where `sclogon pam` reads its configuration.
const DefaultConfigPath = "/etc/sclogon/pam.conf"

// Defaults of the [pam] section.
const (
	DefaultKrb5Config = "/etc/krb5.conf"
	DefaultKeytab     = "/etc/krb5.keytab"
	DefaultCCache     = "FILE:/tmp/krb5cc_%{uid}" // MIT's default: no KRB5CCNAME needed
	DefaultIdentity   = "card"
	DefaultCertCache  = "/var/cache/sclogon/cards"
)

// Config is the helper's configuration: the [pam] section of a krb5.conf-style
// file, over krb5.conf itself (realm KDCs, PKINIT anchors and options).
//
//	[pam]
//	    realm = EXAMPLE.COM               # default: krb5.conf default_realm
//	    krb5_config = /etc/krb5.conf      # where [realms] and pkinit_* are read
//	    keytab = FILE:/etc/krb5.keytab
//	    host_principal = host/ws1.example.com   # default: host/<this host's FQDN>
//	    ccache = FILE:/tmp/krb5cc_%{uid}  # %{uid}, %{gid}, %{username}; unset: pam_sclogon.so
//	                                      # gives each session its own, /tmp/krb5cc_%{uid}_ + 6 random characters
//	    identity = card                   # or PKCS11:module_name=…:token=… (a PKCS #11 token);
//	                                      # FILE:cert.pem,key.pem / PKCS12:file.p12 (tests)
//	    reader = Yubico YubiKey           # card reader (substring); default: every card
//	    cert_cache = /var/cache/sclogon/cards   # certificates of cards seen before; "none" reads each card in full
//	    pin_cache = normal                # or timed:300s, none, always-prompt (as kinit --pin-cache)
//	    card_wait = 30s                   # under pam_sclogon.so: say "Insert your smart card" and wait this long
//	    retain_after_close = false        # pam_sclogon.so: keep the ccache when the session closes
//	    offline = false                   # log on when no KDC answers (package pam/offline)
//	    offline_dir = /var/lib/sclogon/offline
//	    offline_max_status_age = 24h      # the recorded OCSP answer's age, from its thisUpdate
//	    kdc = kdc1.example.com:88         # repeatable; default krb5.conf / DNS
//	    timeout = 3s                      # per KDC
//	    lifetime = 10h
//
// A [realms] or [libdefaults] relation in this file takes precedence over
// krb5.conf's.
type Config struct {
	Realm         string
	Krb5Config    string
	Keytab        string // a path (FILE: stripped)
	HostPrincipal ccache.Principal
	CCache        string // template, FILE: stripped
	// PerSessionCCache: no ccache key is set, so under pam_sclogon.so each
	// session gets its own ccache, CCache's path and a unique suffix
	// (/tmp/krb5cc_1000_Xy3abc), as pam_krb5 does; close_session destroys
	// only that one. pam_exec (which cannot set KRB5CCNAME) writes CCache.
	PerSessionCCache bool
	Identity         string
	Reader           string
	CertCache        string // a directory; "" reads each card in full
	CardWait         time.Duration
	// PINCache is how long the PIN typed is kept (pin_cache, as `sclogon
	// kinit --pin-cache`); a key's own PIN policy still applies.
	PINCache card.PINCachePolicy
	// RetainAfterClose keeps the session's ccache at close_session
	// (pam_krb5's retain_after_close); by default it is destroyed.
	RetainAfterClose bool
	// Offline turns offline logon on (see package pam/offline): records
	// in OfflineDir, their OCSP status at most OfflineMaxStatusAge old.
	Offline             bool
	OfflineDir          string
	OfflineMaxStatusAge time.Duration
	KDCs                []transport.KDC
	Timeout             time.Duration
	Lifetime            time.Duration

	// Profile is this file merged over krb5.conf.
	Profile *krb5conf.Config
	// Policy is the certificate selection rules, with the realm's switches
	// from Profile (see [selection.PolicyFromConfig]).
	Policy logon.Policy
}

var configKeys = []string{"realm", "krb5_config", "keytab", "host_principal", "ccache", "identity", "reader", "cert_cache", "card_wait", "pin_cache", "retain_after_close", "offline", "offline_dir", "offline_max_status_age", "kdc", "timeout", "lifetime"}

// pamSection is the [pam] section of the helper's own file.
type pamSection struct {
	path string
	own  *krb5conf.Config
}

func (p pamSection) get(key, def string) string {
	if v, ok := p.own.Value("pam", key); ok {
		return v
	}
	return def
}

// LoadConfig reads path. hostname answers this host's FQDN for the default
// host principal (nil: [FQDN]).
func LoadConfig(path string, hostname func() (string, error)) (*Config, error) {
	own, err := krb5conf.Load(path)
	if err != nil {
		return nil, fmt.Errorf("pam: config: %w", err)
	}
	p := pamSection{path: path, own: own}
	for _, k := range own.Tags("pam") {
		if !slices.Contains(configKeys, k) {
			return nil, fmt.Errorf("pam: config %s: unknown key %q in [pam] (known: %s)", path, k, strings.Join(configKeys, ", "))
		}
	}
	c := &Config{
		Krb5Config: p.get("krb5_config", DefaultKrb5Config),
		Keytab:     strings.TrimPrefix(p.get("keytab", DefaultKeytab), "FILE:"),
		Identity:   p.get("identity", DefaultIdentity),
		Reader:     p.get("reader", ""),
		CertCache:  p.get("cert_cache", DefaultCertCache),
		OfflineDir: p.get("offline_dir", offline.DefaultDir),
	}
	if c.CertCache == "none" {
		c.CertCache = ""
	}
	for _, step := range []func(*Config) error{p.realm, p.ccache, hostPrincipal(p, hostname), p.kdcs, p.switches, p.durations, p.pinCache} {
		if err := step(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// realm merges this file over krb5.conf (its relations win) and reads the
// realm and its certificate selection rules.
func (p pamSection) realm(c *Config) error {
	var err error
	if c.Profile, err = krb5conf.Load(p.path + ":" + c.Krb5Config); err != nil {
		return fmt.Errorf("pam: config: %w", err)
	}
	c.Realm = p.get("realm", c.Profile.DefaultRealm())
	if c.Realm == "" {
		return fmt.Errorf("pam: config %s: no realm (set realm in [pam], or default_realm in %s)", p.path, c.Krb5Config)
	}
	if c.Policy, err = selection.PolicyFromConfig(c.Profile, c.Realm); err != nil {
		return fmt.Errorf("pam: config %s: %w", p.path, err)
	}
	return nil
}

// ccache reads the ccache template; without one, pam_sclogon.so gives each
// session its own ccache (see [Config.PerSessionCCache]).
func (p pamSection) ccache(c *Config) error {
	_, set := p.own.Value("pam", "ccache")
	c.PerSessionCCache = !set
	var err error
	if c.CCache, err = ccacheTemplate(p.get("ccache", DefaultCCache)); err != nil {
		return fmt.Errorf("pam: config %s: %w", p.path, err)
	}
	return nil
}

// hostPrincipal reads host_principal, by default host/<this host's FQDN>.
func hostPrincipal(p pamSection, hostname func() (string, error)) func(*Config) error {
	return func(c *Config) error {
		host := p.get("host_principal", "")
		if host == "" {
			if hostname == nil {
				hostname = FQDN
			}
			fqdn, err := hostname()
			if err != nil {
				return fmt.Errorf("pam: config %s: no host_principal and %w", p.path, err)
			}
			host = "host/" + strings.ToLower(fqdn)
		}
		var err error
		if c.HostPrincipal, err = kinit.ServiceName(host, c.Realm); err != nil {
			return fmt.Errorf("pam: config %s: host_principal: %w", p.path, err)
		}
		return nil
	}
}

// kdcs reads the repeatable kdc key; a KDC without a port gets port 88.
func (p pamSection) kdcs(c *Config) error {
	for _, k := range p.own.Values("pam", "kdc") {
		if _, _, err := net.SplitHostPort(k); err != nil {
			k = net.JoinHostPort(k, strconv.Itoa(transport.DefaultPort))
		}
		c.KDCs = append(c.KDCs, transport.KDC{Addr: k})
	}
	return nil
}

// switches reads the true/false keys.
func (p pamSection) switches(c *Config) error {
	for _, sw := range []struct {
		key string
		dst *bool
	}{{"retain_after_close", &c.RetainAfterClose}, {"offline", &c.Offline}} {
		if v, ok := p.own.Value("pam", sw.key); ok {
			if *sw.dst, ok = p.own.Bool("pam", sw.key); !ok {
				return fmt.Errorf("pam: config %s: %s = %q: want true or false", p.path, sw.key, v)
			}
		}
	}
	return nil
}

// durations reads the duration keys; each must be more than zero.
func (p pamSection) durations(c *Config) error {
	c.OfflineMaxStatusAge = offline.DefaultMaxStatusAge
	for key, dst := range map[string]*time.Duration{"timeout": &c.Timeout, "lifetime": &c.Lifetime, "card_wait": &c.CardWait, "offline_max_status_age": &c.OfflineMaxStatusAge} {
		if v, ok := p.own.Value("pam", key); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("pam: config %s: %s = %q: want a duration such as 3s or 10h", p.path, key, v)
			}
			*dst = d
		}
	}
	return nil
}

// pinCache reads pin_cache as `sclogon kinit --pin-cache` does.
func (p pamSection) pinCache(c *Config) error {
	var err error
	if c.PINCache, err = card.ParsePINCachePolicy(p.get("pin_cache", "normal")); err != nil {
		return fmt.Errorf("pam: config %s: pin_cache: %w", p.path, err)
	}
	return nil
}

// ccacheTemplate accepts FILE:path or path; other cache types are refused.
func ccacheTemplate(v string) (string, error) {
	if strings.HasPrefix(v, "/") {
		return v, nil
	}
	typ, rest, _ := strings.Cut(v, ":")
	if (typ == "FILE" || typ == "WRFILE") && strings.HasPrefix(rest, "/") {
		return rest, nil
	}
	return "", fmt.Errorf("ccache = %q: want FILE:/absolute/path (%%{uid}, %%{gid} and %%{username} are expanded)", v)
}

// CCachePath expands the ccache template for an account.
func (c *Config) CCachePath(a Account) string {
	return strings.NewReplacer(
		"%{uid}", strconv.Itoa(a.UID),
		"%{gid}", strconv.Itoa(a.GID),
		"%{username}", a.Name,
	).Replace(c.CCache)
}

// Hint reads the PAM user name as the logon's name hint (see
// [selection.ParseHint]): "alice" logs on as alice@REALM, `DOMAIN\alice`
// likewise when DOMAIN is the realm's, and "alice@suffix" as an enterprise
// name when the suffix is not the realm's, so the KDC's mapping decides.
func (c *Config) Hint(user string) (selection.Hint, error) {
	h, err := selection.ParseHint(user, c.Profile, c.Realm)
	if err != nil {
		return selection.Hint{}, fmt.Errorf("pam: PAM_USER: %w", err)
	}
	return h, nil
}

// FQDN is this host's fully qualified name: the hostname, canonicalised
// through the resolver when it has no dot.
func FQDN() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("the hostname is unknown: %w", err)
	}
	if strings.Contains(h, ".") {
		return strings.TrimSuffix(h, "."), nil
	}
	if cname, err := net.LookupCNAME(h); err == nil && strings.Contains(strings.TrimSuffix(cname, "."), ".") {
		return strings.TrimSuffix(cname, "."), nil
	}
	return "", errors.New("the hostname " + h + " has no domain; set host_principal in [pam]")
}
