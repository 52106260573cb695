package kdc

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldap"
	"github.com/sclogon/sclogon/mapping/ldif"
	"github.com/sclogon/sclogon/pkinit"
)

// ExampleConfig documents every key of the KDC's configuration file. The
// file uses MIT's profile syntax (as kdc.conf does); relative paths are taken
// from the file's directory; durations are Go durations or a number of days
// ("7d"). Unknown sections and keys are refused by name.
const ExampleConfig = `# sclogon test KDC
[kdc]
    # required
    realm = EXAMPLE.COM
    # UDP and TCP; repeat for more addresses
    listen = 127.0.0.1:88
    # krbtgt and service keys (keys.json, 0600); not needed with keys = ldap
    state_dir = state
    # where the realm's keys live: file (state_dir/keys.json, one KDC) or
    # ldap: below keys_dn in the [directory] (url), which every KDC of the
    # realm shares, each key version sealed (AES-256-GCM) under master_key.
    # The first KDC to start makes them; 'sclogon kdc rollover' adds a new
    # key version, and the one it replaces decrypts the tickets issued under
    # it until they expire (ticket_lifetime + renew_lifetime + max_skew).
    # The directory's schema: integration/harness/schema/sclogon-keys.ldif;
    # bind_dn needs write access below keys_dn.
    keys = file
    # the realm's master key, the same file on every KDC: 64 hexadecimal
    # digits, mode 0600 (openssl rand -hex 32 > master.key)
    # master_key = master.key
    # default ou=Kerberos,<base_dn>; an ou= that is missing is created
    # keys_dn = ou=Kerberos,dc=example,dc=com
    # how often the keys are re-read (a key version the KDC does not know
    # is looked for at once, at most once a second)
    keys_refresh = 1m
    # the KDC's certificate, then its CA chain
    certificate = kdc.pem
    # its private key: a PEM file, or a slot of a card, signing through the
    # card seam: a software PIV card (sclogon vcard's state file) run in the
    # KDC's process, or a card in a PC/SC reader:
    #   key = vcard:kdc-card.json#9a
    #   key = pcsc:Yubico YubiKey OTP+FIDO+CCID 00 00#9c
    # with a card key, certificate may be left out: the slot's is used
    key = kdc.key
    # a card key's PIN, when its slot asks for one: read at start-up (a wrong
    # PIN stops the KDC, having cost one try) and again only when the card asks
    # key_pin_file = kdc-card.pin
    # trusted roots for client certificates (repeatable)
    anchors = root.pem
    # optional: CAs to build client paths with
    intermediates = issuing.pem
    # CAs allowed to issue logon certificates (AD's NTAuth store), a PEM
    # file (repeatable); or read from LDAP with ntauth = true under
    # [directory]; at least one of them
    ntauth = ntauth.pem
    # either | smartcard_logon | pkinit_client | none
    client_eku = either
    # keep each client certificate's verified path to the anchors this
    # long (0: off): a user's next logon within it builds no path. The
    # certificates' validity, NTAuth, key usage, EKU and OCSP are checked
    # on every logon all the same; a reload empties it
    certificate_cache_ttl = 10m
    # hard (fail closed) | soft | off
    ocsp = hard
    # optional: override the certificates' AIA
    ocsp_responder = http://127.0.0.1:8080/
    ocsp_timeout = 5s
    max_skew = 5m
    ticket_lifetime = 10h
    # 0 disables renewable tickets
    renew_lifetime = 7d
    # off | supported | required (RFC 8070)
    freshness = supported
    # MODP groups accepted, preferred first (2 only if listed)
    dh_groups = 14 16 18
    ecdh_curves = P-256 P-384 P-521
    # RFC 8636 KDFs accepted besides octetstring2key
    kdfs = sha256 sha512 sha1
    # RSA key transport (RFC 4556 §3.2.3.2)
    key_transport = true
    # reuse the KDC's DH key this long (0: fresh per request)
    dh_key_reuse = 0s
    # accept SHA-1 CMS signatures
    allow_sha1 = false
    # service principals to make keys for (repeatable)
    services = host/client.example.com
    # one JSON line per request; "stderr" or a path
    audit_log = audit.jsonl
    max_request_size = 65536
    request_timeout = 10s
    # TCP connections open at once; at the limit the one idle longest is
    # closed for a new one (default: 3/4 of the open-file limit, at most 4096)
    # max_tcp_connections = 4096
    # TCP connections open at once from one address (an IPv6 /64)
    max_tcp_connections_per_source = 64
    # a TCP connection that starts no request for this long is closed
    tcp_idle_timeout = 30s
    # a TCP request must arrive whole within this of its first byte
    tcp_header_timeout = 5s
    # KRB-ERRORs a second over UDP to one address, in bursts of twice as
    # many; the rest are dropped (0: no limit)
    error_rate_per_source = 100
    # optional, off when absent: an HTTP endpoint on host:port with
    # /healthz/live, /healthz/ready (the keys loaded, the directory answers)
    # and /metrics (Prometheus text format); no authentication, so bind it
    # to loopback or a monitoring network
    # http_listen = 127.0.0.1:8088

[mapping]
    # methods, tried in this order
    order = sid altsecid upn
    # KB5014754: full | compatibility | off
    enforcement = full
    # CAs whose SID extension is believed (repeatable)
    sid_trusted_ca = issuing.pem
    backdating_allowance = 10m
    # keep each successful mapping this long (0: off, the default): a
    # user's next logon costs the directory no search, but an account
    # disabled or unmapped within it still logs on until it expires, so
    # keep it short (at most a minute) or off
    # cache_ttl = 30s

[directory]
    # an LDIF file read into memory, or:
    ldif = users.ldif
    # url = ldap://127.0.0.1:389/
    # replicas of the directory, asked in this order when one fails (a
    # failed server is asked again after a backoff), one url or several:
    # url = ldap://dc1.example.com/ ldap://dc2.example.com/
    # base_dn = dc=example,dc=com
    # bind_dn = cn=kdc,dc=example,dc=com
    # password_file = ldap.secret
    # ca_file = ldap-ca.pem
    # starttls = false
    # timeout = 5s
    # pool_size = 4
    # read the NTAuth store from the directory at start-up, as AD does:
    # cACertificate of CN=NTAuthCertificates,CN=Public Key Services,
    # CN=Services,CN=Configuration,<base_dn>
    # ntauth = false
    # ntauth_dn = CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration,dc=example,dc=com
`

