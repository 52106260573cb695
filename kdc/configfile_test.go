package kdc_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/cardkey"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/pkinit"
)

// configDir writes the fixture's files for a configuration file and returns
// the directory.
func configDir(t *testing.T, f *pkiFixture) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key, err := pki.MarshalKeyPEM(f.kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	write("kdc.pem", append(pki.CertPEM(f.kdcCert), pki.CertPEM(f.ca.Issuer())...))
	write("kdc.key", key)
	write("root.pem", pki.CertPEM(f.ca.Root()))
	write("issuing.pem", pki.CertPEM(f.ca.Issuer()))
	write("users.ldif", []byte(f.directoryLDIF()))
	return dir
}

// fullConfig sets every key of the [kdc] and [mapping] sections.
const fullConfig = `[kdc]
    realm = EXAMPLE.COM
    listen = 127.0.0.1:0
    listen = [::1]:0
    state_dir = state
    certificate = kdc.pem
    key = kdc.key
    anchors = root.pem
    intermediates = issuing.pem
    ntauth = issuing.pem
    client_eku = smartcard_logon
    ocsp = soft
    ocsp_responder = http://127.0.0.1:9/
    ocsp_timeout = 2s
    max_skew = 2m
    ticket_lifetime = 8h
    renew_lifetime = 2d
    freshness = required
    dh_groups = 16 14
    ecdh_curves = P-384
    kdfs = sha512 sha256
    key_transport = false
    dh_key_reuse = 1m
    allow_sha1 = true
    services = host/ws1.example.com
    services = HTTP/web.example.com@EXAMPLE.COM
    audit_log = audit.jsonl
    max_request_size = 4096
    request_timeout = 3s
    max_tcp_connections = 100
    max_tcp_connections_per_source = 10
    tcp_idle_timeout = 20s
    tcp_header_timeout = 2s
    error_rate_per_source = 0

[mapping]
    order = upn sid
    enforcement = compatibility
    sid_trusted_ca = issuing.pem
    backdating_allowance = 5m

[directory]
    ldif = users.ldif
`

