package harness_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/integration/harness"
)

// TestHeimdalKDCIssuesTGT starts a Heimdal KDC with PKINIT and has Heimdal's
// kinit get a TGT with a certificate (DH in MODP group 14), heimtools klist
// list it and kgetcred get a service ticket with it.
func TestHeimdalKDCIssuesTGT(t *testing.T) {
	const realm = "EXAMPLE.COM"
	r := newRSARealm(t, realm)
	kdc := harness.StartHeimdalKDC(t, harness.HeimdalKDCConfig{
		Realm:      realm,
		KDCCertPEM: r.kdcCertPEM, KDCKeyPEM: r.kdcKeyPEM, AnchorsPEM: r.caPEM,
		Principals: []string{"alice", "host/svc.example.com"},
	})
	c := kdc.Client(t, harness.HeimdalClientConfig{AnchorsPEM: r.caPEM, DHMinBits: 1536})
	harness.Run(t, c.Kinit(t, r.aliceCert, r.aliceKey, "alice@"+realm))
	out := harness.Run(t, c.Command(t, "klist"))
	if !strings.Contains(out, "Principal: alice@"+realm) || !strings.Contains(out, "krbtgt/"+realm+"@"+realm) {
		t.Fatalf("heimtools klist:\n%s", out)
	}
	harness.Run(t, c.Command(t, "kgetcred", "host/svc.example.com@"+realm))
	if out := harness.Run(t, c.Command(t, "klist")); !strings.Contains(out, "host/svc.example.com@"+realm) {
		t.Fatalf("heimtools klist after kgetcred:\n%s", out)
	}
	if st, err := os.Stat(kdc.Keytab(t, "host/svc.example.com")); err != nil || st.Size() == 0 {
		t.Fatalf("keytab: %v", err)
	}
	// The KDC's log reaches us through a pipe, after its reply.
	const logged = "PK-INIT(ietf) pre-authentication succeeded -- alice@" + realm
	harness.WaitFor(t, kdc.Process(), 2*time.Second, func() error {
		if !strings.Contains(kdc.Process().Log(), logged) {
			return fmt.Errorf("the KDC's log lacks %q", logged)
		}
		return nil
	})
}

// rsaRealm is an RSA CA with a KDC certificate and alice's: Heimdal's hx509
// signs PKINIT messages with RSA keys only.
type rsaRealm struct {
	caPEM, kdcCertPEM, kdcKeyPEM []byte
	aliceCert, aliceKey          string // PEM files
}

var oidPKINITClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 4}

const (
	ntPrincipal = 1 // KRB5-NT-PRINCIPAL, RFC 4120 §6.2
	ntSrvInst   = 2 // KRB5-NT-SRV-INST
)

func newRSARealm(t *testing.T, realm string) rsaRealm {
	t.Helper()
	now := time.Now()
	caKey := rsaKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "harness Heimdal test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca := createCert(t, caTmpl, nil, caKey.Public(), caKey)
	leaf := func(serial int64, cn string, eku asn1.ObjectIdentifier, san pkix.Extension) (*x509.Certificate, crypto.Signer) {
		key := rsaKey(t)
		return createCert(t, &x509.Certificate{
			SerialNumber:       big.NewInt(serial),
			Subject:            pkix.Name{CommonName: cn},
			NotBefore:          now.Add(-time.Hour),
			NotAfter:           now.Add(24 * time.Hour),
			KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{eku},
			ExtraExtensions:    []pkix.Extension{san},
		}, ca, key.Public(), caKey), key
	}
	kdcCert, kdcKey := leaf(2, "kdc", oidPKINITKDC, principalSAN(t, realm, ntSrvInst, "krbtgt", realm))
	aliceCert, aliceKey := leaf(3, "alice", oidPKINITClientAuth, principalSAN(t, realm, ntPrincipal, "alice"))
	dir := t.TempDir()
	r := rsaRealm{
		caPEM:      certPEM(ca),
		kdcCertPEM: certPEM(kdcCert),
		kdcKeyPEM:  keyPEM(t, kdcKey),
		aliceCert:  filepath.Join(dir, "alice.pem"),
		aliceKey:   filepath.Join(dir, "alice.key"),
	}
	writeTestFile(t, r.aliceCert, certPEM(aliceCert))
	writeTestFile(t, r.aliceKey, keyPEM(t, aliceKey))
	return r
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// createCert signs tmpl with key as parent (itself when parent is nil).
func createCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// principalSAN is subjectAltName otherName id-pkinit-san = KRB5PrincipalName
// (RFC 4556 §3.2.2), its strings GeneralStrings as Heimdal's decoder insists.
func principalSAN(t *testing.T, realm string, nameType int64, components ...string) pkix.Extension {
	t.Helper()
	explicit := func(b *cryptobyte.Builder, tag int, f cryptobyte.BuilderContinuation) {
		b.AddASN1(cbasn1.Tag(tag).ContextSpecific().Constructed(), f)
	}
	generalString := func(b *cryptobyte.Builder, s string) {
		b.AddASN1(cbasn1.Tag(27), func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
		explicit(b, 0, func(b *cryptobyte.Builder) { // otherName
			b.AddASN1ObjectIdentifier(oidPKINITSAN)
			explicit(b, 0, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // KRB5PrincipalName
					explicit(b, 0, func(b *cryptobyte.Builder) { generalString(b, realm) })
					explicit(b, 1, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PrincipalName
							explicit(b, 0, func(b *cryptobyte.Builder) { b.AddASN1Int64(nameType) })
							explicit(b, 1, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									for _, c := range components {
										generalString(b, c)
									}
								})
							})
						})
					})
				})
			})
		})
	})
	san, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Value: san}
}
