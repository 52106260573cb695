package kinit

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/pkinit"
)

func userCert(t *testing.T, u pki.User) *x509.Certificate {
	t.Helper()
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), pki.InitOptions{KeyType: pki.P256})
	if err != nil {
		t.Fatal(err)
	}
	k, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := pki.UserProfile(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(k.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientName(t *testing.T) {
	conf, err := krb5conf.Parse(strings.NewReader("[libdefaults]\n default_realm = EXAMPLE.COM\n[domain_realm]\n .corp.example.net = EXAMPLE.COM\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	upnSame := userCert(t, pki.User{UPN: "alice@example.com"})
	upnOther := userCert(t, pki.User{UPN: "bob@corp.example.net"})
	san := userCert(t, pki.User{UPN: "x@y.z", Principals: []certs.PrincipalName{{NameType: 1, Name: []string{"carol"}, Realm: "OTHER.ORG"}}})
	for _, tc := range []struct {
		arg  string
		cert *x509.Certificate
		want string
		nt   int32
	}{
		{"alice", nil, "alice@EXAMPLE.COM", NameTypePrincipal},
		{"dave@OTHER.ORG", nil, "dave@OTHER.ORG", NameTypePrincipal},
		{"", upnSame, "alice@EXAMPLE.COM", NameTypePrincipal},
		{"", upnOther, "bob@corp.example.net@EXAMPLE.COM", NameTypeEnterprise},
		{"", san, "carol@OTHER.ORG", NameTypePrincipal},
	} {
		p, err := ClientName(tc.arg, tc.cert, conf)
		if err != nil || p.String() != tc.want || p.NameType != tc.nt {
			t.Errorf("%q: %v (type %d), %v; want %s (type %d)", tc.arg, p, p.NameType, err, tc.want, tc.nt)
		}
	}
}

// TestStapledOCSP finds an RFC 5940 OCSP response in SignedData crls.
func TestStapledOCSP(t *testing.T) {
	resp := []byte{0x30, 0x03, 0x0a, 0x01, 0x00} // OCSPResponse{successful}, enough to locate
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 16, 2})
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2})
		b.AddASN1(ctx(0), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
				b.AddASN1(ctx(0), func(*cryptobyte.Builder) {})
				b.AddASN1(ctx(1), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {}) // a CRL
					b.AddASN1(ctx(1), func(b *cryptobyte.Builder) { b.AddBytes(oid); b.AddBytes(resp) })
				})
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
			})
		})
	})
	der := b.BytesOrPanic()
	got, err := stapledOCSP(der)
	if err != nil || string(got) != string(resp) {
		t.Fatalf("%x, %v", got, err)
	}
	if _, err := stapledOCSP(der[:len(der)-3]); err == nil {
		t.Fatal("truncated SignedData accepted")
	}
}

func TestGroupFromEData(t *testing.T) {
	params, err := pkinit.DHParameters(pkinit.MODPGroup2, pkinit.MODPGroup16)
	if err != nil {
		t.Fatal(err)
	}
	td, _ := pkinit.MarshalTDDHParameters(params)
	edata, _ := pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDDHParameters, Value: td}})
	kx, ok, err := groupFromEData(edata, 2048)
	if err != nil || !ok || kx.Group != pkinit.MODPGroup16 {
		t.Fatalf("%v %v %v", kx, ok, err)
	}
	if _, _, err := groupFromEData(edata, 8192); err == nil {
		t.Fatal("a group below pkinit_dh_min_bits accepted")
	}
}

func FuzzWireParsers(f *testing.F) {
	f.Add([]byte{0x6b, 0x03, 0x30, 0x01, 0x00})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = rawTicket(b, appASRep)
		_, _ = stapledOCSP(b)
		_, _ = readMethodData(b)
		_, _, _ = groupFromEData(b, 2048)
		_ = messageType(b)
	})
}
