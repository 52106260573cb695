package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrNotFound is returned for a serial number the CA never issued.
var ErrNotFound = errors.New("pki: no such certificate")

// Options carries the clock and the randomness; zero fields mean the
// system clock and crypto/rand.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

// InitOptions says what [Init] makes.
type InitOptions struct {
	Options
	// Name is the root's common name; the intermediate is "<Name> Issuing CA".
	Name string
	// Intermediate adds an issuing CA under the root, as AD CS deployments do.
	Intermediate bool
	// KeyType of the CA keys; default RSA2048.
	KeyType KeyType
	// Validity of the CA certificates; default ten years.
	Validity time.Duration
	// OCSPURL and CRLURL go into every issued certificate (AIA and CRL DP).
	OCSPURL string
	CRLURL  string
}

// settings is ca.json.
type settings struct {
	OCSPURL      string `json:"ocsp_url,omitempty"`
	CRLURL       string `json:"crl_url,omitempty"`
	Intermediate bool   `json:"intermediate"`
}

// CA is an open CA directory. Its methods are safe for concurrent use and
// re-read the index from disk, so several processes may share a directory.
type CA struct {
	dir  string
	opts Options
	set  settings

	root, issuer *x509.Certificate
	issuerKey    crypto.Signer
	rootKey      crypto.Signer

	mu sync.Mutex

	idxMu sync.Mutex
	idx   *indexSnapshot // see index
}