// FileConfig is a Config plus what only the process around the KDC needs.
type FileConfig struct {
	Config
	AuditLog string // "", "stderr" or a path
	// The [Server]'s settings; zero values take its defaults.
	MaxRequest           int
	RequestTimeout       time.Duration
	MaxTCPConns          int
	MaxTCPConnsPerSource int
	TCPIdleTimeout       time.Duration
	TCPHeaderTimeout     time.Duration
	ErrorRatePerSource   float64 // negative: no limit
	// HTTPListen is the host:port of the health and metrics endpoint
	// ([Reloader.HTTPHandler]); "": none.
	HTTPListen string
}

// Server is a Server for h (a [KDC] or a [Reloader]) with the settings of
// the file.
func (fc *FileConfig) Server(h Handler, log *slog.Logger) *Server {
	return &Server{Handler: h, Realm: fc.Realm, Log: log, MaxRequest: fc.MaxRequest, RequestTimeout: fc.RequestTimeout,
		MaxConns: fc.MaxTCPConns, MaxConnsPerSource: fc.MaxTCPConnsPerSource, IdleTimeout: fc.TCPIdleTimeout,
		HeaderTimeout: fc.TCPHeaderTimeout, ErrorRate: fc.ErrorRatePerSource}
}

var knownKeys = map[string][]string{
	"kdc": {"realm", "listen", "state_dir", "certificate", "key", "key_pin_file", "anchors", "intermediates", "ntauth",
		"client_eku", "certificate_cache_ttl", "ocsp", "ocsp_responder", "ocsp_timeout", "max_skew", "ticket_lifetime", "renew_lifetime",
		"freshness", "dh_groups", "ecdh_curves", "kdfs", "key_transport", "dh_key_reuse", "allow_sha1",
		"services", "audit_log", "max_request_size", "request_timeout", "max_tcp_connections",
		"max_tcp_connections_per_source", "tcp_idle_timeout", "tcp_header_timeout", "error_rate_per_source", "http_listen",
		"keys", "master_key", "keys_dn", "keys_refresh"},
	"mapping":   {"order", "enforcement", "sid_trusted_ca", "backdating_allowance", "cache_ttl"},
	"directory": {"ldif", "url", "base_dn", "bind_dn", "password_file", "ca_file", "starttls", "timeout", "pool_size", "ntauth", "ntauth_dn"},
}