// TestLoadConfigEveryKey loads a file with every key and checks each lands
// where it should.
func TestLoadConfigEveryKey(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := kdc.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c := fc.Config
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s not loaded: %+v", name, fc)
		}
	}
	check("realm", c.Realm == realm)
	check("listen", slices.Equal(c.Listen, []string{"127.0.0.1:0", "[::1]:0"}))
	check("state_dir", c.StateDir == filepath.Join(dir, "state"))
	check("certificate", len(c.Certificate) == 2 && c.Certificate[0].Equal(f.kdcCert))
	check("key", c.Key != nil)
	check("anchors", len(c.Anchors) == 1 && c.Anchors[0].Equal(f.ca.Root()))
	check("intermediates", len(c.Intermediates) == 1)
	check("ntauth", len(c.NTAuth) == 1 && c.NTAuth[0].Equal(f.ca.Issuer()))
	check("client_eku", c.ClientEKU == kdc.EKUSmartcardLogon)
	check("ocsp", c.OCSP == kdc.OCSPSoft)
	check("ocsp_responder", c.OCSPPolicy.ResponderURL == "http://127.0.0.1:9/")
	check("ocsp_timeout", c.OCSPPolicy.Timeout == 2*time.Second)
	check("max_skew", c.MaxSkew == 2*time.Minute)
	check("ticket_lifetime", c.TicketLifetime == 8*time.Hour)
	check("renew_lifetime", c.RenewLifetime == 48*time.Hour)
	check("freshness", c.Freshness == kdc.FreshnessRequired)
	check("dh_groups", slices.Equal(c.DHGroups, []pkinit.Group{16, 14}))
	check("ecdh_curves", slices.Equal(c.Curves, []pkinit.Curve{pkinit.CurveP384}))
	check("kdfs", slices.Equal(c.KDFs, []pkinit.KDF{pkinit.KDFSHA512, pkinit.KDFSHA256}))
	check("key_transport", c.NoKeyTransport)
	check("dh_key_reuse", c.DHKeyReuse == time.Minute)
	check("allow_sha1", c.AllowSHA1)
	check("services", slices.Equal(c.Services, []string{"host/ws1.example.com@EXAMPLE.COM", "HTTP/web.example.com@EXAMPLE.COM"}))
	check("audit_log", fc.AuditLog == filepath.Join(dir, "audit.jsonl"))
	check("max_request_size", fc.MaxRequest == 4096)
	check("request_timeout", fc.RequestTimeout == 3*time.Second)
	check("max_tcp_connections", fc.MaxTCPConns == 100)
	check("max_tcp_connections_per_source", fc.MaxTCPConnsPerSource == 10)
	check("tcp_idle_timeout", fc.TCPIdleTimeout == 20*time.Second)
	check("tcp_header_timeout", fc.TCPHeaderTimeout == 2*time.Second)
	check("error_rate_per_source", fc.ErrorRatePerSource < 0) // 0: no limit
	check("mapping.order", slices.Equal(c.Mapping.Order, []mapping.Method{mapping.MethodUPN, mapping.MethodSIDExtension}))
	check("mapping.enforcement", c.Mapping.Enforcement == mapping.EnforcementCompatibility)
	check("mapping.sid_trusted_ca", len(c.Mapping.SIDTrustedCAs) == 1)
	check("mapping.backdating_allowance", c.Mapping.BackdatingAllowance == 5*time.Minute)
	check("directory.ldif", c.Directory != nil)

	// The KDC starts on it and a logon goes through.
	cfg := c
	cfg.Freshness, cfg.OCSP = kdc.FreshnessSupported, kdc.OCSPOff
	k := startKDC(t, cfg, kdc.Options{})
	asRequest{user: f.users["alice"], group: pkinit.MODPGroup16}.build(t).asOK(t, k.addr)
	srv := fc.Server(k.KDC, nil)
	check("Server", srv.Handler == k.KDC && srv.Realm == realm && srv.MaxConns == 100 && srv.MaxConnsPerSource == 10 &&
		srv.IdleTimeout == 20*time.Second && srv.HeaderTimeout == 2*time.Second && srv.ErrorRate < 0 &&
		srv.MaxRequest == 4096 && srv.RequestTimeout == 3*time.Second)
}

