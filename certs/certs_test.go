package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPrincipalNameVector(t *testing.T) {
	want := PrincipalName{NameType: 2, Name: []string{"krbtgt", "EXAMPLE.COM"}, Realm: "EXAMPLE.COM"}
	der, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalPrincipalName(der)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("round trip: got %+v", got)
	}
	if got.String() != "krbtgt/EXAMPLE.COM@EXAMPLE.COM" {
		t.Fatalf("String() = %q", got.String())
	}
	// krbtgt/EXAMPLE.COM@EXAMPLE.COM, name type 2 (KRB5-NT-SRV-INST), with
	// GeneralString components, as MIT's pkinit documentation builds it.
	vec := mustHex(t, "3031a00d1b0b4558414d504c452e434f4da120301ea003020102a11730151b066b72627467741b0b4558414d504c452e434f4d")
	if !bytes.Equal(der, vec) {
		t.Fatalf("DER\n got %x\nwant %x", der, vec)
	}
	if _, err := UnmarshalPrincipalName(append(vec, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	if _, err := UnmarshalPrincipalName(vec[:len(vec)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated input accepted: %v", err)
	}
}

func TestParsePrincipalName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		rlm  string
	}{
		{"alice@EXAMPLE.COM", []string{"alice"}, "EXAMPLE.COM"},
		{"krbtgt/EXAMPLE.COM@EXAMPLE.COM", []string{"krbtgt", "EXAMPLE.COM"}, "EXAMPLE.COM"},
		{`a\@b@R`, []string{"a@b"}, "R"},
	} {
		p, err := ParsePrincipalName(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if !slices.Equal(p.Name, tc.want) || p.Realm != tc.rlm || p.NameType != 1 {
			t.Fatalf("%q: got %+v", tc.in, p)
		}
		if p.String() != tc.in {
			t.Fatalf("String() = %q, want %q", p.String(), tc.in)
		}
	}
	for _, bad := range []string{"alice", "@R", "a@", "a//b@R", `a\`, "a@R@S"} {
		if _, err := ParsePrincipalName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSIDVectors(t *testing.T) {
	// BUILTIN\Administrators, MS-DTYP §2.4.2.2 layout.
	s, err := ParseSID("S-1-5-32-544")
	if err != nil {
		t.Fatal(err)
	}
	bin := mustHex(t, "01020000000000052000000020020000")
	if !bytes.Equal(s.Marshal(), bin) {
		t.Fatalf("Marshal = %x", s.Marshal())
	}
	u, err := UnmarshalSID(bin)
	if err != nil || u != s {
		t.Fatalf("UnmarshalSID = %v, %v", u, err)
	}
	if s.RID() != 544 || s.Authority() != 5 || !slices.Equal(s.SubAuthorities(), []uint32{32, 544}) {
		t.Fatalf("accessors: %v %v %v", s.RID(), s.Authority(), s.SubAuthorities())
	}
	dom, _ := ParseSID("S-1-5-21-1004336348-1177238915-682003330-1104")
	if dom.String() != "S-1-5-21-1004336348-1177238915-682003330-1104" {
		t.Fatal(dom.String())
	}
	big, err := ParseSID("S-1-0x0000FFFFFFFF-1")
	if err == nil {
		t.Fatalf("hex authority below 2^32 accepted: %v", big)
	}
	big, err = ParseSID("S-1-0x010000000000-7")
	if err != nil || big.Authority() != 1<<40 || big.String() != "S-1-0x010000000000-7" {
		t.Fatalf("hex authority: %v %v", big, err)
	}
	for _, bad := range []string{"", "S-1", "S-2-5-1", "s-1-5-1", "S-1-05-1", "S-1-5-+1", "S-1-5-4294967296",
		"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "S-1-5-"} {
		if _, err := ParseSID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, bad := range []string{"", "0102", "020000000000000520000000", "010200000000000520000000200200", "0101000000000005200000002002"} {
		if _, err := UnmarshalSID(mustHex(t, bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("binary %q: %v", bad, err)
		}
	}
}

func TestSIDExtensionVector(t *testing.T) {
	// Layout as AD CS writes it (KB5014754): SEQUENCE { [0] { OID .25.2.1,
	// [0] { OCTET STRING "S-1-5-…" } } }.
	sid, _ := ParseSID("S-1-5-21-1004336348-1177238915-682003330-1104")
	ext, err := SIDExtension(sid)
	if err != nil {
		t.Fatal(err)
	}
	str := sid.String()
	want := append(mustHex(t, "30"+hex.EncodeToString([]byte{byte(len(str) + 18)})+
		"a0"+hex.EncodeToString([]byte{byte(len(str) + 16)})+"060a2b060104018237190201"+
		"a0"+hex.EncodeToString([]byte{byte(len(str) + 2)})+"04"+hex.EncodeToString([]byte{byte(len(str))})), str...)
	if !bytes.Equal(ext.Value, want) {
		t.Fatalf("SID extension\n got %x\nwant %x", ext.Value, want)
	}
	if ext.Critical || !ext.Id.Equal(OIDNTDSCASecurityExt) {
		t.Fatalf("extension header %v", ext)
	}
	got, err := ParseSIDExtension(ext.Value)
	if err != nil || got != sid {
		t.Fatalf("ParseSIDExtension = %v, %v", got, err)
	}
	if _, err := ParseSIDExtension(append(slices.Clone(ext.Value), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing data accepted: %v", err)
	}
	if _, err := ParseSIDExtension(mustHex(t, "3000")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty extension accepted: %v", err)
	}
}

func TestSANExtensionRoundTrip(t *testing.T) {
	p, _ := ParsePrincipalName("alice@EXAMPLE.COM")
	in := SAN{
		UPNs:       []string{"alice@example.com"},
		Principals: []PrincipalName{p},
		DNSNames:   []string{"alice.example.com"},
		Emails:     []string{"alice@example.com"},
	}
	ext, err := in.Extension()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseSAN(ext.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.UPNs, in.UPNs) || len(out.Principals) != 1 || !out.Principals[0].Equal(p) ||
		!slices.Equal(out.DNSNames, in.DNSNames) || !slices.Equal(out.Emails, in.Emails) {
		t.Fatalf("round trip: %+v", out)
	}
	for _, bad := range []SAN{{}, {UPNs: []string{""}}, {DNSNames: []string{"é.example"}}, {Principals: []PrincipalName{{Name: []string{"a"}}}}} {
		if _, err := bad.Extension(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// A UPN otherName holding an IA5String instead of a UTF8String.
	if _, err := ParseSAN(mustHex(t, "3015a013060a2b060104018237140203a0051603612e62")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("IA5 UPN accepted: %v", err)
	}
}

// TestCertificateFacts puts the extensions into a real certificate and reads
// them back through crypto/x509, which must also keep seeing DNS and email.
func TestCertificateFacts(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePrincipalName("alice@EXAMPLE.COM")
	sanExt, err := SAN{UPNs: []string{"alice@example.com"}, Principals: []PrincipalName{p},
		DNSNames: []string{"host.example.com"}, Emails: []string{"alice@example.com"}}.Extension()
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := ParseSID("S-1-5-21-1-2-3-1104")
	sidExt, _ := SIDExtension(sid)
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(7),
		Subject:            pkix.Name{CommonName: "alice"},
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(time.Hour),
		ExtraExtensions:    []pkix.Extension{sanExt, sidExt},
		UnknownExtKeyUsage: nil,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := UPNs(c); err != nil || !slices.Equal(u, []string{"alice@example.com"}) {
		t.Fatalf("UPNs = %v, %v", u, err)
	}
	if ps, err := PKINITSANs(c); err != nil || len(ps) != 1 || ps[0].String() != "alice@EXAMPLE.COM" {
		t.Fatalf("PKINITSANs = %v, %v", ps, err)
	}
	if got, ok, err := SIDFromCert(c); err != nil || !ok || got != sid {
		t.Fatalf("SIDFromCert = %v %v %v", got, ok, err)
	}
	if !slices.Equal(c.DNSNames, []string{"host.example.com"}) || !slices.Equal(c.EmailAddresses, []string{"alice@example.com"}) {
		t.Fatalf("crypto/x509 lost names: %v %v", c.DNSNames, c.EmailAddresses)
	}
	// A certificate without the extensions.
	tmpl.ExtraExtensions = nil
	der, _ = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	c, _ = x509.ParseCertificate(der)
	if u, err := UPNs(c); err != nil || u != nil {
		t.Fatalf("UPNs on bare cert = %v, %v", u, err)
	}
	if _, ok, err := SIDFromCert(c); ok || err != nil {
		t.Fatalf("SIDFromCert on bare cert: %v %v", ok, err)
	}
}
