package kdc_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
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
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

const realm = "EXAMPLE.COM"

// pkiFixture is a realm's PKI made once per test binary: a root, an issuing
// CA in NTAuth, the KDC's certificate, and users.
type pkiFixture struct {
	dir     string
	ca      *pki.CA
	kdcCert *x509.Certificate
	kdcKey  crypto.Signer
	users   map[string]user
	// other is a second, untrusted CA.
	other *pki.CA
}

type user struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string // PEM certificate
	keyPath  string // PEM key
	sid      certs.SID
}

var (
	fixtureOnce sync.Once
	fixture     *pkiFixture
	fixtureErr  error
)

func domainSID(rid uint32) certs.SID {
	s, err := certs.NewSID(5, 21, 1111, 2222, 3333, rid)
	if err != nil {
		panic(err)
	}
	return s
}

// getFixture builds the PKI on first use. Its files live in a directory
// removed by TestMain.
func getFixture(t testing.TB) *pkiFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sclogon-kdc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildFixture() (*pkiFixture, error) {
	f := &pkiFixture{dir: fixtureDir, users: map[string]user{}}
	var err error
	if f.ca, err = pki.Init(filepath.Join(f.dir, "ca"), pki.InitOptions{Name: "Example Root CA", Intermediate: true}); err != nil {
		return nil, err
	}
	if f.other, err = pki.Init(filepath.Join(f.dir, "other"), pki.InitOptions{Name: "Other Root CA", KeyType: pki.P256}); err != nil {
		return nil, err
	}
	if f.kdcKey, err = pki.GenerateKey(pki.RSA2048, rand.Reader); err != nil {
		return nil, err
	}
	prof, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		return nil, err
	}
	if f.kdcCert, err = f.ca.Issue(f.kdcKey.Public(), prof); err != nil {
		return nil, err
	}
	type spec struct {
		name string
		ca   *pki.CA
		u    pki.User
		key  pki.KeyType
	}
	specs := []spec{
		{"alice", f.ca, pki.User{UPN: "alice@example.com", SID: domainSID(1104), Principals: []certs.PrincipalName{{NameType: 1, Name: []string{"alice"}, Realm: realm}}}, pki.RSA2048},
		{"erin", f.ca, pki.User{UPN: "erin@example.com", SID: domainSID(1107)}, pki.P256},
		{"dave", f.ca, pki.User{UPN: "dave@example.com", SID: domainSID(1106)}, pki.RSA2048}, // disabled account
		{"expired", f.ca, pki.User{UPN: "alice@example.com", SID: domainSID(1104), Validity: time.Millisecond}, pki.RSA2048},
		{"wrongeku", f.ca, pki.User{UPN: "alice@example.com", SID: domainSID(1104), ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageServerAuth}}, pki.RSA2048},
		{"stranger", f.other, pki.User{UPN: "alice@example.com", SID: domainSID(1104)}, pki.RSA2048}, // RSA: MIT 1.20 labels ECDSA CMS signatures sha256WithRSAEncryption
	}
	for _, s := range specs {
		key, err := pki.GenerateKey(s.key, rand.Reader)
		if err != nil {
			return nil, err
		}
		p, err := pki.UserProfile(s.u)
		if err != nil {
			return nil, err
		}
		cert, err := s.ca.Issue(key.Public(), p)
		if err != nil {
			return nil, err
		}
		u := user{cert: cert, key: key, sid: s.u.SID,
			certPath: filepath.Join(f.dir, s.name+".pem"), keyPath: filepath.Join(f.dir, s.name+".key")}
		if err := pki.WriteKeyAndCert(u.keyPath, u.certPath, key, cert); err != nil {
			return nil, err
		}
		f.users[s.name] = u
	}
	if s := f.users["expired"]; true {
		time.Sleep(time.Until(s.cert.NotAfter.Add(time.Second)))
	}
	return f, nil
}

// directoryLDIF has the fixture's accounts: alice and erin enabled, dave
// disabled (userAccountControl ACCOUNTDISABLE).
func (f *pkiFixture) directoryLDIF() string {
	var b strings.Builder
	entry := func(name string, rid uint32, uac int) {
		fmt.Fprintf(&b, "dn: cn=%s,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: %s\nsn: %s\nsAMAccountName: %s\nuserPrincipalName: %s@example.com\nobjectSid:: %s\nuserAccountControl: %d\nprimaryGroupID: 513\n\n",
			name, name, name, name, name, base64.StdEncoding.EncodeToString(domainSID(rid).Marshal()), uac)
	}
	entry("alice", 1104, 512)
	entry("erin", 1107, 512)
	entry("dave", 1106, 514)
	fmt.Fprintf(&b, "dn: cn=Smartcard Users,cn=Users,dc=example,dc=com\nobjectClass: group\ncn: Smartcard Users\nobjectSid:: %s\nmember: cn=alice,cn=Users,dc=example,dc=com\n\n",
		base64.StdEncoding.EncodeToString(domainSID(1200).Marshal()))
	return b.String()
}

// config is a KDC configuration over the fixture; adjust it before startKDC.
func (f *pkiFixture) config(t testing.TB) kdc.Config {
	t.Helper()
	dir, err := ldif.Read(strings.NewReader(f.directoryLDIF()))
	if err != nil {
		t.Fatal(err)
	}
	return kdc.Config{
		Realm:       realm,
		StateDir:    t.TempDir(),
		Certificate: []*x509.Certificate{f.kdcCert, f.ca.Issuer()},
		Key:         f.kdcKey,
		Anchors:     []*x509.Certificate{f.ca.Root(), f.other.Root()},
		// A DC holds its issuing CAs; kinit.Client sends only the leaf.
		Intermediates: []*x509.Certificate{f.ca.Issuer()},
		NTAuth:        []*x509.Certificate{f.ca.Issuer()},
		Directory:     dir,
		Mapping:       mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.ca.Issuer()}},
		OCSP:          kdc.OCSPOff,
		Services:      []string{"host/ws1.example.com@" + realm},
	}
}

// runningKDC is a KDC serving on loopback, with its audit log.
type runningKDC struct {
	*kdc.KDC
	addr  string
	audit *harness.Buffer
	// serverLog is the Server's own log: panics recovered from the handler.
	serverLog *harness.Buffer
	running   *kdc.Running
}

func startKDC(t testing.TB, cfg kdc.Config, opts kdc.Options) *runningKDC {
	t.Helper()
	audit := &harness.Buffer{}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	opts.Audit = audit
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	k, err := kdc.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	serverLog := &harness.Buffer{}
	r, err := kdc.Start(k, []string{"127.0.0.1:0"}, slog.New(slog.NewTextHandler(serverLog, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("KDC audit log:\n%s", audit.String())
		}
	})
	return &runningKDC{KDC: k, addr: r.Addr(), audit: audit, serverLog: serverLog, running: r}
}