// KeyOpener opens a key that lives on a card: spec is the key setting
// (vcard:PATH#SLOT or pcsc:READER#SLOT), cert the certificate from the
// certificate setting or nil, pinFile the key_pin_file or "". It returns the
// signer and the key's certificate. The KDC knows no card: the program
// around it hands one in (package card/cardkey has it).
type KeyOpener func(spec string, cert *x509.Certificate, pinFile string) (crypto.Signer, *x509.Certificate, error)

// LoadOptions are what [LoadConfigWith] needs beyond the file.
type LoadOptions struct {
	// OpenKey opens a key on a card; without it such a key is refused.
	OpenKey KeyOpener
}

// LoadConfig reads and validates a KDC configuration file (see
// [ExampleConfig]) whose key is a PEM file.
func LoadConfig(path string) (*FileConfig, error) { return LoadConfigWith(path, LoadOptions{}) }

// LoadConfigWith reads and validates a KDC configuration file (see
// [ExampleConfig]); opts opens a key on a card.
func LoadConfigWith(path string, opts LoadOptions) (*FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kdc: config: %w", err)
	}
	defer f.Close()
	prof, err := krb5conf.Parse(f, path)
	if err != nil {
		return nil, fmt.Errorf("kdc: config: %w", err)
	}
	l := &loader{prof: prof, dir: filepath.Dir(path), file: path, openKey: opts.OpenKey}
	return l.load()
}

type loader struct {
	prof    *krb5conf.Config
	dir     string
	file    string
	openKey KeyOpener
}

func (l *loader) errf(key, format string, args ...any) error {
	return fmt.Errorf("kdc: config %s: %s: %s", l.file, key, fmt.Sprintf(format, args...))
}

func (l *loader) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}

// values returns every value of section/key, words split on spaces.
func (l *loader) words(section, key string) []string {
	var out []string
	for _, v := range l.prof.Values(section, key) {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func (l *loader) one(section, key string) (string, bool, error) {
	vs := l.prof.Values(section, key)
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	}
	return "", false, l.errf(section+"."+key, "given %d times; it takes one value", len(vs))
}

func (l *loader) duration(section, key string, def time.Duration) (time.Duration, error) {
	v, ok, err := l.one(section, key)
	if err != nil || !ok {
		return def, err
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, l.errf(section+"."+key, "%v", err)
	}
	return d, nil
}

func (l *loader) boolean(section, key string, def bool) (bool, error) {
	v, ok, err := l.one(section, key)
	if err != nil || !ok {
		return def, err
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, l.errf(section+"."+key, "%q is not true or false", v)
}

// ParseDuration reads a Go duration or a whole number of days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (such as 90s, 10h or 7d)", s)
	}
	return d, nil
}

func (l *loader) load() (*FileConfig, error) {
	if err := l.checkKnownKeys(); err != nil {
		return nil, err
	}
	fc := &FileConfig{}
	c := &fc.Config
	for _, step := range []func(*Config) error{
		l.loadBasics, l.loadIdentity, l.loadTrust, l.loadChecks, l.loadAgreement, l.loadMapping, l.loadDirectory,
		l.loadKeys,
	} {
		if err := step(c); err != nil {
			return nil, err
		}
	}
	if err := l.loadProcess(fc); err != nil {
		return nil, err
	}
	if err := l.loadServer(fc); err != nil {
		return nil, err
	}
	if len(c.NTAuth) == 0 {
		return nil, l.errf("kdc.ntauth", "required: a PEM file of the NTAuth CAs, or ntauth = true under [directory]")
	}
	return fc, nil
}

// checkKnownKeys refuses a section or key this loader does not know, by name.
func (l *loader) checkKnownKeys() error {
	for _, section := range l.prof.Tags() {
		keys, ok := knownKeys[section]
		if !ok {
			return fmt.Errorf("kdc: config %s: unknown section [%s]", l.file, section)
		}
		for _, key := range l.prof.Tags(section) {
			if !contains(keys, key) {
				return l.errf(section+"."+key, "unknown key")
			}
		}
	}
	return nil
}