// TestLoadConfigRefuses: unknown sections and keys are refused by name, and
// so is every invalid value, naming its key.
func TestLoadConfigRefuses(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	base := "[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ntauth = issuing.pem\n"
	dirSection := "[directory]\n ldif = users.ldif\n"
	for _, tc := range []struct {
		name, kdcLines, extra, want string
	}{
		{"valid", "", dirSection, ""},
		{"unknown-key", " bogus_key = 1\n", dirSection, "kdc.bogus_key: unknown key"},
		{"unknown-section", "", dirSection + "[bogus]\n x = 1\n", "unknown section [bogus]"},
		{"unknown-directory-key", "", dirSection + " colour = blue\n", "directory.colour: unknown key"},
		{"no-directory", "", "", "directory: ldif or url is required"},
		{"bad-listen", " listen = 127.0.0.1\n", dirSection, "kdc.listen"},
		{"bad-eku", " client_eku = smartcard\n", dirSection, "kdc.client_eku"},
		{"bad-ocsp", " ocsp = maybe\n", dirSection, "kdc.ocsp"},
		{"bad-duration", " max_skew = soon\n", dirSection, "kdc.max_skew"},
		{"bad-max-tcp-connections", " max_tcp_connections = 0\n", dirSection, "kdc.max_tcp_connections"},
		{"bad-tcp-per-source", " max_tcp_connections_per_source = many\n", dirSection, "kdc.max_tcp_connections_per_source"},
		{"bad-tcp-header-timeout", " tcp_header_timeout = 5\n", dirSection, "kdc.tcp_header_timeout"},
		{"bad-error-rate", " error_rate_per_source = -1\n", dirSection, "kdc.error_rate_per_source"},
		{"bad-freshness", " freshness = always\n", dirSection, "kdc.freshness"},
		{"bad-group", " dh_groups = 5\n", dirSection, "kdc.dh_groups"},
		{"bad-curve", " ecdh_curves = P-192\n", dirSection, "kdc.ecdh_curves"},
		{"bad-kdf", " kdfs = md5\n", dirSection, "kdc.kdfs"},
		{"bad-bool", " key_transport = perhaps\n", dirSection, "kdc.key_transport"},
		{"bad-size", " max_request_size = 10\n", dirSection, "kdc.max_request_size"},
		{"twice", " realm = OTHER.COM\n", dirSection, "kdc.realm: given 2 times"},
		{"pin-without-card", " key_pin_file = pin\n", dirSection, "kdc.key_pin_file"},
		{"bad-card-slot", " key = vcard:card.json#9z\n", dirSection, "kdc.key"},
		{"ldap-key-with-ldif", "", dirSection + " bind_dn = cn=x\n", "directory.bind_dn: only for an LDAP directory"},
		{"ntauth-dn-alone", "", "[directory]\n url = ldap://127.0.0.1:9/\n base_dn = dc=x\n ntauth_dn = cn=x\n", "directory.ntauth_dn"},
		{"bad-mapping", "", dirSection + "[mapping]\n order = email\n", "mapping.order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".conf")
			if err := os.WriteFile(path, []byte(base+tc.kdcLines+tc.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := kdc.LoadConfig(path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
	t.Run("missing-required", func(t *testing.T) {
		for _, key := range []string{"realm", "state_dir", "certificate", "key", "anchors", "ntauth"} {
			var lines []string
			for _, l := range strings.Split(base, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), key+" =") {
					lines = append(lines, l)
				}
			}
			path := filepath.Join(dir, "missing-"+key+".conf")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+dirSection), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := kdc.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "kdc."+key) {
				t.Errorf("without %s: %v", key, err)
			}
		}
	})
}

// TestCardKey: the KDC's key in slot 9a of a software PIV card (key =
// vcard:PATH#9a, its certificate read from the slot, its PIN from a file),
// handed in through the card seam (card/cardkey), signs the replies through
// GENERAL AUTHENTICATE, for an RSA and an ECDSA key whose PIN policy is
// "always"; a wrong PIN stops the KDC at start-up having cost one try, and
// without a card opener a card key is refused by name.
func TestCardKey(t *testing.T) {
	f := getFixture(t)
	for _, kt := range []pki.KeyType{pki.RSA2048, pki.P256} {
		t.Run(fmt.Sprint(kt), func(t *testing.T) {
			dir := configDir(t, f)
			key, err := pki.GenerateKey(kt, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			prof, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			cert, err := f.ca.Issue(key.Public(), prof)
			if err != nil {
				t.Fatal(err)
			}
			st, err := vcard.NewState(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SetKey(vcard.SlotAuthentication, key, vcard.PINPolicyAlways); err != nil {
				t.Fatal(err)
			}
			if err := st.SetCertificate(vcard.SlotAuthentication, cert.Raw); err != nil {
				t.Fatal(err)
			}
			if err := st.Create(filepath.Join(dir, "kdc-card.json")); err != nil {
				t.Fatal(err)
			}
			conf := strings.NewReplacer("certificate = kdc.pem\n", "", "key = kdc.key", "key = vcard:kdc-card.json#9a\n key_pin_file = kdc.pin").
				Replace("[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ntauth = issuing.pem\n ocsp = off\n[directory]\n ldif = users.ldif\n[mapping]\n sid_trusted_ca = issuing.pem\n")
			path := filepath.Join(dir, "kdc.conf")
			for _, file := range []struct{ name, data string }{{"kdc.conf", conf}, {"kdc.pin", "000000\n"}} {
				if err := os.WriteFile(filepath.Join(dir, file.name), []byte(file.data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := kdc.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "a key on a card") {
				t.Fatalf("card key without an opener: %v", err)
			}
			opts := kdc.LoadOptions{OpenKey: cardkey.OpenWithPINFile}
			if _, err := kdc.LoadConfigWith(path, opts); err == nil || !errors.Is(err, cardkey.ErrPINRefused) {
				t.Fatalf("wrong PIN: %v", err)
			}
			if st, err := vcard.Load(filepath.Join(dir, "kdc-card.json")); err != nil || st.PINTriesLeft() != 2 {
				t.Fatalf("after one wrong PIN the card has %v tries left (%v), want 2", st, err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kdc.pin"), []byte(vcard.DefaultPIN+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			fc, err := kdc.LoadConfigWith(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := fc.Key.(*cardkey.Signer); !ok || !fc.Certificate[0].Equal(cert) {
				t.Fatalf("key %T, certificate %s", fc.Key, fc.Certificate[0].Subject)
			}
			fc.Certificate = append(fc.Certificate, f.ca.Issuer())
			k := startKDC(t, fc.Config, kdc.Options{})
			for _, r := range []asRequest{{}, {curve: pkinit.CurveP256}, {rsa: true}} {
				r.user = f.users["alice"]
				b := r.build(t)
				res := b.readASRepFrom(t, k.addr, cert)
				if res == nil {
					t.Fatal("no reply")
				}
			}
		})
	}
}

// TestNTAuthFromLDAP: with ntauth = true under [directory], the NTAuth store
// is the cACertificate of AD's NTAuthCertificates object, read from slapd,
// and a logon by a certificate of that CA goes through the LDAP directory.
func TestNTAuthFromLDAP(t *testing.T) {
	f := getFixture(t)
	b64 := base64.StdEncoding.EncodeToString
	ldif := fmt.Sprintf(`dn: cn=Configuration,dc=example,dc=com
objectClass: organizationalRole
cn: Configuration

dn: cn=Services,cn=Configuration,dc=example,dc=com
objectClass: organizationalRole
cn: Services

dn: cn=Public Key Services,cn=Services,cn=Configuration,dc=example,dc=com
objectClass: organizationalRole
cn: Public Key Services

dn: cn=NTAuthCertificates,cn=Public Key Services,cn=Services,cn=Configuration,dc=example,dc=com
objectClass: organizationalRole
objectClass: pkiCA
cn: NTAuthCertificates
cACertificate;binary:: %s

dn: cn=alice,dc=example,dc=com
objectClass: user
cn: alice
sn: alice
sAMAccountName: alice
userPrincipalName: alice@example.com
objectSid:: %s
userAccountControl: 512
primaryGroupID: 513
`, b64(f.ca.Issuer().Raw), b64(domainSID(1104).Marshal()))
	l := harness.StartSlapd(t, harness.SlapdConfig{LDIF: ldif})
	dir := configDir(t, f)
	if err := os.WriteFile(filepath.Join(dir, "ldap.secret"), []byte(l.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ocsp = off\n"+
		"[directory]\n url = %s\n base_dn = %s\n bind_dn = %s\n password_file = ldap.secret\n timeout = 5s\n pool_size = 2\n starttls = false\n ntauth = true\n", l.URL, l.Suffix, l.BindDN)
	path := filepath.Join(dir, "kdc.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := kdc.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.NTAuth) != 1 || !fc.NTAuth[0].Equal(f.ca.Issuer()) {
		t.Fatalf("NTAuth from LDAP: %d certificates", len(fc.NTAuth))
	}
	fc.Mapping.SIDTrustedCAs = fc.NTAuth
	k := startKDC(t, fc.Config, kdc.Options{})
	asRequest{user: f.users["alice"]}.build(t).asOK(t, k.addr)
	if rec := lastAS(t, k); rec.Account != "alice" {
		t.Errorf("audit record %+v", rec)
	}

	// A DN with no NTAuth object stops the KDC at start-up.
	conf = strings.Replace(conf, "ntauth = true\n", "ntauth = true\n ntauth_dn = cn=NTAuthCertificates,dc=example,dc=com\n", 1)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kdc.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "directory.ntauth") {
		t.Fatalf("missing NTAuth object: %v", err)
	}
}
