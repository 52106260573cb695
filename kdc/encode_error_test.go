package kdc

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
)

// krbErrorCases are KRB-ERRORs with every optional field absent and
// present, names and strings no KDC would send (empty, 8-bit, not UTF-8,
// long enough for long-form lengths), and times in other zones than UTC.
func krbErrorCases() []messages.KRBError {
	stime := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := func(code int32) messages.KRBError {
		return messages.KRBError{PVNO: 5, MsgType: 30, STime: stime, Susec: 123456, ErrorCode: code,
			Realm: "EXAMPLE.COM", SName: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/EXAMPLE.COM")}
	}
	var cases []messages.KRBError
	for _, code := range []krberror.Code{krberror.PreauthRequired, krberror.Generic, krberror.SPrincipalUnknown, krberror.WrongRealm, 0, -1, 1 << 30} {
		cases = append(cases, base(int32(code)))
	}
	long := strings.Repeat("x", 300)
	for _, edit := range []func(e *messages.KRBError){
		func(e *messages.KRBError) { e.CName, e.CRealm = types.NewPrincipalName(1, "alice"), "EXAMPLE.COM" },
		func(e *messages.KRBError) { e.CName = types.PrincipalName{NameString: []string{}} },
		func(e *messages.KRBError) { e.CName = types.PrincipalName{NameType: 1} },
		func(e *messages.KRBError) { e.CRealm = "\xff\xfe" },
		func(e *messages.KRBError) { e.EText = "pre-authentication required" },
		func(e *messages.KRBError) { e.EText = "\x00\x1b$B\xff" + long },
		func(e *messages.KRBError) { e.EData = []byte{} },
		func(e *messages.KRBError) { e.EData = bytes.Repeat([]byte{0x30}, 70000) },
		func(e *messages.KRBError) { e.Realm, e.SName = "", types.PrincipalName{} },
		func(e *messages.KRBError) { e.Realm = long },
		func(e *messages.KRBError) {
			e.SName = types.PrincipalName{NameType: -1, NameString: []string{"", "é", long}}
		},
		func(e *messages.KRBError) { e.CTime, e.Cusec = stime.Add(-time.Minute), 999999 },
		func(e *messages.KRBError) { e.STime = time.Time{} },
		func(e *messages.KRBError) { e.STime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) },
		func(e *messages.KRBError) { e.STime = stime.In(time.FixedZone("", 5400)) },
		func(e *messages.KRBError) { e.STime = stime.In(time.FixedZone("", -19800)) },
		func(e *messages.KRBError) { e.STime = stime.In(time.FixedZone("", 30)) },
		func(e *messages.KRBError) { e.CTime = time.Time{}.In(time.FixedZone("", 3600)) },
		func(e *messages.KRBError) { e.STime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(e *messages.KRBError) { e.CTime = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(e *messages.KRBError) { e.PVNO, e.Cusec, e.Susec = -5, 1<<40, -1 },
	} {
		e := base(int32(krberror.PreauthRequired))
		edit(&e)
		cases = append(cases, e)
	}
	return cases
}

// TestMarshalKRBErrorMatchesGokrb5: the bytes are gokrb5's, byte for byte,
// errors included, and gokrb5 reads them back.
func TestMarshalKRBErrorMatchesGokrb5(t *testing.T) {
	for i, e := range krbErrorCases() {
		got, err := marshalKRBError(&e)
		want, wantErr := e.Marshal()
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("case %d: marshalKRBError says %v, gokrb5 says %v", i, err, wantErr)
		}
		if err != nil {
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: %+v\nencoded as %x\ngokrb5 has %x", i, e, got, want)
		}
		var back messages.KRBError
		if err := back.Unmarshal(got); err != nil {
			t.Fatalf("case %d: gokrb5 cannot read it back: %v", i, err)
		}
		// Times are left out: gokrb5 writes an offset under a minute as
		// "Z", which is not the instant it was given.
		if back.ErrorCode != e.ErrorCode || back.EText != e.EText || !bytes.Equal(back.EData, e.EData) || back.Realm != e.Realm {
			t.Fatalf("case %d: read back as %+v", i, back)
		}
	}
}

// gokrb5KRBError is krbError as it was, with gokrb5's Marshal.
func gokrb5KRBError(realm string, names reqNames, code krberror.Code, text string, edata []byte, now time.Time) []byte {
	srealm, sname := realm, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm)
	if names.hasS {
		sname = names.sname
		if names.realm != "" {
			srealm = names.realm
		}
	}
	e := messages.NewKRBError(sname, srealm, int32(code), text)
	if names.hasC && names.realm != "" {
		e.CName, e.CRealm = names.cname, names.realm
	}
	now = now.UTC()
	e.STime, e.Susec, e.EData = now.Truncate(time.Second), now.Nanosecond()/1000, edata
	b, err := e.Marshal()
	if err != nil {
		e = messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, int32(code), "")
		e.STime, e.Susec = now.Truncate(time.Second), now.Nanosecond()/1000
		b, _ = e.Marshal()
	}
	return b
}

