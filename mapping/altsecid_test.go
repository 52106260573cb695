package mapping

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"
)

var oidDC = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}

func testCert(t *testing.T, serial *big.Int, issuer, subject pkix.Name, emails []string, ski []byte) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: issuer, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0),
		EmailAddresses: emails, SubjectKeyId: ski}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAltSecIDsForKBExample reproduces the <I><SR> example of KB5014754:
// issuer DC=com,DC=contoso,CN=CONTOSO-DC-CA and serial
// 2B0000000011AC0000000012, written with the serial bytes reversed.
func TestAltSecIDsForKBExample(t *testing.T) {
	issuer := pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidDC, Value: "com"}, {Type: oidDC, Value: "contoso"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "CONTOSO-DC-CA"}}}
	subject := pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidDC, Value: "com"}, {Type: oidDC, Value: "contoso"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "Users"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "mike"}}}
	serial, _ := new(big.Int).SetString("2B0000000011AC0000000012", 16)
	ski := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}
	c := testCert(t, serial, issuer, subject, []string{"mike@contoso.com"}, ski)
	ids, err := AltSecIDsFor(c)
	if err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum(c.Raw)
	want := map[AltSecKind]string{
		KindIssuerSubject: "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=mike",
		KindSubject:       "X509:<S>DC=com,DC=contoso,CN=Users,CN=mike",
		KindIssuerSerial:  "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B",
		KindSKI:           "X509:<SKI>123456789abcdef0",
		KindSHA1PublicKey: "X509:<SHA1-PUKEY>" + hexString(h[:]),
		KindRFC822:        "X509:<RFC822>mike@contoso.com",
	}
	if len(ids) != len(want) {
		t.Fatalf("got %d forms: %v", len(ids), ids)
	}
	for _, id := range ids {
		if got := id.String(); got != want[id.Kind] {
			t.Errorf("%v: got %q, want %q", id.Kind, got, want[id.Kind])
		}
		back, err := ParseAltSecID(id.String())
		if err != nil || !back.Equal(id) {
			t.Errorf("%v: round trip: %v %v", id.Kind, back, err)
		}
		if id.Kind.Strong() != (id.Kind == KindIssuerSerial || id.Kind == KindSKI || id.Kind == KindSHA1PublicKey) {
			t.Errorf("%v: Strong() = %v", id.Kind, id.Kind.Strong())
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestSerialSignByte(t *testing.T) {
	c := testCert(t, big.NewInt(0x8a0b), pkix.Name{CommonName: "CA"}, pkix.Name{CommonName: "x"}, nil, nil)
	ids, _ := AltSecIDsFor(c)
	for _, id := range ids {
		if id.Kind == KindIssuerSerial {
			if got, want := id.String(), "X509:<I>CN=CA<SR>0B8A00"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			return
		}
	}
	t.Fatal("no <I><SR> form")
}

func TestWindowsDNQuoting(t *testing.T) {
	name := pkix.Name{Country: []string{"US"}, Organization: []string{"Contoso, Inc."}, Province: []string{"WA"},
		CommonName: ` say "hi" `, ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "x"}}}
	der, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	got, err := WindowsDN(der)
	if err != nil {
		t.Fatal(err)
	}
	want := `C=US,S=WA,O="Contoso, Inc.",CN=" say ""hi"" ",OID.1.2.3.4=x`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := WindowsDN(append(der, 0)); err == nil {
		t.Fatal("trailing data accepted")
	}
	// A quoted '<' stays inside the issuer name.
	v := "X509:<I>" + `O="a<b",CN=x` + "<S>CN=y"
	a, err := ParseAltSecID(v)
	if err != nil || a.Issuer != `O="a<b",CN=x` || a.Subject != "CN=y" {
		t.Fatalf("ParseAltSecID(%q) = %+v, %v", v, a, err)
	}
}

