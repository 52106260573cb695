// Package cardtest builds software cards with certificates from a test CA,
// for the tests of the card seam, the selection rules and the client.
//
// Call [NewPKI], then [PKI.Logon] (or [PKI.Issue] with any profile), and
// [Put] the key and certificate into a slot of a [vcard.State].
package cardtest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"path/filepath"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
)

// PKI is a test CA whose clock can be moved (for expired and future
// certificates).
type PKI struct {
	CA  *pki.CA
	Now time.Time // issuing time; zero means the real clock
}

// NewPKI makes a CA in a temporary directory.
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	p := &PKI{}
	ca, err := pki.Init(filepath.Join(tb.TempDir(), "ca"), pki.InitOptions{
		Options: pki.Options{Now: func() time.Time {
			if p.Now.IsZero() {
				return time.Now()
			}
			return p.Now
		}},
		Validity: 20 * 365 * 24 * time.Hour,
	})
	if err != nil {
		tb.Fatal(err)
	}
	p.CA = ca
	return p
}

// Key makes a key of the type.
func Key(tb testing.TB, kt pki.KeyType) crypto.Signer {
	tb.Helper()
	k, err := pki.GenerateKey(kt, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Issue certifies key with prof.
func (p *PKI) Issue(tb testing.TB, key crypto.Signer, prof pki.Profile) *x509.Certificate {
	tb.Helper()
	cert, err := p.CA.Issue(key.Public(), prof)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// LogonProfile is a Windows-style logon certificate: UPN (and id-pkinit-san
// user@REALM when realm is not empty), smart card logon and
// id-pkinit-KPClientAuth EKUs, default key usage.
func LogonProfile(user, realm string) pki.Profile {
	san := certs.SAN{UPNs: []string{user + "@" + "example.com"}}
	if realm != "" {
		san.Principals = []certs.PrincipalName{{NameType: 1, Name: []string{user}, Realm: realm}}
	}
	return pki.Profile{
		Kind:        "user",
		Subject:     subject(user),
		SAN:         san,
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageSmartCardLogon, certs.OIDExtKeyUsagePKINITClientAuth},
	}
}

func subject(cn string) (n pkix.Name) {
	n.CommonName = cn
	n.Organization = []string{"sclogon test"}
	return n
}

// NewState is an empty software card (default PIN 123456, PUK 12345678).
func NewState(tb testing.TB) *vcard.State {
	tb.Helper()
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// Put stores key and cert in slot with the slot's default PIN policy.
func Put(tb testing.TB, st *vcard.State, slot card.Slot, key crypto.Signer, cert *x509.Certificate) {
	tb.Helper()
	if err := st.SetKey(byte(slot), key, vcard.PINPolicyDefault); err != nil {
		tb.Fatal(err)
	}
	if err := st.SetCertificate(byte(slot), cert.Raw); err != nil {
		tb.Fatal(err)
	}
}
