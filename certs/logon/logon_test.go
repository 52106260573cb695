package logon_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/certs/pki"
)

// ruleCard is a software card with a good logon certificate in 9a and, in
// other slots, certificates that each break exactly one rule.
func ruleCard(t *testing.T) (map[card.Slot]string, []card.Certificate) {
	t.Helper()
	p := cardtest.NewPKI(t)
	st := cardtest.NewState(t)
	key := cardtest.Key(t, pki.P256)
	good := cardtest.LogonProfile("alice", "EXAMPLE.COM")
	put := func(slot card.Slot, prof pki.Profile) {
		cardtest.Put(t, st, slot, key, p.Issue(t, key, prof))
	}
	put(card.SlotAuthentication, good)
	put(card.SlotSignature, good)
	p.Now = time.Now().Add(-48 * time.Hour)
	expired := good
	expired.Validity = 24 * time.Hour
	put(0x82, expired)
	p.Now = time.Now().Add(48 * time.Hour)
	put(0x83, good)
	p.Now = time.Time{}
	noUPN := good
	noUPN.SAN = certs.SAN{Emails: []string{"alice@example.com"}}
	put(0x84, noUPN)
	ku := good
	ku.KeyUsage = x509.KeyUsageKeyAgreement
	put(0x85, ku)
	noEKU := good
	noEKU.ExtKeyUsage = nil
	put(0x86, noEKU)
	otherEKU := good
	otherEKU.ExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 4}}
	put(0x87, otherEKU)
	anyEKU := good
	anyEKU.ExtKeyUsage = []asn1.ObjectIdentifier{{2, 5, 29, 37, 0}}
	put(0x88, anyEKU)
	bob := good
	bob.Subject = pkix.Name{CommonName: "bob"}
	put(0x89, bob)

	c, err := apdu.Open(vcard.New(st, vcard.Options{Generic: true}), "in-process", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Certificates()
	if err != nil || len(list) != 10 {
		t.Fatalf("%d certificates, %v", len(list), err)
	}
	// The rule each slot breaks under the default policy ("" none).
	return map[card.Slot]string{
		card.SlotAuthentication: "", 0x89: "",
		card.SlotSignature: "signature-slot", 0x82: "time", 0x83: "time", 0x84: "upn",
		0x85: "key-usage", 0x86: "eku", 0x87: "eku", 0x88: "eku",
	}, list
}

func rules(v logon.Verdict) string {
	var r []string
	for _, x := range v.Rejections {
		r = append(r, string(x.Rule))
	}
	return strings.Join(r, ",")
}

// TestRulesAndSwitches: under Windows' defaults each crafted certificate is
// rejected by its one rule; each switch lets exactly its certificates
// through; pkinit_cert_match narrows the set.
func TestRulesAndSwitches(t *testing.T) {
	want, list := ruleCard(t)
	check := func(name string, p logon.Policy, usable ...card.Slot) {
		t.Helper()
		for _, v := range p.CheckAll(list) {
			if got := v.Usable(); got != slices.Contains(usable, v.Slot) {
				t.Errorf("%s: slot %s usable %v (rejections %v)", name, v.Slot, got, v.Rejections)
			}
		}
	}
	for _, v := range (logon.Policy{}).CheckAll(list) {
		if got := rules(v); got != want[v.Slot] {
			t.Errorf("default policy: slot %s rejected by %q, want %q (%v)", v.Slot, got, want[v.Slot], v.Rejections)
		}
		for _, r := range v.Rejections {
			if r.Reason == "" {
				t.Errorf("slot %s: rejection without a reason", v.Slot)
			}
		}
	}
	check("default", logon.Policy{}, card.SlotAuthentication, 0x89)
	check("AllowTimeInvalid", logon.Policy{AllowTimeInvalid: true}, card.SlotAuthentication, 0x89, 0x82, 0x83)
	check("AllowSignatureKeys", logon.Policy{AllowSignatureKeys: true}, card.SlotAuthentication, 0x89, card.SlotSignature)
	check("AllowNoUPN without a hint", logon.Policy{AllowNoUPN: true}, card.SlotAuthentication, 0x89)
	check("AllowNoUPN with a hint", logon.Policy{AllowNoUPN: true, UserHint: "alice"}, card.SlotAuthentication, 0x89, 0x84)
	check("AllowAnyKeyUsage", logon.Policy{AllowAnyKeyUsage: true}, card.SlotAuthentication, 0x89, 0x85)
	check("AllowNoEKU", logon.Policy{AllowNoEKU: true}, card.SlotAuthentication, 0x89, 0x86, 0x88)
	m, err := logon.ParseCertMatch("<SUBJECT>CN=bob")
	if err != nil {
		t.Fatal(err)
	}
	check("pkinit_cert_match", logon.Policy{Match: m}, 0x89)
	// The clock is the policy's.
	check("a clock three days ahead", logon.Policy{Now: func() time.Time { return time.Now().Add(72 * time.Hour) }},
		card.SlotAuthentication, 0x89, 0x83)
	// The no-UPN rejection without a hint names no switch: the hint is missing.
	for _, v := range (logon.Policy{AllowNoUPN: true}).CheckAll(list) {
		if v.Slot == 0x84 && (len(v.Rejections) != 1 || v.Rejections[0].Switch != "" || !strings.Contains(v.Rejections[0].Reason, "hint")) {
			t.Errorf("no-UPN without a hint: %+v", v.Rejections)
		}
	}
}

