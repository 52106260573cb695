package identity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/kinit/identity"
)

// TestParsePKCS11 follows MIT's parse_pkcs11_options: ":"-separated
// attr=value fields, empty fields skipped, a bare field naming the module,
// the last value winning, certid a hex number without leading zero bytes.
func TestParsePKCS11(t *testing.T) {
	seven := uint(7)
	for _, tc := range []struct {
		in   string
		want identity.PKCS11Spec
	}{
		{"PKCS11:", identity.PKCS11Spec{}},
		{"pkcs11:", identity.PKCS11Spec{}},
		{"PKCS11:/usr/lib/softhsm/libsofthsm2.so", identity.PKCS11Spec{Module: "/usr/lib/softhsm/libsofthsm2.so"}},
		{"PKCS11:module_name=/m.so:slotid=7:token=alice token:certid=0A0b:certlabel=a=b",
			identity.PKCS11Spec{Module: "/m.so", Slot: &seven, Token: "alice token", CertID: []byte{0x0a, 0x0b}, CertLabel: "a=b"}},
		{"PKCS11::module_name=/a.so::module_name=/b.so:", identity.PKCS11Spec{Module: "/b.so"}},
		{"PKCS11:certid=0001", identity.PKCS11Spec{CertID: []byte{0x01}}},
		{"PKCS11:certid=abc", identity.PKCS11Spec{CertID: []byte{0x0a, 0xbc}}},
		{"PKCS11:token=", identity.PKCS11Spec{}},
	} {
		got, err := identity.ParsePKCS11(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.Module != tc.want.Module || got.Token != tc.want.Token || got.CertLabel != tc.want.CertLabel ||
			!bytes.Equal(got.CertID, tc.want.CertID) || (got.Slot == nil) != (tc.want.Slot == nil) ||
			(got.Slot != nil && *got.Slot != *tc.want.Slot) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"FILE:a.pem", "PKCS11:slotid=x", "PKCS11:slotid=-1", "PKCS11:slotid=99999999999",
		"PKCS11:certid=xyz", "PKCS11:certid=", "PKCS11:slot=1", "PKCS11"} {
		if _, err := identity.ParsePKCS11(in); !errors.Is(err, identity.ErrSyntax) {
			t.Errorf("%q: got %v, want ErrSyntax", in, err)
		}
	}
}

func TestPKCS11Matches(t *testing.T) {
	o := pkcs11.Object{ID: []byte{1, 2}, Label: "alice"}
	for _, tc := range []struct {
		spec string
		want bool
	}{
		{"PKCS11:", true},
		{"PKCS11:certid=0102", true},
		{"PKCS11:certid=000102", true},
		{"PKCS11:certid=01", false},
		{"PKCS11:certlabel=alice", true},
		{"PKCS11:certlabel=bob", false},
		{"PKCS11:certid=0102:certlabel=bob", false},
	} {
		s, err := identity.ParsePKCS11(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Matches(o); got != tc.want {
			t.Errorf("%q: %v", tc.spec, got)
		}
	}
}

func FuzzParsePKCS11(f *testing.F) {
	f.Add("PKCS11:module_name=/m.so:slotid=7:token=t:certid=0a:certlabel=l")
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := identity.ParsePKCS11(s)
		if err == nil && spec.CertID != nil && len(spec.CertID) > 0 && spec.CertID[0] == 0 {
			t.Fatalf("%q: leading zero kept", s)
		}
	})
}