// TestKRBErrorMatchesGokrb5: krbError answers as it did with gokrb5's
// Marshal, for requests with and without names, odd names and texts, and
// a clock no GeneralizedTime can hold (no reply at all, as before).
func TestKRBErrorMatchesGokrb5(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.FixedZone("", 3600))
	alice, host := types.NewPrincipalName(1, "alice"), types.NewPrincipalName(3, "host/ws1.example.com")
	names := []reqNames{
		{},
		{realm: "EXAMPLE.COM", cname: alice, sname: host, hasC: true, hasS: true},
		{cname: alice, sname: host, hasC: true, hasS: true},
		{realm: "\xff", cname: types.PrincipalName{NameType: 1, NameString: []string{"\x00", ""}}, hasC: true},
		{realm: "OTHER.COM", sname: types.PrincipalName{NameString: []string{"é"}}, hasS: true},
	}
	for i, n := range names {
		for _, c := range []struct {
			code  krberror.Code
			text  string
			edata []byte
			now   time.Time
		}{
			{krberror.PreauthRequired, "pre-authentication required", []byte{0x30, 0}, now},
			{krberror.Generic, "", nil, now},
			{krberror.SPrincipalUnknown, "\xff" + strings.Repeat("y", 200), []byte{}, now},
			{krberror.Generic, "x", nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			got := krbError("EXAMPLE.COM", n, c.code, c.text, c.edata, c.now)
			want := gokrb5KRBError("EXAMPLE.COM", n, c.code, c.text, c.edata, c.now)
			if !bytes.Equal(got, want) {
				t.Fatalf("names %d, code %d, text %q:\nkrbError %x\ngokrb5   %x", i, c.code, c.text, got, want)
			}
		}
	}
}

// TestMarshalMethodDataMatchesGokrb5: METHOD-DATA as gokrb5's asn1 writes
// it, nil and empty values alike.
func TestMarshalMethodDataMatchesGokrb5(t *testing.T) {
	for i, md := range []types.PADataSequence{
		nil,
		{},
		{{PADataType: 16, PADataValue: []byte{}}},
		{{PADataType: 16}, {PADataType: 150, PADataValue: bytes.Repeat([]byte{9}, 200)}},
		{{PADataType: -2147483648, PADataValue: []byte{0}}, {PADataType: 2147483647, PADataValue: bytes.Repeat([]byte{1}, 70000)}},
	} {
		got, err := marshalMethodData(md)
		if err != nil {
			t.Fatal(err)
		}
		want, err := asn1.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: encoded as %x\ngokrb5's asn1 has %x", i, got, want)
		}
	}
}

// BenchmarkMarshalKRBError encodes the PREAUTH_REQUIRED of a first AS-REQ
// (METHOD-DATA with a freshness token), by hand and by gokrb5's reflection.
func BenchmarkMarshalKRBError(b *testing.B) {
	md := types.PADataSequence{{PADataType: 16, PADataValue: []byte{}}, {PADataType: 150, PADataValue: bytes.Repeat([]byte{7}, 70)}}
	for _, enc := range []struct {
		name string
		krb  func(*messages.KRBError) ([]byte, error)
		md   func(types.PADataSequence) ([]byte, error)
	}{
		{"kdc", marshalKRBError, marshalMethodData},
		{"gokrb5", (*messages.KRBError).Marshal, func(md types.PADataSequence) ([]byte, error) { return asn1.Marshal(md) }},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				edata, err := enc.md(md)
				if err != nil {
					b.Fatal(err)
				}
				e := messages.KRBError{PVNO: 5, MsgType: 30, STime: time.Now().UTC().Truncate(time.Second),
					ErrorCode: int32(krberror.PreauthRequired), Realm: "EXAMPLE.COM", CRealm: "EXAMPLE.COM",
					CName: types.NewPrincipalName(1, "alice"), SName: types.NewPrincipalName(2, "krbtgt/EXAMPLE.COM"),
					EText: "pre-authentication required", EData: edata}
				if _, err := enc.krb(&e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzMarshalKRBErrorMatchesGokrb5 is TestMarshalKRBErrorMatchesGokrb5 over
// arbitrary codes, strings, e-data and times.
func FuzzMarshalKRBErrorMatchesGokrb5(f *testing.F) {
	f.Add(int32(25), "EXAMPLE.COM", "alice", "pre-authentication required", []byte{0x30, 0}, int64(1772366400), 0, true)
	f.Add(int32(-1), "", "", "", []byte(nil), int64(-62135596800), 5400, false)
	f.Fuzz(func(t *testing.T, code int32, realm, name, text string, edata []byte, unix int64, zone int, withC bool) {
		e := messages.KRBError{PVNO: 5, MsgType: 30, STime: time.Unix(unix, 0).In(time.FixedZone("", zone%(24*3600))),
			Susec: int(unix % 1000000), ErrorCode: code, Realm: realm, SName: types.NewPrincipalName(2, name), EText: text, EData: edata}
		if withC {
			e.CRealm, e.CName = realm, types.PrincipalName{NameType: code, NameString: strings.Split(name, "@")}
		}
		got, err := marshalKRBError(&e)
		want, wantErr := e.Marshal()
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%+v: encoded as %x (%v), gokrb5 has %x (%v)", e, got, err, want, wantErr)
		}
	})
}