// TestLabel: UPN, else id-pkinit-san, else e-mail, else subject.
func TestLabel(t *testing.T) {
	p := cardtest.NewPKI(t)
	key := cardtest.Key(t, pki.P256)
	for _, tc := range []struct {
		san  certs.SAN
		want string
	}{
		{certs.SAN{UPNs: []string{"alice@example.com"}, Emails: []string{"a@mail.example.com"},
			Principals: []certs.PrincipalName{{NameType: 1, Name: []string{"alice"}, Realm: "EXAMPLE.COM"}}}, "alice@example.com"},
		{certs.SAN{Emails: []string{"a@mail.example.com"},
			Principals: []certs.PrincipalName{{NameType: 1, Name: []string{"alice"}, Realm: "EXAMPLE.COM"}}}, "alice@EXAMPLE.COM"},
		{certs.SAN{Emails: []string{"a@mail.example.com"}}, "a@mail.example.com"},
		{certs.SAN{}, "CN=alice,O=sclogon test"},
	} {
		prof := cardtest.LogonProfile("alice", "")
		prof.SAN = tc.san
		if got := logon.Label(p.Issue(t, key, prof)); got != tc.want {
			t.Errorf("label %q, want %q", got, tc.want)
		}
	}
}

// TestChoose: --cert by slot, UPN or fingerprint; one usable certificate is
// taken; several without a terminal are an error listing the choices; with
// one, the numbered answer picks.
func TestChoose(t *testing.T) {
	_, list := ruleCard(t)
	all := logon.Usable((logon.Policy{AllowSignatureKeys: true}).CheckAll(list)) // 9a, 9c, 89
	if len(all) != 3 {
		t.Fatalf("%d usable", len(all))
	}
	if _, err := logon.Choose(nil, "", nil); !errors.Is(err, logon.ErrNoUsable) {
		t.Errorf("nothing usable: %v", err)
	}
	if v, err := logon.Choose(all[:1], "", nil); err != nil || v.Slot != all[0].Slot {
		t.Errorf("one usable: %v, %v", v.Slot, err)
	}
	var amb *logon.AmbiguousError
	_, err := logon.Choose(all, "", nil)
	if !errors.As(err, &amb) || len(amb.Choices) != 3 || !strings.Contains(err.Error(), "--cert 9a") || !strings.Contains(err.Error(), "--cert 89") {
		t.Errorf("several, no terminal: %v", err)
	}
	if v, err := logon.Choose(all, "9C", nil); err != nil || v.Slot != card.SlotSignature {
		t.Errorf("--cert 9C: %v, %v", v.Slot, err)
	}
	fp := all[2].Fingerprint
	colons := fp[0:2] + ":" + fp[2:4] + ":" + fp[4:6] + ":" + fp[6:8] + ":" + fp[8:10]
	for _, pick := range []string{fp, strings.ToUpper(fp[:12]), colons} {
		if v, err := logon.Choose(all, pick, nil); err != nil || v.Slot != all[2].Slot {
			t.Errorf("--cert %s: %v, %v", pick, v.Slot, err)
		}
	}
	// Three certificates carry alice's UPN: naming it is still ambiguous.
	if _, err := logon.Choose(all, "ALICE@example.com", nil); !errors.As(err, &amb) {
		t.Errorf("--cert UPN of three: %v", err)
	}
	if v, err := logon.Choose(all[:2], "", func(c []logon.Verdict) (int, error) { return 1, nil }); err != nil || v.Slot != all[1].Slot {
		t.Errorf("terminal choice 2: %v, %v", v.Slot, err)
	}
	if _, err := logon.Choose(all, "", func(c []logon.Verdict) (int, error) { return 7, nil }); err == nil {
		t.Error("choice out of range accepted")
	}
	var nm *logon.NoMatchError
	if _, err := logon.Choose(all, "9d", nil); !errors.As(err, &nm) {
		t.Errorf("--cert 9d: %v", err)
	}
	if _, err := logon.Choose(all, "deadbeefdeadbeef", nil); !errors.As(err, &nm) {
		t.Errorf("unknown fingerprint: %v", err)
	}
}

func userCert(t *testing.T, u pki.User) *x509.Certificate {
	t.Helper()
	p := cardtest.NewPKI(t)
	key := cardtest.Key(t, pki.P256)
	prof, err := pki.UserProfile(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Issue(t, key, prof)
}

func TestCertMatch(t *testing.T) {
	c := userCert(t, pki.User{UPN: "alice@example.com",
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageSmartCardLogon}})
	for expr, want := range map[string]bool{
		"<SUBJECT>CN=alice":                    true,
		"<SUBJECT>CN=bob":                      false,
		"<SAN>^alice@example.com$":             true,
		"<EKU>msScLogin":                       true,
		"<EKU>pkinit":                          false,
		"&&<EKU>msScLogin<KU>digitalSignature": true,
		"||<EKU>pkinit<SUBJECT>alice":          true,
		"<ISSUER>sclogon Test Root CA":         true,
	} {
		m, err := logon.ParseCertMatch(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if got := m.Match(c); got != want {
			t.Errorf("%q: %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{"", "<FOO>x", "<EKU>nonsense", "CN=alice", "<SUBJECT>("} {
		if _, err := logon.ParseCertMatch(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseCertMatch(f *testing.F) {
	for _, s := range []string{"<SUBJECT>CN=alice", "&&<EKU>msScLogin<KU>digitalSignature", "||<EKU>pkinit<SUBJECT>alice", "<SAN>^a@b$", "<ISSUER>x<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := logon.ParseCertMatch(s)
		if err == nil && m.String() != s {
			t.Errorf("String() = %q, want %q", m.String(), s)
		}
	})
}
