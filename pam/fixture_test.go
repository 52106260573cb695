package pam_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

const (
	realm         = "EXAMPLE.COM"
	host          = "host/ws1.example.com"
	partnerSuffix = "partner.example"
)

// realmFixture is a realm made once per test binary: a CA, the KDC's
// certificate, and users with unique names (they become Unix accounts in
// the pamtester tests): "user" logs on, "other" owns the other card (both
// certificates carry a UPN and the SID extension); "altsec" has a
// certificate without a UPN, mapped by altSecurityIdentities (X509:<I><SR>)
// only, and "sidOnly" one without a UPN, mapped by its SID extension only.
type realmFixture struct {
	dir                          string
	ca                           *pki.CA
	kdcCert                      *x509.Certificate
	kdcKey                       crypto.Signer
	user, other, altsec, sidOnly person
}

type person struct {
	name     string
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string
	keyPath  string
	rid      uint32
	altSecID string // the account's altSecurityIdentities value, if any
}

// identity is the person's FILE: identity.
func (p person) identity() string { return "FILE:" + p.certPath + "," + p.keyPath }

var (
	fixtureOnce sync.Once
	fixture     *realmFixture
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sclogon-pam-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func getFixture(t testing.TB) *realmFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func domainSID(rid uint32) certs.SID {
	s, err := certs.NewSID(5, 21, 1111, 2222, 3333, rid)
	if err != nil {
		panic(err)
	}
	return s
}

func buildFixture() (*realmFixture, error) {
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	base := "sclogon-test-" + hex.EncodeToString(suffix[:])
	f := &realmFixture{dir: fixtureDir}
	var err error
	if f.ca, err = pki.Init(filepath.Join(f.dir, "ca"), pki.InitOptions{Name: "PAM Test Root CA", KeyType: pki.P256}); err != nil {
		return nil, err
	}
	if f.kdcKey, err = pki.GenerateKey(pki.P256, rand.Reader); err != nil {
		return nil, err
	}
	prof, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		return nil, err
	}
	if f.kdcCert, err = f.ca.Issue(f.kdcKey.Public(), prof); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst  *person
		name string
		rid  uint32
	}{{&f.user, base, 1104}, {&f.other, base + "-b", 1105}} {
		key, err := pki.GenerateKey(pki.P256, rand.Reader)
		if err != nil {
			return nil, err
		}
		prof, err := pki.UserProfile(pki.User{
			UPN: p.name + "@example.com", SID: domainSID(p.rid),
			ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon},
		})
		if err != nil {
			return nil, err
		}
		cert, err := f.ca.Issue(key.Public(), prof)
		if err != nil {
			return nil, err
		}
		*p.dst = person{name: p.name, cert: cert, key: key, rid: p.rid,
			certPath: filepath.Join(f.dir, p.name+".pem"), keyPath: filepath.Join(f.dir, p.name+".key")}
		if err := pki.WriteKeyAndCert(p.dst.keyPath, p.dst.certPath, key, cert); err != nil {
			return nil, err
		}
	}
	for _, p := range []struct {
		dst    *person
		name   string
		rid    uint32
		altSec bool
	}{{&f.altsec, base + "-a", 1106, true}, {&f.sidOnly, base + "-s", 1107, false}} {
		if err := f.noUPNPerson(p.dst, p.name, p.rid, p.altSec); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// noUPNPerson makes a certificate without a UPN (seed 004's case): with the
// SID extension, or, for altSec, without one and with the account's
// altSecurityIdentities naming its issuer and serial number.
func (f *realmFixture) noUPNPerson(dst *person, name string, rid uint32, altSec bool) error {
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		return err
	}
	u := pki.User{CommonName: name, ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon}}
	if !altSec {
		u.SID = domainSID(rid)
	}
	prof, err := pki.UserProfile(u)
	if err != nil {
		return err
	}
	cert, err := f.ca.Issue(key.Public(), prof)
	if err != nil {
		return err
	}
	*dst = person{name: name, cert: cert, key: key, rid: rid,
		certPath: filepath.Join(f.dir, name+".pem"), keyPath: filepath.Join(f.dir, name+".key")}
	if altSec {
		ids, err := mapping.AltSecIDsFor(cert)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id.Kind == mapping.KindIssuerSerial {
				dst.altSecID = id.String()
			}
		}
	}
	return pki.WriteKeyAndCert(dst.keyPath, dst.certPath, key, cert)
}