// loadBasics reads the realm, the listeners and the state directory.
func (l *loader) loadBasics(c *Config) error {
	var err error
	var ok bool
	if c.Realm, ok, err = l.one("kdc", "realm"); err != nil || !ok {
		return errors.Join(err, l.errf("kdc.realm", "required"))
	}
	c.Listen = l.words("kdc", "listen")
	for _, a := range c.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return l.errf("kdc.listen", "%q is not host:port", a)
		}
	}
	if v, ok, err := l.one("kdc", "state_dir"); err != nil {
		return err
	} else if ok {
		c.StateDir = l.path(v) // required unless keys = ldap (loadKeys)
	}
	return nil
}

// loadTrust reads the anchors, the intermediates and the NTAuth CAs.
func (l *loader) loadTrust(c *Config) error {
	for _, key := range []struct {
		name string
		dst  *[]*x509.Certificate
		req  bool
	}{{"anchors", &c.Anchors, true}, {"intermediates", &c.Intermediates, false}, {"ntauth", &c.NTAuth, false}} {
		paths := l.prof.Values("kdc", key.name)
		if key.req && len(paths) == 0 {
			return l.errf("kdc."+key.name, "required")
		}
		for _, p := range paths {
			cs, err := certs.ReadCertificates(l.path(p))
			if err != nil {
				return l.errf("kdc."+key.name, "%v", err)
			}
			*key.dst = append(*key.dst, cs...)
		}
	}
	return nil
}

// loadChecks reads how client certificates and requests are checked:
// EKU, the path cache, OCSP, clock skew and ticket lifetimes.
func (l *loader) loadChecks(c *Config) error {
	var err error
	if v, ok, err := l.one("kdc", "client_eku"); err != nil {
		return err
	} else if ok {
		m := map[string]EKUPolicy{"either": EKUEither, "smartcard_logon": EKUSmartcardLogon, "pkinit_client": EKUPKINITClient, "none": EKUNone}
		if c.ClientEKU, ok = m[v]; !ok {
			return l.errf("kdc.client_eku", "%q is not either, smartcard_logon, pkinit_client or none", v)
		}
	}
	if v, ok, err := l.one("kdc", "ocsp"); err != nil {
		return err
	} else if ok {
		m := map[string]OCSPMode{"hard": OCSPHard, "soft": OCSPSoft, "off": OCSPOff}
		if c.OCSP, ok = m[v]; !ok {
			return l.errf("kdc.ocsp", "%q is not hard, soft or off", v)
		}
	}
	if c.CertificateCacheTTL, err = l.duration("kdc", "certificate_cache_ttl", 0); err != nil {
		return err
	}
	if v, _, _ := l.one("kdc", "certificate_cache_ttl"); v != "" && c.CertificateCacheTTL == 0 {
		c.CertificateCacheTTL = -1 // "0" in the file: off
	}
	if c.OCSPPolicy.ResponderURL, _, err = l.one("kdc", "ocsp_responder"); err != nil {
		return err
	}
	if c.OCSPPolicy.Timeout, err = l.duration("kdc", "ocsp_timeout", 0); err != nil {
		return err
	}
	if c.MaxSkew, err = l.duration("kdc", "max_skew", 0); err != nil {
		return err
	}
	if c.TicketLifetime, err = l.duration("kdc", "ticket_lifetime", 0); err != nil {
		return err
	}
	if c.RenewLifetime, err = l.duration("kdc", "renew_lifetime", 0); err != nil {
		return err
	}
	if v, _, _ := l.one("kdc", "renew_lifetime"); v != "" && c.RenewLifetime == 0 {
		c.RenewLifetime = -1 // "0" in the file: no renewable tickets
	}
	return nil
}

