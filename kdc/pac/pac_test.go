package pac

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"testing"
	"time"

	krbpac "github.com/jcmturner/gokrb5/v8/pac"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs"
)

func mustSID(t testing.TB, s string) certs.SID {
	t.Helper()
	sid, err := certs.ParseSID(s)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func mustKey(t testing.TB, etype int32, fill byte) Key {
	t.Helper()
	n := 16
	if etype == etypeAES256 {
		n = 32
	}
	k, err := NewKey(etype, bytes.Repeat([]byte{fill}, n))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func krbKey(k Key) types.EncryptionKey {
	return types.EncryptionKey{KeyType: k.etype, KeyValue: k.value}
}

func testInfo(t testing.TB) Info {
	t.Helper()
	domain := mustSID(t, "S-1-5-21-3623811015-3361044348-30300820")
	user := mustSID(t, "S-1-5-21-3623811015-3361044348-30300820-1105")
	return Info{
		LogonTime:          time.Date(2026, 3, 1, 8, 30, 15, 0, time.UTC),
		PasswordLastSet:    time.Date(2025, 12, 24, 17, 0, 0, 0, time.UTC),
		Account:            "alice",
		FullName:           "Alice Ålander",
		LogonServer:        "DC01",
		NetBIOSDomain:      "EXAMPLE",
		DomainSID:          domain,
		UserRID:            1105,
		PrimaryGroupRID:    513,
		GroupRIDs:          []uint32{513, 512, 1120},
		ExtraSIDs:          []certs.SID{mustSID(t, "S-1-18-1"), mustSID(t, "S-1-5-21-1-2-3-1000")},
		UserAccountControl: 0x10,
		ClientName:         "alice",
		AuthTime:           time.Date(2026, 3, 1, 8, 30, 14, 0, time.UTC),
		UPN:                "alice@example.com",
		DNSDomain:          "EXAMPLE.COM",
		RequestorSID:       user,
		Attributes:         PACWasRequested,
	}
}

var etypes = []int32{etypeAES256, etypeAES128, etypeRC4}

// gokrb5Parse parses and checks the server signature the way a gokrb5
// service does.
func gokrb5Parse(b []byte, serverKey Key) (*krbpac.PACType, error) {
	var p krbpac.PACType
	if err := p.Unmarshal(b); err != nil {
		return nil, err
	}
	if err := p.ProcessPACInfoBuffers(krbKey(serverKey), log.New(io.Discard, "", 0)); err != nil {
		return nil, err
	}
	return &p, nil
}

// Acceptance 1: gokrb5 parses a PAC built here, verifies its server
// signature, and reads every field back.
func TestBuildParsesWithGokrb5(t *testing.T) {
	info := testInfo(t)
	for _, se := range etypes {
		for _, ke := range etypes {
			t.Run(fmt.Sprintf("server%d-kdc%d", se, ke), func(t *testing.T) {
				serverKey, kdcKey := mustKey(t, se, 0x11), mustKey(t, ke, 0x22)
				b, err := Build(info, serverKey, kdcKey)
				if err != nil {
					t.Fatal(err)
				}
				p, err := gokrb5Parse(b, serverKey)
				if err != nil {
					t.Fatalf("gokrb5: %v", err)
				}
				checkGokrb5Fields(t, p, info)
				if _, err := Verify(b, serverKey, &kdcKey); err != nil {
					t.Fatalf("Verify: %v", err)
				}
			})
		}
	}
}

func checkGokrb5Fields(t *testing.T, p *krbpac.PACType, info Info) {
	t.Helper()
	k := p.KerbValidationInfo
	eq := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	eq("LogonTime", k.LogOnTime.Time(), info.LogonTime)
	eq("PasswordLastSet", k.PasswordLastSet.Time(), info.PasswordLastSet)
	eq("EffectiveName", k.EffectiveName.Value, info.Account)
	eq("FullName", k.FullName.Value, info.FullName)
	eq("LogonServer", k.LogonServer.Value, info.LogonServer)
	eq("LogonDomainName", k.LogonDomainName.Value, info.NetBIOSDomain)
	eq("LogonDomainID", k.LogonDomainID.String(), info.DomainSID.String())
	eq("UserID", k.UserID, info.UserRID)
	eq("PrimaryGroupID", k.PrimaryGroupID, info.PrimaryGroupRID)
	eq("UserAccountControl", k.UserAccountControl, info.UserAccountControl)
	eq("UserFlags&LOGON_EXTRA_SIDS", k.UserFlags&logonExtraSIDs, logonExtraSIDs)
	eq("GroupCount", k.GroupCount, len(info.GroupRIDs))
	for i, g := range k.GroupIDs {
		eq("GroupIDs.RelativeID", g.RelativeID, info.GroupRIDs[i])
		eq("GroupIDs.Attributes", g.Attributes, GroupAttributes)
	}
	eq("SIDCount", k.SIDCount, len(info.ExtraSIDs))
	for i, s := range k.ExtraSIDs {
		eq("ExtraSIDs.SID", s.SID.String(), info.ExtraSIDs[i].String())
		eq("ExtraSIDs.Attributes", s.Attributes, GroupAttributes)
	}
	var want []string
	for _, r := range info.GroupRIDs {
		want = append(want, fmt.Sprintf("%s-%d", info.DomainSID, r))
	}
	for _, s := range info.ExtraSIDs {
		want = append(want, s.String())
	}
	eq("group SIDs", k.GetGroupMembershipSIDs(), want)
	eq("ClientInfo.Name", p.ClientInfo.Name, info.ClientName)
	eq("ClientInfo.ClientID", p.ClientInfo.ClientID.Time(), info.AuthTime)
	eq("UPNDNSInfo.UPN", p.UPNDNSInfo.UPN, info.UPN)
	eq("UPNDNSInfo.DNSDomain", p.UPNDNSInfo.DNSDomain, info.DNSDomain)
}

// Our own readers of the small buffers agree with the input.
func TestBuildReadsBack(t *testing.T) {
	info := testInfo(t)
	key := mustKey(t, etypeAES256, 0x33)
	b, err := Build(info, key, key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Verify(b, key, &key)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []BufferType{TypeLogonInfo, TypeClientInfo, TypeUPNDNSInfo, TypeAttributesInfo, TypeRequestor, TypeServerChecksum, TypePrivSvrChecksum}
	var got []BufferType
	for _, x := range p.Buffers {
		got = append(got, x.Type)
	}
	if !slices.Equal(got, wantTypes) {
		t.Errorf("buffer types = %v, want %v", got, wantTypes)
	}
	ci, err := p.ClientInfo()
	if err != nil || ci.Name != info.ClientName || !ci.AuthTime.Equal(info.AuthTime) {
		t.Errorf("ClientInfo = %+v, %v", ci, err)
	}
	user, _ := info.UserSID()
	u, ok, err := p.UPNDNSInfo()
	want := UPNDNSInfo{UPN: info.UPN, DNSDomain: info.DNSDomain, SamName: info.Account, SID: user}
	if !ok || err != nil || u != want {
		t.Errorf("UPNDNSInfo = %+v, %v, %v; want %+v", u, ok, err, want)
	}
	r, ok, err := p.Requestor()
	if !ok || err != nil || r != info.RequestorSID {
		t.Errorf("Requestor = %v, %v, %v", r, ok, err)
	}
	a, ok, err := p.Attributes()
	if !ok || err != nil || a != PACWasRequested {
		t.Errorf("Attributes = %v, %v, %v", a, ok, err)
	}
	for _, x := range p.Buffers {
		if len(x.Data) == 0 {
			t.Errorf("buffer %d empty", x.Type)
		}
	}
	for i := range p.offs {
		if p.offs[i]%8 != 0 {
			t.Errorf("buffer %d at offset %d", i, p.offs[i])
		}
	}
	if len(b)%8 != 0 {
		t.Errorf("PAC length %d is not a multiple of 8", len(b))
	}
}

func TestBuildOptionalBuffers(t *testing.T) {
	info := testInfo(t)
	info.UPN, info.RequestorSID, info.Attributes, info.ExtraSIDs, info.GroupRIDs = "", certs.SID{}, 0, nil, nil
	info.FullName, info.LogonServer = "", ""
	key := mustKey(t, etypeRC4, 0x44)
	b, err := Build(info, key, key)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := gokrb5Parse(b, key)
	if err != nil {
		t.Fatalf("gokrb5: %v", err)
	}
	if kp.KerbValidationInfo.UserFlags&logonExtraSIDs != 0 || len(kp.KerbValidationInfo.GroupIDs) != 0 || kp.KerbValidationInfo.FullName.Value != "" {
		t.Errorf("KerbValidationInfo = %+v", kp.KerbValidationInfo)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Buffers) != 5 {
		t.Errorf("%d buffers, want 5", len(p.Buffers))
	}
	if _, ok, _ := p.Requestor(); ok {
		t.Error("PAC_REQUESTOR written for a zero RequestorSID")
	}
	if _, ok, _ := p.Attributes(); ok {
		t.Error("PAC_ATTRIBUTES_INFO written for zero Attributes")
	}
	u, _, err := p.UPNDNSInfo()
	if err != nil || u.UPN != "alice@EXAMPLE.COM" || !u.Constructed {
		t.Errorf("UPNDNSInfo = %+v, %v; want the constructed UPN with the U flag", u, err)
	}
	if kp.UPNDNSInfo.Flags&upnConstructed == 0 {
		t.Error("gokrb5 sees no U flag")
	}
}

func TestBuildRejectsInvalidInfo(t *testing.T) {
	key := mustKey(t, etypeAES256, 1)
	for _, tc := range []struct {
		name string
		edit func(*Info)
	}{
		{"no account", func(i *Info) { i.Account = "" }},
		{"no client name", func(i *Info) { i.ClientName = "" }},
		{"no DNS domain", func(i *Info) { i.DNSDomain = "" }},
		{"no authtime", func(i *Info) { i.AuthTime = time.Time{} }},
		{"no RID", func(i *Info) { i.UserRID = 0 }},
		{"no domain SID", func(i *Info) { i.DomainSID = certs.SID{} }},
		{"zero extra SID", func(i *Info) { i.ExtraSIDs = []certs.SID{{}} }},
		{"domain SID full", func(i *Info) {
			s, _ := certs.NewSID(5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
			i.DomainSID = s
		}},
		{"logon before 1601", func(i *Info) { i.LogonTime = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"huge name", func(i *Info) { i.FullName = strings.Repeat("x", 40000) }},
		{"huge client name", func(i *Info) { i.ClientName = strings.Repeat("x", 40000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := testInfo(t)
			tc.edit(&info)
			if _, err := Build(info, key, key); err == nil {
				t.Fatal("Build accepted invalid Info")
			}
		})
	}
	if _, err := Build(testInfo(t), Key{}, key); !errors.Is(err, ErrUnsupported) {
		t.Errorf("zero server key: %v, want ErrUnsupported", err)
	}
}

// logonInfoRange returns where the LOGON_INFO buffer sits in b.
func logonInfoRange(t *testing.T, b []byte) (int, int) {
	t.Helper()
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p.offs[0], p.offs[0] + len(p.Buffers[0].Data)
}

// Acceptance 2: one flipped byte in LOGON_INFO fails verification, in
// gokrb5 and here.
func TestTamperedPACFails(t *testing.T) {
	info := testInfo(t)
	for _, et := range etypes {
		t.Run(fmt.Sprint(et), func(t *testing.T) {
			key := mustKey(t, et, 0x55)
			b, err := Build(info, key, key)
			if err != nil {
				t.Fatal(err)
			}
			start, end := logonInfoRange(t, b)
			// The UserId field (offset 16 headers + 4 referent + 6*8 times +
			// 6*8 strings + 4 counts) keeps the NDR decodable, so only the
			// signature can catch the change.
			at := start + 16 + 4 + 48 + 48 + 4
			if at >= end {
				t.Fatal("test offset outside LOGON_INFO")
			}
			bad := slices.Clone(b)
			bad[at] ^= 0x01
			if _, err := gokrb5Parse(bad, key); err == nil {
				t.Error("gokrb5 accepted a tampered PAC")
			}
			if _, err := Verify(bad, key, &key); !errors.Is(err, ErrSignature) {
				t.Errorf("Verify: %v, want ErrSignature", err)
			}
			if _, err := Resign(bad, key, mustKey(t, etypeAES128, 9)); !errors.Is(err, ErrSignature) {
				t.Errorf("Resign: %v, want ErrSignature", err)
			}
			// Every byte of the PAC outside the two signatures is covered.
			p, _ := Parse(b)
			for i := range b {
				bad := slices.Clone(b)
				bad[i] ^= 0x80
				if q, err := Parse(bad); err == nil && inSignature(p, i) {
					continue
				} else if err == nil && q.VerifyServer(key) == nil {
					t.Fatalf("flipping byte %d went unnoticed", i)
				}
			}
		})
	}
}

func inSignature(p *PAC, i int) bool {
	for j, x := range p.Buffers {
		if (x.Type == TypeServerChecksum || x.Type == TypePrivSvrChecksum) && i >= p.offs[j]+4 && i < p.offs[j]+len(x.Data) {
			return true
		}
	}
	return false
}

func TestSignatureChecks(t *testing.T) {
	info := testInfo(t)
	serverKey, kdcKey := mustKey(t, etypeAES128, 1), mustKey(t, etypeAES256, 2)
	b, err := Build(info, serverKey, kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyKDC(kdcKey); err != nil {
		t.Errorf("VerifyKDC: %v", err)
	}
	for name, err := range map[string]error{
		"server, wrong key":   p.VerifyServer(mustKey(t, etypeAES128, 3)),
		"server, wrong etype": p.VerifyServer(kdcKey),
		"kdc, wrong key":      p.VerifyKDC(mustKey(t, etypeAES256, 3)),
		"kdc, wrong etype":    p.VerifyKDC(serverKey),
	} {
		if !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
	// A changed KDC signature leaves the server signature valid.
	bad := slices.Clone(b)
	bad[len(bad)-8] ^= 1
	if _, err := Verify(bad, serverKey, nil); err != nil {
		t.Errorf("server signature after KDC change: %v", err)
	}
	if _, err := Verify(bad, serverKey, &kdcKey); !errors.Is(err, ErrSignature) {
		t.Errorf("KDC signature after change: %v, want ErrSignature", err)
	}
}

// Acceptance 3: a TGT's PAC re-signed for a service verifies in gokrb5
// with the service key, and keeps every other buffer byte for byte.
func TestResignRoundTrip(t *testing.T) {
	info := testInfo(t)
	krbtgt := mustKey(t, etypeAES256, 0x66)
	tgtPAC, err := Build(info, krbtgt, krbtgt)
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range etypes {
		t.Run(fmt.Sprint(et), func(t *testing.T) {
			service := mustKey(t, et, 0x77)
			svcPAC, err := Resign(tgtPAC, krbtgt, service)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := gokrb5Parse(svcPAC, service)
			if err != nil {
				t.Fatalf("gokrb5 with the service key: %v", err)
			}
			checkGokrb5Fields(t, kp, info)
			if _, err := gokrb5Parse(svcPAC, krbtgt); err == nil && et == etypeAES256 {
				t.Error("gokrb5 accepted the service PAC with the krbtgt key")
			}
			q, err := Verify(svcPAC, service, &krbtgt)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			p, _ := Parse(tgtPAC)
			for i, x := range p.Buffers {
				if x.Type == TypeServerChecksum || x.Type == TypePrivSvrChecksum {
					continue
				}
				if q.Buffers[i].Type != x.Type || !bytes.Equal(q.Buffers[i].Data, x.Data) {
					t.Errorf("buffer %d (type %d) changed", i, x.Type)
				}
			}
		})
	}
	if _, err := Resign(tgtPAC, mustKey(t, etypeAES256, 0x67), krbtgt); !errors.Is(err, ErrSignature) {
		t.Errorf("Resign with the wrong krbtgt key: %v, want ErrSignature", err)
	}
}

func TestAuthorizationData(t *testing.T) {
	key := mustKey(t, etypeAES256, 1)
	b, err := Build(testInfo(t), key, key)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := AuthorizationData(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ad) != 1 || ad[0].ADType != 1 {
		t.Fatalf("outer = %+v, want one AD-IF-RELEVANT", ad)
	}
	var inner types.AuthorizationData
	if err := inner.Unmarshal(ad[0].ADData); err != nil {
		t.Fatalf("gokrb5 cannot read AD-IF-RELEVANT: %v", err)
	}
	if len(inner) != 1 || inner[0].ADType != 128 || !bytes.Equal(inner[0].ADData, b) {
		t.Fatalf("inner = %+v, want one AD-WIN2K-PAC", inner)
	}
	got, ok, err := FromAuthorizationData(append(types.AuthorizationData{{ADType: 4, ADData: []byte{1}}}, ad...))
	if err != nil || !ok || !bytes.Equal(got, b) {
		t.Errorf("FromAuthorizationData = %v, %v", ok, err)
	}
	if _, ok, err := FromAuthorizationData(nil); ok || err != nil {
		t.Errorf("FromAuthorizationData(nil) = %v, %v", ok, err)
	}
	if _, _, err := FromAuthorizationData(append(ad, ad...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("two PACs: %v, want ErrMalformed", err)
	}
	if _, _, err := FromAuthorizationData(types.AuthorizationData{{ADType: 1, ADData: []byte{0x30}}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad AD-IF-RELEVANT: %v, want ErrMalformed", err)
	}
}

func TestNDRHeaders(t *testing.T) {
	b, err := marshalLogonInfo(new(testInfo(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:8], []byte{1, 0x10, 8, 0, 0xCC, 0xCC, 0xCC, 0xCC}) {
		t.Errorf("common header % x", b[:8])
	}
	if n := binary.LittleEndian.Uint32(b[8:]); int(n) != len(b)-16 || n%8 != 0 {
		t.Errorf("object buffer length %d for %d bytes", n, len(b))
	}
	if f := binary.LittleEndian.Uint32(b[12:]); f != 0 {
		t.Errorf("private header filler %#x", f)
	}
	if r := binary.LittleEndian.Uint32(b[16:]); r != 0x00020000 {
		t.Errorf("top-level referent %#x", r)
	}
}

func TestFileTime(t *testing.T) {
	ts := time.Unix(1234567890, 123456700).UTC()
	ft, err := fileTime("t", ts)
	if err != nil || ft != 128790414901234567 {
		t.Fatalf("fileTime = %d, %v", ft, err)
	}
	if back := timeFromFileTime(ft); !back.Equal(ts) {
		t.Errorf("timeFromFileTime = %v, want %v", back, ts)
	}
	if ft, _ := fileTime("t", time.Time{}); ft != 0 || !timeFromFileTime(0).IsZero() {
		t.Error("zero time does not map to 0")
	}
}

func TestNewKey(t *testing.T) {
	if _, err := NewKey(16, make([]byte, 24)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("des3: %v, want ErrUnsupported", err)
	}
	if _, err := NewKey(etypeAES256, make([]byte, 16)); err == nil {
		t.Error("short AES256 key accepted")
	}
	k := mustKey(t, etypeAES128, 0xAB)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		if s := fmt.Sprintf(verb, k); strings.Contains(strings.ToLower(s), "abab") || strings.Contains(s, "\xab") {
			t.Errorf("%s prints the key: %s", verb, s)
		}
	}
	if k.EType() != etypeAES128 {
		t.Errorf("EType = %d", k.EType())
	}
}

func BenchmarkBuild(b *testing.B) {
	info := testInfo(b)
	serverKey, kdcKey := mustKey(b, etypeAES256, 1), mustKey(b, etypeAES256, 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(info, serverKey, kdcKey); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAuthorizationDataMatchesEncodingASN1: the hand-written AD-IF-RELEVANT
// contents are encoding/asn1's, for PACs around every length boundary.
func TestAuthorizationDataMatchesEncodingASN1(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 1000, 65535, 65536, 70000} {
		pac := bytes.Repeat([]byte{0x5a}, n)
		want, err := asn1.Marshal([]adEntry{{ADType: adWin2kPAC, ADData: pac}})
		if err != nil {
			t.Fatal(err)
		}
		ad, err := AuthorizationData(pac)
		if err != nil {
			t.Fatal(err)
		}
		if len(ad) != 1 || ad[0].ADType != adIfRelevant || !bytes.Equal(ad[0].ADData, want) {
			t.Errorf("%d-byte PAC: %+v, want AD-IF-RELEVANT around % x…", n, ad, want[:min(len(want), 16)])
		}
		if got, ok, err := FromAuthorizationData(ad); err != nil || !ok || !bytes.Equal(got, pac) {
			t.Errorf("%d-byte PAC does not read back: %v %v", n, ok, err)
		}
	}
}
