package kdcload

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
)

// RealmName is the realm every benchmark KDC serves.
const RealmName = "EXAMPLE.COM"

// Realm is a realm's PKI and accounts, in files under Dir.
type Realm struct {
	Dir     string
	CA      *pki.CA
	Keys    Keys
	KDCCert string // PEM: the KDC's certificate (key Keys.KDC)
	KDCKey  string // PEM: its key
	LDIF    string // the directory: one account per user
	Users   []User
}

// Keys are the key types of a realm's KDC and users; the CA's is RSA-2048,
// as most enterprise CAs are. The zero value is RSA-2048 for both.
type Keys struct {
	User pki.KeyType // the users' logon keys (a card's: RSA-2048, or P-256 as YubiKeys default to)
	KDC  pki.KeyType // the KDC's signing key, the same for every KDC measured
}

func (k Keys) user() pki.KeyType { return cmp.Or(k.User, pki.RSA2048) }
func (k Keys) kdc() pki.KeyType  { return cmp.Or(k.KDC, pki.RSA2048) }

// KeyName names a key type for people: "RSA-2048", "P-256".
func KeyName(t pki.KeyType) string {
	switch cmp.Or(t, pki.RSA2048) {
	case pki.RSA2048:
		return "RSA-2048"
	case pki.RSA3072:
		return "RSA-3072"
	case pki.RSA4096:
		return "RSA-4096"
	case pki.P256:
		return "P-256"
	case pki.P384:
		return "P-384"
	}
	return string(t)
}

// User is an account with a logon certificate that both KDCs map: the MS UPN
// and the SID extension for sclogon's KDC (as AD maps), the id-pkinit-san
// principal for MIT's (pkinit_allow_upn needs it to equal the principal).
type User struct {
	Name     string // sAMAccountName and principal name: "u00"
	Identity *identity.Software
	CertPath string
	KeyPath  string
}

func userSID(i int) certs.SID {
	s, err := certs.NewSID(5, 21, 1111, 2222, 3333, uint32(1500+i))
	if err != nil {
		panic(err) // constant sub-authorities: cannot fail
	}
	return s
}

// NewRealm makes a CA, the KDC's certificate and n users, with keys of the
// types keys names, in dir, which must be empty or not exist.
func NewRealm(dir string, n int, keys Keys) (*Realm, error) {
	if n < 1 {
		return nil, fmt.Errorf("kdcload: a realm needs at least one user")
	}
	r := &Realm{Dir: dir, Keys: keys}
	var err error
	// One CA, no intermediate: the client path is one signature, for both KDCs.
	if r.CA, err = pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "Benchmark Root CA"}); err != nil {
		return nil, err
	}
	kdcProf, err := pki.KDCProfile(pki.KDC{Realm: RealmName, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		return nil, err
	}
	r.KDCCert, r.KDCKey = filepath.Join(dir, "kdc.pem"), filepath.Join(dir, "kdc.key")
	if err := r.issue(kdcProf, r.KDCKey, r.KDCCert, keys.kdc()); err != nil {
		return nil, err
	}
	var ldif strings.Builder
	for i := range n {
		name := fmt.Sprintf("u%02d", i)
		prof, err := pki.UserProfile(pki.User{
			UPN:        name + "@example.com",
			SID:        userSID(i),
			Principals: []certs.PrincipalName{{NameType: 1, Name: []string{name}, Realm: RealmName}},
			ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth,
				certs.OIDExtKeyUsageSmartCardLogon, certs.OIDExtKeyUsageClientAuth},
		})
		if err != nil {
			return nil, err
		}
		u := User{Name: name, CertPath: filepath.Join(dir, name+".pem"), KeyPath: filepath.Join(dir, name+".key")}
		if err := r.issue(prof, u.KeyPath, u.CertPath, keys.user()); err != nil {
			return nil, err
		}
		if u.Identity, err = identity.Parse("FILE:"+u.CertPath+","+u.KeyPath, identity.Options{}); err != nil {
			return nil, err
		}
		r.Users = append(r.Users, u)
		fmt.Fprintf(&ldif, "dn: cn=%[1]s,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: %[1]s\nsn: %[1]s\nsAMAccountName: %[1]s\nuserPrincipalName: %[1]s@example.com\nobjectSid:: %[2]s\nuserAccountControl: 512\nprimaryGroupID: 513\n\n",
			name, base64.StdEncoding.EncodeToString(userSID(i).Marshal()))
	}
	r.LDIF = filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(r.LDIF, []byte(ldif.String()), 0o644); err != nil {
		return nil, fmt.Errorf("kdcload: %w", err)
	}
	return r, nil
}

// IssueCardUser issues a logon certificate for name (a principal not among
// Users: the card's) to pub, with the same names a [User] has.
func (r *Realm) IssueCardUser(name string, sidIndex int, pub crypto.PublicKey) (*x509.Certificate, error) {
	prof, err := pki.UserProfile(pki.User{
		UPN:        name + "@example.com",
		SID:        userSID(sidIndex),
		Principals: []certs.PrincipalName{{NameType: 1, Name: []string{name}, Realm: RealmName}},
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth,
			certs.OIDExtKeyUsageSmartCardLogon, certs.OIDExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	return r.CA.Issue(pub, prof)
}

func (r *Realm) issue(prof pki.Profile, keyPath, certPath string, kt pki.KeyType) error {
	key, err := pki.GenerateKey(kt, rand.Reader)
	if err != nil {
		return err
	}
	cert, err := r.CA.Issue(key.Public(), prof)
	if err != nil {
		return err
	}
	return pki.WriteKeyAndCert(keyPath, certPath, key, cert)
}

// ClientPolicy is the clients' trust in the KDC: the realm's root as
// pkinit_anchors.
func (r *Realm) ClientPolicy() (kinit.Policy, error) {
	pool, err := kinit.LoadCertPool([]string{"FILE:" + r.CA.RootPath()})
	if err != nil {
		return kinit.Policy{}, err
	}
	return kinit.Policy{Anchors: pool}, nil
}