// loadAgreement reads freshness tokens and what key agreement accepts.
func (l *loader) loadAgreement(c *Config) error {
	if v, ok, err := l.one("kdc", "freshness"); err != nil {
		return err
	} else if ok {
		m := map[string]FreshnessMode{"off": FreshnessOff, "supported": FreshnessSupported, "required": FreshnessRequired}
		if c.Freshness, ok = m[v]; !ok {
			return l.errf("kdc.freshness", "%q is not off, supported or required", v)
		}
	}
	for _, w := range l.words("kdc", "dh_groups") {
		g, err := strconv.Atoi(w)
		if err != nil || (g != 2 && g != 14 && g != 16 && g != 18) {
			return l.errf("kdc.dh_groups", "%q is not a MODP group (2, 14, 16, 18)", w)
		}
		c.DHGroups = append(c.DHGroups, pkinit.Group(g))
	}
	for _, w := range l.words("kdc", "ecdh_curves") {
		m := map[string]pkinit.Curve{"P-256": pkinit.CurveP256, "P-384": pkinit.CurveP384, "P-521": pkinit.CurveP521}
		cv, ok := m[strings.ToUpper(w)]
		if !ok {
			return l.errf("kdc.ecdh_curves", "%q is not P-256, P-384 or P-521", w)
		}
		c.Curves = append(c.Curves, cv)
	}
	for _, w := range l.words("kdc", "kdfs") {
		m := map[string]pkinit.KDF{"sha1": pkinit.KDFSHA1, "sha256": pkinit.KDFSHA256, "sha384": pkinit.KDFSHA384, "sha512": pkinit.KDFSHA512}
		kdf, ok := m[strings.ToLower(w)]
		if !ok {
			return l.errf("kdc.kdfs", "%q is not sha1, sha256, sha384 or sha512", w)
		}
		c.KDFs = append(c.KDFs, kdf)
	}
	kt, err := l.boolean("kdc", "key_transport", true)
	if err != nil {
		return err
	}
	c.NoKeyTransport = !kt
	if c.DHKeyReuse, err = l.duration("kdc", "dh_key_reuse", 0); err != nil {
		return err
	}
	if c.AllowSHA1, err = l.boolean("kdc", "allow_sha1", false); err != nil {
		return err
	}
	return nil
}

// loadProcess reads the services to make keys for and the audit log.
func (l *loader) loadProcess(fc *FileConfig) error {
	c := &fc.Config
	for _, s := range l.words("kdc", "services") {
		if !strings.Contains(s, "@") {
			s += "@" + c.Realm
		}
		c.Services = append(c.Services, s)
	}
	if v, ok, err := l.one("kdc", "audit_log"); err != nil {
		return err
	} else if ok && v != "stderr" {
		fc.AuditLog = l.path(v)
	} else {
		fc.AuditLog = v
	}
	return nil
}

// loadServer reads the settings of the listeners: request size and
// timeout, TCP connection bounds and timeouts, the UDP error rate.
func (l *loader) loadServer(fc *FileConfig) error {
	var err error
	for _, n := range []struct {
		key string
		dst *int
		min int
	}{{"max_request_size", &fc.MaxRequest, 1024}, {"max_tcp_connections", &fc.MaxTCPConns, 1}, {"max_tcp_connections_per_source", &fc.MaxTCPConnsPerSource, 1}} {
		if *n.dst, err = l.integer("kdc", n.key, n.min); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"request_timeout", &fc.RequestTimeout}, {"tcp_idle_timeout", &fc.TCPIdleTimeout}, {"tcp_header_timeout", &fc.TCPHeaderTimeout}} {
		if *d.dst, err = l.duration("kdc", d.key, 0); err != nil {
			return err
		}
	}
	if fc.HTTPListen, _, err = l.one("kdc", "http_listen"); err != nil {
		return err
	}
	if _, _, herr := net.SplitHostPort(fc.HTTPListen); fc.HTTPListen != "" && herr != nil {
		return l.errf("kdc.http_listen", "%q is not host:port", fc.HTTPListen)
	}
	rate, err := l.integer("kdc", "error_rate_per_source", 0)
	switch {
	case err != nil:
		return err
	case rate == 0 && len(l.prof.Values("kdc", "error_rate_per_source")) > 0:
		fc.ErrorRatePerSource = -1 // "0" in the file: no limit
	default:
		fc.ErrorRatePerSource = float64(rate)
	}
	return nil
}

// integer reads a whole number of at least min; 0 when the key is absent.
func (l *loader) integer(section, key string, min int) (int, error) {
	v, ok, err := l.one(section, key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, l.errf(section+"."+key, "%q is not a whole number of at least %d", v, min)
	}
	return n, nil
}