// Record is one issued certificate in the index.
type Record struct {
	Serial    string    `json:"serial"` // upper-case hex, as OpenSSL prints it
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	File      string    `json:"file"`
	Revoked   bool      `json:"revoked,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    Reason    `json:"reason,omitempty"`
}

// Paths of the files in a CA directory.
func (ca *CA) path(name string) string { return filepath.Join(ca.dir, name) }

// Dir returns the CA directory.
func (ca *CA) Dir() string { return ca.dir }

// Root returns the root CA certificate (the trust anchor).
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Issuer returns the CA certificate that signs issued certificates: the
// intermediate when there is one, else the root.
func (ca *CA) Issuer() *x509.Certificate { return ca.issuer }

// Chain returns the issuing CA followed by the root when they differ.
func (ca *CA) Chain() []*x509.Certificate {
	if ca.issuer == ca.root {
		return []*x509.Certificate{ca.root}
	}
	return []*x509.Certificate{ca.issuer, ca.root}
}

// IssuerSigner returns the issuing CA's key, for signing OCSP responses and CRLs.
func (ca *CA) IssuerSigner() crypto.Signer { return ca.issuerKey }

// RootPath, IssuerPath and NTAuthPath are the PEM files of the CA certificates.
func (ca *CA) RootPath() string   { return ca.path("root.pem") }
func (ca *CA) NTAuthPath() string { return ca.path("ntauth.pem") }
func (ca *CA) IssuerPath() string {
	if ca.set.Intermediate {
		return ca.path("intermediate.pem")
	}
	return ca.path("root.pem")
}

// Init creates a CA in dir, which must be empty or not exist.
func Init(dir string, o InitOptions) (*CA, error) {
	if o.Name == "" {
		o.Name = "sclogon Test Root CA"
	}
	if o.KeyType == "" {
		o.KeyType = RSA2048
	}
	if o.Validity == 0 {
		o.Validity = 10 * 365 * 24 * time.Hour
	}
	if err := os.MkdirAll(filepath.Join(dir, "issued"), 0o755); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.json")); err == nil {
		return nil, fmt.Errorf("pki: %s already holds a CA; use another directory or remove it", dir)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	ca := &CA{dir: dir, opts: o.Options, set: settings{OCSPURL: o.OCSPURL, CRLURL: o.CRLURL, Intermediate: o.Intermediate}}
	now := o.now()
	rootKey, err := GenerateKey(o.KeyType, o.rand())
	if err != nil {
		return nil, err
	}
	rootTmpl := caTemplate(big.NewInt(1), pkix.Name{CommonName: o.Name}, now, now.Add(o.Validity), rootKey.Public())
	rootTmpl.MaxPathLen = 1
	if !o.Intermediate {
		rootTmpl.MaxPathLen, rootTmpl.MaxPathLenZero = 0, true
	}
	root, err := createCert(o.rand(), rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	if err := WriteKeyAndCert(ca.path("root.key"), ca.path("root.pem"), rootKey, root); err != nil {
		return nil, err
	}
	ca.root, ca.rootKey, ca.issuer, ca.issuerKey = root, rootKey, root, rootKey
	if o.Intermediate {
		key, err := GenerateKey(o.KeyType, o.rand())
		if err != nil {
			return nil, err
		}
		tmpl := caTemplate(big.NewInt(2), pkix.Name{CommonName: o.Name + " Issuing CA"}, now, now.Add(o.Validity), key.Public())
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
		ca.addURLs(tmpl)
		inter, err := createCert(o.rand(), tmpl, root, key.Public(), rootKey)
		if err != nil {
			return nil, err
		}
		if err := WriteKeyAndCert(ca.path("intermediate.key"), ca.path("intermediate.pem"), key, inter); err != nil {
			return nil, err
		}
		ca.issuer, ca.issuerKey = inter, key
	}
	if err := writeFile(ca.path("ntauth.pem"), CertPEM(ca.issuer), 0o644); err != nil {
		return nil, err
	}
	if err := writeFile(ca.path("serial"), []byte("1000\n"), 0o644); err != nil {
		return nil, err
	}
	if err := ca.writeIndex(nil); err != nil {
		return nil, err
	}
	js, _ := json.MarshalIndent(ca.set, "", "  ")
	if err := writeFile(ca.path("ca.json"), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// Open opens the CA in dir made by [Init].
func Open(dir string, o Options) (*CA, error) {
	ca := &CA{dir: dir, opts: o}
	js, err := os.ReadFile(ca.path("ca.json"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("pki: %s is not a CA directory (no ca.json); create one with 'sclogon pki init --dir %s'", dir, dir)
		}
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := json.Unmarshal(js, &ca.set); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", ca.path("ca.json"), err)
	}
	if ca.root, ca.rootKey, err = loadPair(ca.path("root.pem"), ca.path("root.key")); err != nil {
		return nil, err
	}
	ca.issuer, ca.issuerKey = ca.root, ca.rootKey
	if ca.set.Intermediate {
		if ca.issuer, ca.issuerKey, err = loadPair(ca.path("intermediate.pem"), ca.path("intermediate.key")); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	c, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := ParseCertPEM(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s)", err, certPath)
	}
	k, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	key, err := ParseKeyPEM(k)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s)", err, keyPath)
	}
	return cert, key, nil
}

func caTemplate(serial *big.Int, name pkix.Name, now, notAfter time.Time, pub crypto.PublicKey) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(pub),
	}
}

// keyID is the RFC 5280 §4.2.1.2 method (1) key identifier: SHA-1 of the
// subjectPublicKey bits. AD's altSecurityIdentities <SKI> mapping reads it.
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	h := sha1.Sum(spki.Key.Bytes)
	return h[:]
}

func createCert(rand io.Reader, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("pki: signing certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func (ca *CA) addURLs(t *x509.Certificate) {
	if ca.set.OCSPURL != "" {
		t.OCSPServer = []string{ca.set.OCSPURL}
	}
	if ca.set.CRLURL != "" {
		t.CRLDistributionPoints = []string{ca.set.CRLURL}
	}
}

// serialHex is the index form of a serial: upper-case hex of even length,
// as OpenSSL's BN_bn2hex writes it in index.txt.
func serialHex(n *big.Int) string {
	s := fmt.Sprintf("%X", n)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// ParseSerial reads a serial number in hex (an optional 0x prefix and
// colons as OpenSSL prints them are allowed).
func ParseSerial(s string) (*big.Int, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			clean = append(clean, s[i])
		}
	}
	t := string(clean)
	if len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("pki: serial %q is not a positive hex number", s)
	}
	return n, nil
}

func (ca *CA) nextSerial() (*big.Int, error) {
	b, err := os.ReadFile(ca.path("serial"))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	n, err := ParseSerial(string(trimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", ca.path("serial"), err)
	}
	next := new(big.Int).Add(n, big.NewInt(1))
	if err := writeFile(ca.path("serial"), []byte(serialHex(next)+"\n"), 0o644); err != nil {
		return nil, err
	}
	return n, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Records returns the index: every certificate the CA issued.
func (ca *CA) Records() ([]Record, error) {
	s, err := ca.index()
	if err != nil {
		return nil, err
	}
	return s.clone(), nil
}

// Lookup returns the index record of serial, or [ErrNotFound].
func (ca *CA) Lookup(serial *big.Int) (Record, error) {
	s, err := ca.index()
	if err != nil {
		return Record{}, err
	}
	want := serialHex(serial)
	if r, ok := s.lookup(want); ok {
		return r, nil
	}
	return Record{}, fmt.Errorf("%w: serial %s", ErrNotFound, want)
}

// change runs fn on the index under the directory lock and writes it back.
func (ca *CA) change(fn func([]Record) ([]Record, error)) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	unlock, err := lockDir(ca.dir)
	if err != nil {
		return err
	}
	defer unlock()
	recs, err := ca.Records()
	if err != nil {
		return err
	}
	recs, err = fn(recs)
	if err != nil {
		return err
	}
	return ca.writeIndex(recs)
}

func (ca *CA) writeIndex(recs []Record) error {
	if recs == nil {
		recs = []Record{}
	}
	js, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(ca.path("index.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeFile(ca.path("index.txt"), opensslIndex(recs), 0o644); err != nil {
		return err
	}
	return writeFile(ca.path("index.txt.attr"), []byte("unique_subject = no\n"), 0o644)
}
