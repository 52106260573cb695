package pac

import (
	"fmt"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// UserFlags bits of KERB_VALIDATION_INFO ([MS-PAC] §2.5).
const logonExtraSIDs uint32 = 0x20 // LOGON_EXTRA_SIDS: ExtraSids is populated

// GroupAttributes is SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT |
// SE_GROUP_ENABLED ([MS-PAC] §2.2.1, [MS-DTYP] §2.4.4.2), the attributes
// every group and extra SID in the PAC carries.
const GroupAttributes uint32 = 7

// fileTime converts t to a FILETIME; the zero time is 0 (not set).
func fileTime(field string, t time.Time) (uint64, error) {
	if t.IsZero() {
		return 0, nil
	}
	secs := t.Unix() + unixToFileTimeSecs
	if secs < 0 || secs > int64(fileTimeNever/10_000_000)-1 {
		return 0, fmt.Errorf("pac: %s %v is outside the FILETIME range", field, t)
	}
	return uint64(secs)*10_000_000 + uint64(t.Nanosecond()/100), nil
}

// timeFromFileTime is the inverse of fileTime; 0 is the zero time.
func timeFromFileTime(ft uint64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	secs := int64(ft/10_000_000) - unixToFileTimeSecs
	return time.Unix(secs, int64(ft%10_000_000)*100).UTC()
}

type groupMembership struct{ rid, attributes uint32 }

type sidAndAttributes struct {
	sid        certs.SID
	attributes uint32
}

// validationInfo mirrors KERB_VALIDATION_INFO ([MS-PAC] §2.5) without the
// resource-group fields, which are always NULL here.
type validationInfo struct {
	logonTime, logoffTime, kickOffTime                     uint64
	passwordLastSet, passwordCanChange, passwordMustChange uint64
	effectiveName, fullName, logonScript, profilePath      ndrString
	homeDirectory, homeDirectoryDrive                      ndrString
	logonCount, badPasswordCount                           uint16
	userID, primaryGroupID                                 uint32
	groups                                                 []groupMembership
	userFlags                                              uint32
	logonServer, logonDomainName                           ndrString
	logonDomainID                                          certs.SID
	userAccountControl                                     uint32
	extraSIDs                                              []sidAndAttributes
}

// newValidationInfo fills KERB_VALIDATION_INFO the way AD does for a
// Kerberos logon.
func newValidationInfo(info *Info) (*validationInfo, error) {
	v := &validationInfo{
		logoffTime:         fileTimeNever,
		kickOffTime:        fileTimeNever,
		passwordMustChange: fileTimeNever,
		userID:             info.UserRID,
		primaryGroupID:     info.PrimaryGroupRID,
		logonDomainID:      info.DomainSID,
		userAccountControl: info.UserAccountControl,
	}
	var err error
	if v.logonTime, err = fileTime("LogonTime", info.LogonTime); err != nil {
		return nil, err
	}
	if v.passwordLastSet, err = fileTime("PasswordLastSet", info.PasswordLastSet); err != nil {
		return nil, err
	}
	v.passwordCanChange = v.passwordLastSet // no minimum password age
	for _, s := range []struct {
		dst   *ndrString
		field string
		val   string
		extra int
	}{
		{&v.effectiveName, "Account", info.Account, 0},
		{&v.fullName, "FullName", info.FullName, 0},
		{&v.logonServer, "LogonServer", info.LogonServer, 2},
		{&v.logonDomainName, "NetBIOSDomain", info.NetBIOSDomain, 2},
	} {
		if *s.dst, err = newNDRString(s.field, s.val, s.extra); err != nil {
			return nil, err
		}
	}
	for _, rid := range info.GroupRIDs {
		v.groups = append(v.groups, groupMembership{rid, GroupAttributes})
	}
	for _, s := range info.ExtraSIDs {
		v.extraSIDs = append(v.extraSIDs, sidAndAttributes{s, GroupAttributes})
	}
	if len(v.extraSIDs) > 0 {
		v.userFlags |= logonExtraSIDs
	}
	return v, nil
}

// marshal writes PAC_LOGON_INFO: a pointer to the KERB_VALIDATION_INFO,
// type-serialized. Pointers are written in field order and their referents
// after the structure in the same order, as NDR defers them.
func (v *validationInfo) marshal() []byte {
	w := newNDRWriter()
	w.ptr(true) // the top-level PKERB_VALIDATION_INFO
	w.fileTime(v.logonTime)
	w.fileTime(v.logoffTime)
	w.fileTime(v.kickOffTime)
	w.fileTime(v.passwordLastSet)
	w.fileTime(v.passwordCanChange)
	w.fileTime(v.passwordMustChange)
	names := []ndrString{v.effectiveName, v.fullName, v.logonScript, v.profilePath, v.homeDirectory, v.homeDirectoryDrive}
	for _, s := range names {
		w.stringHeader(s)
	}
	w.u16(v.logonCount)
	w.u16(v.badPasswordCount)
	w.u32(v.userID)
	w.u32(v.primaryGroupID)
	w.u32(uint32(len(v.groups)))
	w.ptr(len(v.groups) > 0)
	w.u32(v.userFlags)
	w.b = append(w.b, make([]byte, 16)...) // UserSessionKey: unused by Kerberos
	w.stringHeader(v.logonServer)
	w.stringHeader(v.logonDomainName)
	w.ptr(true) // LogonDomainId
	w.u32(0)    // Reserved1[0]
	w.u32(0)    // Reserved1[1]
	w.u32(v.userAccountControl)
	w.u32(0)      // SubAuthStatus
	w.fileTime(0) // LastSuccessfulILogon
	w.fileTime(0) // LastFailedILogon
	w.u32(0)      // FailedILogonCount
	w.u32(0)      // Reserved3
	w.u32(uint32(len(v.extraSIDs)))
	w.ptr(len(v.extraSIDs) > 0)
	w.ptr(false) // ResourceGroupDomainSid
	w.u32(0)     // ResourceGroupCount
	w.ptr(false) // ResourceGroupIds

	for _, s := range names {
		w.stringBody(s)
	}
	if len(v.groups) > 0 {
		w.u32(uint32(len(v.groups)))
		for _, g := range v.groups {
			w.u32(g.rid)
			w.u32(g.attributes)
		}
	}
	w.stringBody(v.logonServer)
	w.stringBody(v.logonDomainName)
	w.sid(v.logonDomainID)
	if len(v.extraSIDs) > 0 {
		w.u32(uint32(len(v.extraSIDs)))
		for _, s := range v.extraSIDs {
			w.ptr(true)
			w.u32(s.attributes)
		}
		for _, s := range v.extraSIDs {
			w.sid(s.sid)
		}
	}
	return typeSerialize(w.b)
}

// marshalLogonInfo writes PAC_LOGON_INFO for info ([MS-PAC] §2.5).
func marshalLogonInfo(info *Info) ([]byte, error) {
	v, err := newValidationInfo(info)
	if err != nil {
		return nil, err
	}
	return v.marshal(), nil
}

// validSID rejects the zero SID, which is no SID at all.
func validSID(field string, s certs.SID) error {
	if s.IsZero() {
		return fmt.Errorf("pac: %s is not set", field)
	}
	return nil
}