// loadIdentity reads the KDC's certificate chain (from the file; for a card
// key, the slot's certificate when no file is given) and its key (a PEM file,
// or a card's slot opened through l.openKey).
func (l *loader) loadIdentity(c *Config) error {
	keySpec, ok, err := l.one("kdc", "key")
	if err != nil || !ok {
		return errors.Join(err, l.errf("kdc.key", "required"))
	}
	certPath, haveCert, err := l.one("kdc", "certificate")
	if err != nil {
		return err
	}
	if haveCert {
		if c.Certificate, err = certs.ReadCertificates(l.path(certPath)); err != nil {
			return l.errf("kdc.certificate", "%v", err)
		}
	}
	pinFile, havePIN, err := l.one("kdc", "key_pin_file")
	if err != nil {
		return err
	}
	if isCardKey(keySpec) {
		return l.openCardKey(c, keySpec, pinFile)
	}
	if havePIN {
		return l.errf("kdc.key_pin_file", "only for a key on a card (key = vcard:PATH#SLOT or pcsc:READER#SLOT)")
	}
	keyPEM, err := os.ReadFile(l.path(keySpec))
	if err != nil {
		return l.errf("kdc.key", "%v", err)
	}
	if c.Key, err = pki.ParseKeyPEM(keyPEM); err != nil {
		return l.errf("kdc.key", "%v", err)
	}
	if !haveCert {
		return l.errf("kdc.certificate", "required")
	}
	if !publicKeysEqual(c.Certificate[0].PublicKey, c.Key.Public()) {
		return l.errf("kdc.key", "the key does not belong to the KDC certificate %s", c.Certificate[0].Subject)
	}
	return nil
}

// isCardKey tells a key on a card (see [KeyOpener]) from a key file.
func isCardKey(spec string) bool {
	return strings.HasPrefix(spec, "vcard:") || strings.HasPrefix(spec, "pcsc:")
}

func (l *loader) openCardKey(c *Config, spec, pinFile string) error {
	if l.openKey == nil {
		return l.errf("kdc.key", "%q is a key on a card, which this program cannot open", spec)
	}
	if pinFile != "" {
		pinFile = l.path(pinFile)
	}
	var leaf *x509.Certificate
	if len(c.Certificate) > 0 {
		leaf = c.Certificate[0]
	}
	if strings.HasPrefix(spec, "vcard:") {
		spec = "vcard:" + l.path(strings.TrimPrefix(spec, "vcard:"))
	}
	key, cert, err := l.openKey(spec, leaf, pinFile)
	if err != nil {
		return fmt.Errorf("kdc: config %s: kdc.key: %w", l.file, err)
	}
	if len(c.Certificate) == 0 {
		c.Certificate = []*x509.Certificate{cert}
	}
	if !publicKeysEqual(c.Certificate[0].PublicKey, key.Public()) {
		return l.errf("kdc.key", "the key on the card does not belong to the KDC certificate %s", c.Certificate[0].Subject)
	}
	c.Key = key
	return nil
}

func (l *loader) loadMapping(c *Config) error {
	for _, w := range l.words("mapping", "order") {
		m := map[string]mapping.Method{"sid": mapping.MethodSIDExtension, "altsecid": mapping.MethodAltSecID, "upn": mapping.MethodUPN}
		method, ok := m[strings.ToLower(w)]
		if !ok {
			return l.errf("mapping.order", "%q is not sid, altsecid or upn", w)
		}
		c.Mapping.Order = append(c.Mapping.Order, method)
	}
	if v, ok, err := l.one("mapping", "enforcement"); err != nil {
		return err
	} else if ok {
		m := map[string]mapping.Enforcement{"full": mapping.EnforcementFull, "compatibility": mapping.EnforcementCompatibility, "off": mapping.EnforcementOff}
		if c.Mapping.Enforcement, ok = m[v]; !ok {
			return l.errf("mapping.enforcement", "%q is not full, compatibility or off", v)
		}
	}
	for _, p := range l.prof.Values("mapping", "sid_trusted_ca") {
		cs, err := certs.ReadCertificates(l.path(p))
		if err != nil {
			return l.errf("mapping.sid_trusted_ca", "%v", err)
		}
		c.Mapping.SIDTrustedCAs = append(c.Mapping.SIDTrustedCAs, cs...)
	}
	var err error
	if c.Mapping.BackdatingAllowance, err = l.duration("mapping", "backdating_allowance", 0); err != nil {
		return err
	}
	c.Mapping.CacheTTL, err = l.duration("mapping", "cache_ttl", 0)
	return err
}