func TestParseAltSecID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind AltSecKind
		err  error
	}{
		{"x509:<i>CN=a<sr>0102", KindIssuerSerial, nil},
		{"X509:<SKI>ABCDEF", KindSKI, nil},
		{"X509:<SHA1-PUKEY>" + "00112233445566778899aabbccddeeff00112233", KindSHA1PublicKey, nil},
		{"X509:<S>CN=a", KindSubject, nil},
		{"X509:<RFC822>a@b", KindRFC822, nil},
		{"Kerberos:bob@EXAMPLE.COM", 0, ErrNotX509},
		{"X509:", 0, ErrMalformedAltSecID},
		{"X509:<SHA1-PUKEY>0011", 0, ErrMalformedAltSecID},
		{"X509:<SKI>xyz", 0, ErrMalformedAltSecID},
		{"X509:<SR>0102", 0, ErrMalformedAltSecID},
		{"X509:<I>CN=a", 0, ErrMalformedAltSecID},
		{"X509:<I>CN=a<SKI>01", 0, ErrMalformedAltSecID},
		{"X509:<I><S>CN=a", 0, ErrMalformedAltSecID},
		{`X509:<S>CN="a`, 0, ErrMalformedAltSecID},
		{"X509:<RFC822>", 0, ErrMalformedAltSecID},
		{"X509:<SKI", 0, ErrMalformedAltSecID},
	} {
		a, err := ParseAltSecID(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || a.Kind != tc.kind {
			t.Errorf("%q: %+v, %v", tc.in, a, err)
		}
	}
}

func FuzzParseAltSecID(f *testing.F) {
	for _, s := range []string{
		"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B",
		"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=mike",
		"X509:<S>CN=\"a<b\"", "X509:<SKI>0a", "X509:<SHA1-PUKEY>00112233445566778899aabbccddeeff00112233",
		"X509:<RFC822>a@b", "Kerberos:x", "X509:<I>\"\"<S>x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAltSecID(s)
		if err != nil {
			return
		}
		// Parsing what String writes gives the same mapping back.
		b, err := ParseAltSecID(a.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, a.String(), err)
		}
		if !a.Equal(b) || a.Kind != b.Kind {
			t.Fatalf("round trip of %q: %+v != %+v", s, a, b)
		}
	})
}

// windowsDNSeeds are names for the WindowsDN tests: the common shapes, and
// those the reflection-free reading leaves to encoding/asn1.
func windowsDNSeeds(t testing.TB) [][]byte {
	marshal := func(v any) []byte {
		der, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	atv := func(oid asn1.ObjectIdentifier, value any) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: value}
	}
	cn, email := asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	utf8CN := marshal(struct{ S string }{"é"})[2:] // a UTF8String element
	return [][]byte{
		marshal(pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{atv(oidDC, "com"), atv(oidDC, "contoso")}, CommonName: "CONTOSO-DC-CA"}.ToRDNSequence()),
		marshal(pkix.Name{Country: []string{"US"}, Organization: []string{"Contoso, Inc."}, CommonName: ` say "hi" `}.ToRDNSequence()),
		marshal(pkix.RDNSequence{{atv(cn, "a*b&c"), atv(email, "x@example.com")}}),
		marshal(pkix.RDNSequence{{atv(cn, "Zoë")}}),
		{0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x16, 0x01, 'x'}, // an IA5String
		marshal(pkix.RDNSequence{{atv(asn1.ObjectIdentifier{1, 2, 3, 4}, "x")}}),
		marshal(pkix.RDNSequence{{atv(cn, 7)}}),
		marshal(pkix.RDNSequence{{}, {atv(cn, "x")}}),
		marshal(pkix.RDNSequence{}),
		append([]byte{0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03}, utf8CN...),
		{0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x01, '@'},                   // '@' is no PrintableString character
		{0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x16, 0x01, 0xe9},                  // nor 0xe9 an IA5String one
		{0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x01, 'x', 0x01, 0x01, 0xff}, // a third element
		{0x30, 0x81, 0x02, 0x31, 0x00},                                                                        // a non-minimal length
	}
}

// TestWindowsDNCommon: the names certificates carry are read without
// encoding/asn1's reflection, and every name reads the same either way.
func TestWindowsDNCommon(t *testing.T) {
	seeds := windowsDNSeeds(t)
	for i, der := range seeds[:5] {
		if _, ok := windowsDNCommon(der); !ok {
			t.Errorf("seed %d (%x) is left to encoding/asn1", i, der)
		}
	}
	for i, der := range seeds {
		got, ok := windowsDNCommon(der)
		if !ok {
			continue
		}
		if want, err := windowsDNGeneral(der); err != nil || got != want {
			t.Errorf("seed %d (%x): %q, encoding/asn1 reads %q, %v", i, der, got, want, err)
		}
	}
}

func FuzzWindowsDN(f *testing.F) {
	for _, der := range windowsDNSeeds(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		got, ok := windowsDNCommon(der)
		if !ok {
			return
		}
		if want, err := windowsDNGeneral(der); err != nil || got != want {
			t.Fatalf("%x: %q, encoding/asn1 reads %q, %v", der, got, want, err)
		}
	})
}
