package mapping

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/krberror"
)

func TestDecodeAccount(t *testing.T) {
	sid, _ := certs.NewSID(5, 21, 1, 2, 3, 1105)
	e := Entry{DN: "cn=a,dc=x", Attrs: map[string][][]byte{
		"objectsid":          {sid.Marshal()},
		"useraccountcontrol": {[]byte("-2147221502")}, // 0x80040002 as AD's signed 32-bit integer
		"accountexpires":     {[]byte("133801632000000000")},
		"primarygroupid":     {[]byte("513")},
		"whencreated":        {[]byte("20250101120000.5Z")},
		"createtimestamp":    {[]byte("20000101000000Z")},
	}}
	a, err := DecodeAccount(e)
	if err != nil {
		t.Fatal(err)
	}
	pg, _ := certs.NewSID(5, 21, 1, 2, 3, 513)
	if !a.Disabled || !a.SmartcardRequired || a.PrimaryGroupSID != pg ||
		!a.Expires.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!a.Created.Equal(time.Date(2025, 1, 1, 12, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("account = %+v", a)
	}
	if !a.Expired(a.Expires) || a.Expired(a.Expires.Add(-time.Second)) {
		t.Fatal("Expired boundary")
	}
	for _, never := range []string{"0", "9223372036854775807"} {
		e.Attrs["accountexpires"] = [][]byte{[]byte(never)}
		if a, err := DecodeAccount(e); err != nil || !a.Expires.IsZero() {
			t.Fatalf("accountExpires %s: %v %v", never, a.Expires, err)
		}
	}
	for attr, v := range map[string]string{"objectsid": "\x01", "useraccountcontrol": "x", "accountexpires": "1.5", "whencreated": "2025"} {
		bad := Entry{DN: "cn=a", Attrs: map[string][][]byte{attr: {[]byte(v)}}}
		if _, err := DecodeAccount(bad); err == nil {
			t.Errorf("%s=%q accepted", attr, v)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"20250102030405Z":     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		"20250102030405.25Z":  time.Date(2025, 1, 2, 3, 4, 5, 25e7, time.UTC),
		"202501020304Z":       time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC),
		"2025010203Z":         time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC),
		"20250102030405+0130": time.Date(2025, 1, 2, 1, 34, 5, 0, time.UTC),
		"20250102030405-02":   time.Date(2025, 1, 2, 5, 4, 5, 0, time.UTC),
	} {
		got, err := ParseGeneralizedTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2025", "20250102030405", "20250102030405.Z", "20251302030405Z", "20250102030405+2500", "2025010203040Z", "20250102030405+1"} {
		if _, err := ParseGeneralizedTime(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestFoldValue(t *testing.T) {
	if FoldValue("  X509:<I>CN=A   B<SR>0A ") != "x509:<i>cn=a b<sr>0a" {
		t.Fatal(FoldValue("  X509:<I>CN=A   B<SR>0A "))
	}
}

func FuzzFoldValue(f *testing.F) {
	for _, s := range []string{"", " ", "   ", "alice@example.com", "  X509:<I>CN=A   B<SR>0A ", "a\tb  c", "\x00Z",
		"K\u212a\u0131\u017f", "caf\u00c9  x", "\xff\xfeA", "ALICE ", " a b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := FoldValue(s), foldRunes(s); got != want {
			t.Fatalf("FoldValue(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestErrorCode(t *testing.T) {
	for err, want := range map[error]krberror.Code{
		nil:                     0,
		ErrNoMapping:            6,
		ErrNameMismatch:         75,
		ErrAmbiguous:            75,
		ErrWeakMapping:          75,
		ErrSIDMismatch:          66,
		ErrAccountDisabled:      18,
		ErrAccountExpired:       18,
		ErrDirectoryUnavailable: 29,
		errors.New("other"):     60,
	} {
		if err != nil {
			err = fmt.Errorf("wrapped: %w", err)
		}
		if got := ErrorCode(err); got != want {
			t.Errorf("ErrorCode(%v) = %d, want %d", err, got, want)
		}
	}
}