func (l *loader) loadDirectory(c *Config) error {
	ldifPath, hasLDIF, err := l.one("directory", "ldif")
	if err != nil {
		return err
	}
	urls := l.words("directory", "url")
	hasURL := len(urls) > 0
	switch {
	case hasLDIF && hasURL:
		return l.errf("directory", "give ldif or url, not both")
	case hasLDIF:
		for _, key := range []string{"base_dn", "bind_dn", "password_file", "ca_file", "starttls", "timeout", "pool_size", "ntauth", "ntauth_dn"} {
			if len(l.prof.Values("directory", key)) > 0 {
				return l.errf("directory."+key, "only for an LDAP directory (url), not with ldif")
			}
		}
		d, err := ldif.Load(l.path(ldifPath))
		if err != nil {
			return l.errf("directory.ldif", "%v", err)
		}
		c.Directory = d
		return nil
	case !hasURL:
		return l.errf("directory", "ldif or url is required")
	}
	cfg, err := l.ldapConfig(urls)
	if err != nil {
		return err
	}
	d, err := ldap.New(cfg)
	if err != nil {
		return l.errf("directory", "%v", err)
	}
	c.Directory = d
	return l.loadNTAuthLDAP(c, cfg)
}

// ldapConfig reads how to reach the LDAP directory at urls: the server
// asked first, then its replicas.
func (l *loader) ldapConfig(urls []string) (ldap.Config, error) {
	cfg := ldap.Config{URL: urls[0], Replicas: urls[1:]}
	var err error
	if cfg.BaseDN, _, err = l.one("directory", "base_dn"); err != nil {
		return cfg, err
	}
	if cfg.BindDN, _, err = l.one("directory", "bind_dn"); err != nil {
		return cfg, err
	}
	if p, ok, err := l.one("directory", "password_file"); err != nil {
		return cfg, err
	} else if ok {
		b, err := os.ReadFile(l.path(p))
		if err != nil {
			return cfg, l.errf("directory.password_file", "%v", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if p, ok, err := l.one("directory", "ca_file"); err != nil {
		return cfg, err
	} else if ok {
		cfg.CAFile = l.path(p)
	}
	if cfg.StartTLS, err = l.boolean("directory", "starttls", false); err != nil {
		return cfg, err
	}
	if cfg.Timeout, err = l.duration("directory", "timeout", 0); err != nil {
		return cfg, err
	}
	if v, ok, err := l.one("directory", "pool_size"); err != nil {
		return cfg, err
	} else if ok {
		if cfg.PoolSize, err = strconv.Atoi(v); err != nil || cfg.PoolSize < 1 {
			return cfg, l.errf("directory.pool_size", "%q is not a positive number", v)
		}
	}
	return cfg, nil
}

// loadNTAuthLDAP reads the NTAuth CAs from AD's NTAuthCertificates object
// when ntauth = true.
func (l *loader) loadNTAuthLDAP(c *Config, cfg ldap.Config) error {
	fromLDAP, err := l.boolean("directory", "ntauth", false)
	if err != nil {
		return err
	}
	dn, hasDN, err := l.one("directory", "ntauth_dn")
	if err != nil {
		return err
	}
	if hasDN && !fromLDAP {
		return l.errf("directory.ntauth_dn", "given without ntauth = true")
	}
	if !fromLDAP {
		return nil
	}
	// The first server that answers; replicas hold the same store.
	var errs []string
	for _, u := range append([]string{cfg.URL}, cfg.Replicas...) {
		one := cfg
		one.URL, one.Replicas = u, nil
		cs, err := ReadNTAuthLDAP(context.Background(), one, dn)
		if err == nil {
			c.NTAuth = append(c.NTAuth, cs...)
			return nil
		}
		errs = append(errs, u+": "+err.Error())
	}
	return l.errf("directory.ntauth", "%s", strings.Join(errs, "; "))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