func (f *realmFixture) directoryLDIF() string {
	var b strings.Builder
	for _, p := range []person{f.user, f.other, f.altsec, f.sidOnly} {
		// The SID-mapped account's UPN is in another namespace than the
		// realm: an enterprise name reaches it.
		suffix := "example.com"
		if p.name == f.sidOnly.name {
			suffix = partnerSuffix
		}
		fmt.Fprintf(&b, "dn: cn=%s,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: %s\nsn: %s\nsAMAccountName: %s\nuserPrincipalName: %s@%s\nobjectSid:: %s\nuserAccountControl: 512\nprimaryGroupID: 513\n",
			p.name, p.name, p.name, p.name, p.name, suffix, base64.StdEncoding.EncodeToString(domainSID(p.rid).Marshal()))
		if p.altSecID != "" {
			fmt.Fprintf(&b, "altSecurityIdentities: %s\n", p.altSecID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// runningKDC is a KDC on loopback with its state directory.
type runningKDC struct {
	*kdc.KDC
	addr string
}

func (f *realmFixture) startKDC(t testing.TB) *runningKDC {
	t.Helper()
	dir, err := ldif.Read(strings.NewReader(f.directoryLDIF()))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(kdc.Config{
		Realm:       realm,
		StateDir:    t.TempDir(),
		Certificate: []*x509.Certificate{f.kdcCert, f.ca.Issuer()},
		Key:         f.kdcKey,
		Anchors:     []*x509.Certificate{f.ca.Root()},
		NTAuth:      []*x509.Certificate{f.ca.Issuer()},
		Directory:   dir,
		Mapping:     mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.ca.Issuer()}},
		OCSP:        kdc.OCSPOff,
		Services:    []string{host + "@" + realm},
	}, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := kdc.Start(k, []string{"127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &runningKDC{KDC: k, addr: r.Addr()}
}

// keytab writes the KDC's host keys to a keytab file.
func (k *runningKDC) keytab(t testing.TB) string {
	t.Helper()
	kt, err := k.Keys().Keytab(host + "@" + realm)
	if err != nil {
		t.Fatal(err)
	}
	return writeKeytab(t, kt)
}

// foreignKeytab is a keytab for the same host principal with keys the KDC
// never saw: what a host has when the KDC answering is not the realm's.
func foreignKeytab(t testing.TB) string {
	t.Helper()
	ks, err := kdc.OpenKeyStore(t.TempDir(), rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Ensure(host + "@" + realm); err != nil {
		t.Fatal(err)
	}
	kt, err := ks.Keytab(host + "@" + realm)
	if err != nil {
		t.Fatal(err)
	}
	return writeKeytab(t, kt)
}

func writeKeytab(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "krb5.keytab")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeConfig writes a krb5.conf and a pam.conf for the KDC and returns the
// pam.conf path. extra lines go into [pam]; an empty ccache sets none (a
// per-session ccache under pam_sclogon.so).
func (f *realmFixture) writeConfig(t testing.TB, kdcAddr, keytab, ccache string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	krb5 := filepath.Join(dir, "krb5.conf")
	conf := fmt.Sprintf("[libdefaults]\n  default_realm = %s\n  dns_lookup_kdc = false\n[realms]\n  %s = {\n    kdc = tcp/%s\n    pkinit_anchors = FILE:%s\n  }\n", realm, realm, kdcAddr, f.ca.RootPath())
	if err := os.WriteFile(krb5, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pamConf := filepath.Join(dir, "pam.conf")
	lines := []string{"krb5_config = " + krb5, "keytab = FILE:" + keytab, "host_principal = " + host, "timeout = 5s"}
	if ccache != "" {
		lines = append(lines, "ccache = FILE:"+ccache)
	}
	lines = append(lines, extra...)
	if err := os.WriteFile(pamConf, []byte("[pam]\n  "+strings.Join(lines, "\n  ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return pamConf
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
