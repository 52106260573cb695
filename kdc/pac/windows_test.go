package pac

import (
	"bytes"
	"encoding/hex"
	"testing"
	"unicode/utf16"

	krbpac "github.com/jcmturner/gokrb5/v8/pac"
	"github.com/jcmturner/gokrb5/v8/test/testdata"
	"github.com/jcmturner/rpc/v2/mstypes"

	"github.com/sclogon/sclogon/certs"
)

// TestLogonInfoMatchesWindows re-encodes the KERB_VALIDATION_INFO buffers
// captured from Windows DCs that gokrb5 ships as test vectors and expects
// the same bytes: referent numbering, deferral order, alignment, string
// and SID layout all agree with MIDL's.
func TestLogonInfoMatchesWindows(t *testing.T) {
	for name, vector := range map[string]string{
		"MarshaledPAC_Kerb_Validation_Info":    testdata.MarshaledPAC_Kerb_Validation_Info,
		"MarshaledPAC_Kerb_Validation_Info_MS": testdata.MarshaledPAC_Kerb_Validation_Info_MS,
	} {
		t.Run(name, func(t *testing.T) {
			want, err := hex.DecodeString(vector)
			if err != nil {
				t.Fatal(err)
			}
			var k krbpac.KerbValidationInfo
			if err := k.Unmarshal(want); err != nil {
				t.Fatal(err)
			}
			v := fromGokrb5(t, &k)
			if got := v.marshal(); !bytes.Equal(got, want) {
				t.Errorf("re-encoded KERB_VALIDATION_INFO differs\n got %x\nwant %x", got, want)
			}
		})
	}
}

func fromGokrb5(t *testing.T, k *krbpac.KerbValidationInfo) *validationInfo {
	t.Helper()
	str := func(s mstypes.RPCUnicodeString) ndrString {
		return ndrString{units: utf16.Encode([]rune(s.Value)), max: s.MaximumLength}
	}
	sid := func(s mstypes.RPCSID) certs.SID {
		return mustSID(t, s.String())
	}
	ft := func(f mstypes.FileTime) uint64 { return uint64(f.HighDateTime)<<32 | uint64(f.LowDateTime) }
	if k.ResourceGroupCount != 0 || k.SubAuthStatus != 0 || k.FailedILogonCount != 0 {
		t.Fatalf("vector uses fields this encoder always zeroes: %+v", k)
	}
	v := &validationInfo{
		logonTime: ft(k.LogOnTime), logoffTime: ft(k.LogOffTime), kickOffTime: ft(k.KickOffTime),
		passwordLastSet: ft(k.PasswordLastSet), passwordCanChange: ft(k.PasswordCanChange), passwordMustChange: ft(k.PasswordMustChange),
		effectiveName: str(k.EffectiveName), fullName: str(k.FullName), logonScript: str(k.LogonScript),
		profilePath: str(k.ProfilePath), homeDirectory: str(k.HomeDirectory), homeDirectoryDrive: str(k.HomeDirectoryDrive),
		logonCount: k.LogonCount, badPasswordCount: k.BadPasswordCount,
		userID: k.UserID, primaryGroupID: k.PrimaryGroupID, userFlags: k.UserFlags,
		logonServer: str(k.LogonServer), logonDomainName: str(k.LogonDomainName),
		logonDomainID: sid(k.LogonDomainID), userAccountControl: k.UserAccountControl,
	}
	for _, g := range k.GroupIDs {
		v.groups = append(v.groups, groupMembership{g.RelativeID, g.Attributes})
	}
	for _, s := range k.ExtraSIDs {
		v.extraSIDs = append(v.extraSIDs, sidAndAttributes{sid(s.SID), s.Attributes})
	}
	return v
}

// The small buffers of the same Windows capture read back, and
// PAC_CLIENT_INFO re-encodes to the same bytes.
func TestSmallBuffersMatchWindows(t *testing.T) {
	ci, _ := hex.DecodeString(testdata.MarshaledPAC_Client_Info)
	c, err := parseClientInfo(ci)
	if err != nil || c.Name != "testuser1" {
		t.Fatalf("parseClientInfo = %+v, %v", c, err)
	}
	if again, err := marshalClientInfo(c.AuthTime, c.Name); err != nil || !bytes.Equal(again, ci) {
		t.Errorf("PAC_CLIENT_INFO re-encoded as %x, %v; want %x", again, err, ci)
	}
	ub, _ := hex.DecodeString(testdata.MarshaledPAC_UPN_DNS_Info)
	u, err := parseUPNDNSInfo(ub)
	if err != nil || u.UPN != "testuser1@test.gokrb5" || u.DNSDomain != "TEST.GOKRB5" || u.Constructed || !u.SID.IsZero() {
		t.Errorf("parseUPNDNSInfo = %+v, %v", u, err)
	}
}
