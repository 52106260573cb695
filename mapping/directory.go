package mapping

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sclogon/sclogon/certs"
)

// Directory is what the mapper needs from an account store. Both backends,
// [github.com/sclogon/sclogon/mapping/ldap] and
// [github.com/sclogon/sclogon/mapping/ldif], implement it with the same
// semantics:
//
//   - the Find methods return the entries of objectClass user whose
//     attribute equals the value under AD's matching rule: caseIgnoreMatch
//     (see [FoldValue]) for userPrincipalName, sAMAccountName and
//     altSecurityIdentities, octet equality for objectSid;
//   - values are data, never filter syntax: "*)(uid=*" finds only an
//     account literally named so;
//   - GroupsOf returns the entries of objectClass group that list dn in
//     member (direct membership only; the mapper follows nesting);
//   - a directory that cannot be reached returns an error wrapping
//     [ErrDirectoryUnavailable] within its configured timeout.
//
// Entries carry at least the attributes in [AccountAttributes].
type Directory interface {
	FindByUPN(ctx context.Context, upn string) ([]Entry, error)
	FindBySAMAccountName(ctx context.Context, name string) ([]Entry, error)
	FindBySID(ctx context.Context, sid certs.SID) ([]Entry, error)
	FindByAltSecID(ctx context.Context, values []string) ([]Entry, error)
	GroupsOf(ctx context.Context, dn string) ([]Entry, error)
}

// Attribute names, as AD spells them.
const (
	AttrUPN                = "userPrincipalName"
	AttrSAMAccountName     = "sAMAccountName"
	AttrObjectSID          = "objectSid"
	AttrAltSecurityIDs     = "altSecurityIdentities"
	AttrUserAccountControl = "userAccountControl"
	AttrAccountExpires     = "accountExpires"
	AttrPrimaryGroupID     = "primaryGroupID"
	AttrWhenCreated        = "whenCreated"
	AttrCreateTimestamp    = "createTimestamp" // used when whenCreated is absent
	AttrMember             = "member"
	AttrObjectClass        = "objectClass"
)

// AccountAttributes are the attributes a backend must return for a user entry.
var AccountAttributes = []string{
	AttrUPN, AttrSAMAccountName, AttrObjectSID, AttrAltSecurityIDs, AttrUserAccountControl,
	AttrAccountExpires, AttrPrimaryGroupID, AttrWhenCreated, AttrCreateTimestamp,
}

// Entry is one directory entry as a backend read it: its DN and raw
// attribute values, keyed by attribute name in lower case.
type Entry struct {
	DN    string
	Attrs map[string][][]byte
}

// Get returns the values of attr (any case).
func (e Entry) Get(attr string) [][]byte {
	key, ok := attrKeys[attr]
	if !ok {
		key = strings.ToLower(attr)
	}
	return e.Attrs[key]
}

// attrKeys are the Attrs keys of the attributes this package reads, so that
// looking one up does not lower-case (and allocate) its name every time.
var attrKeys = func() map[string]string {
	m := map[string]string{}
	for _, a := range append([]string{AttrMember, AttrObjectClass}, AccountAttributes...) {
		m[a] = strings.ToLower(a)
	}
	return m
}()

func (e Entry) first(attr string) (string, bool) {
	v := e.Get(attr)
	if len(v) == 0 {
		return "", false
	}
	return string(v[0]), true
}

// firstNumber is the first value of attr, spaces trimmed, as bytes: the
// number parsed from it needs no string of its own.
func (e Entry) firstNumber(attr string) ([]byte, bool) {
	v := e.Get(attr)
	if len(v) == 0 {
		return nil, false
	}
	return bytes.TrimSpace(v[0]), true
}

// userAccountControl flags, MS-ADTS §2.2.16.
const (
	ufAccountDisable     = 0x2
	ufSmartcardRequired  = 0x40000
	accountExpiresNever  = 1<<63 - 1
	filetimeUnixEpoch    = 116444736000000000 // 100 ns intervals from 1601-01-01 to 1970-01-01
	maxGroupNestingDepth = 32
)

// Account is a user account as the KDC needs it for a ticket and its PAC.
type Account struct {
	DN             string
	SAMAccountName string
	UPN            string
	SID            certs.SID
	// PrimaryGroupSID is the domain part of SID plus primaryGroupID; zero
	// when either is missing.
	PrimaryGroupSID certs.SID
	// GroupSIDs are the SIDs of every group the account is a member of,
	// directly or through nested groups, without the primary group.
	GroupSIDs          []certs.SID
	UserAccountControl uint32
	Disabled           bool      // UF_ACCOUNTDISABLE
	SmartcardRequired  bool      // UF_SMARTCARD_REQUIRED
	Expires            time.Time // zero: never
	Created            time.Time // whenCreated, else createTimestamp; zero when unknown
	AltSecIDs          []string  // altSecurityIdentities as stored
}

// Expired reports whether the account has expired at now.
func (a *Account) Expired(now time.Time) bool {
	return !a.Expires.IsZero() && !now.Before(a.Expires)
}

// DecodeAccount reads an account from a user entry. Both backends' entries
// go through it, so they agree on every attribute's meaning.
func DecodeAccount(e Entry) (Account, error) {
	a := Account{DN: e.DN}
	a.SAMAccountName, _ = e.first(AttrSAMAccountName)
	a.UPN, _ = e.first(AttrUPN)
	for _, v := range e.Get(AttrAltSecurityIDs) {
		a.AltSecIDs = append(a.AltSecIDs, string(v))
	}
	bad := func(attr string, err error) (Account, error) {
		return Account{}, fmt.Errorf("mapping: account %s: %s: %w", e.DN, attr, err)
	}
	if v := e.Get(AttrObjectSID); len(v) > 0 {
		sid, err := certs.UnmarshalSID(v[0])
		if err != nil {
			return bad(AttrObjectSID, err)
		}
		a.SID = sid
	}
	if s, ok := e.firstNumber(AttrUserAccountControl); ok {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || n < -1<<31 || n > 1<<32-1 {
			return bad(AttrUserAccountControl, errors.New("not a 32-bit integer"))
		}
		a.UserAccountControl = uint32(n)
		a.Disabled = a.UserAccountControl&ufAccountDisable != 0
		a.SmartcardRequired = a.UserAccountControl&ufSmartcardRequired != 0
	}
	if s, ok := e.firstNumber(AttrAccountExpires); ok {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return bad(AttrAccountExpires, errors.New("not an integer"))
		}
		if n > 0 && n != accountExpiresNever {
			d := n - filetimeUnixEpoch
			a.Expires = time.Unix(d/1e7, d%1e7*100).UTC()
		}
	}
	if s, ok := e.firstNumber(AttrPrimaryGroupID); ok && !a.SID.IsZero() {
		n, err := strconv.ParseUint(string(s), 10, 32)
		if err != nil {
			return bad(AttrPrimaryGroupID, errors.New("not a RID"))
		}
		sub := a.SID.SubAuthorities()
		if len(sub) > 0 {
			sub[len(sub)-1] = uint32(n)
			g, err := certs.NewSID(a.SID.Authority(), sub...)
			if err != nil {
				return bad(AttrPrimaryGroupID, err)
			}
			a.PrimaryGroupSID = g
		}
	}
	for _, attr := range []string{AttrWhenCreated, AttrCreateTimestamp} {
		if s, ok := e.first(attr); ok {
			t, err := ParseGeneralizedTime(s)
			if err != nil {
				return bad(attr, err)
			}
			a.Created = t
			break
		}
	}
	return a, nil
}

// ParseGeneralizedTime parses an LDAP GeneralizedTime (RFC 4517 §3.3.13):
// YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|±HH[MM]).
func ParseGeneralizedTime(s string) (time.Time, error) {
	// The error is made only when needed: its formatting would cost every
	// successful parse more than the parse itself.
	orig := s
	bad := func() error { return fmt.Errorf("bad GeneralizedTime %q", orig) }
	if len(s) < 11 {
		return time.Time{}, bad()
	}
	// Split the zone off.
	var zone string
	switch i := strings.IndexAny(s, "Z+-"); {
	case i < 0:
		return time.Time{}, bad()
	default:
		zone, s = s[i:], s[:i]
	}
	frac := ""
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		frac, s = s[i+1:], s[:i]
		if frac == "" || strings.Trim(frac, "0123456789") != "" {
			return time.Time{}, bad()
		}
	}
	if strings.Trim(s, "0123456789") != "" {
		return time.Time{}, bad()
	}
	var layout string
	switch len(s) {
	case 10:
		layout = "2006010215"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, bad()
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, bad()
	}
	if frac != "" {
		f, _ := strconv.ParseFloat("0."+frac, 64)
		unit := time.Hour
		switch len(s) {
		case 12:
			unit = time.Minute
		case 14:
			unit = time.Second
		}
		t = t.Add(time.Duration(f * float64(unit)))
	}
	if zone != "Z" {
		if len(zone) != 3 && len(zone) != 5 || strings.Trim(zone[1:], "0123456789") != "" {
			return time.Time{}, bad()
		}
		h, _ := strconv.Atoi(zone[1:3])
		m := 0
		if len(zone) == 5 {
			m, _ = strconv.Atoi(zone[3:5])
		}
		if h > 23 || m > 59 {
			return time.Time{}, bad()
		}
		off := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
		if zone[0] == '+' {
			t = t.Add(-off)
		} else {
			t = t.Add(off)
		}
	}
	return t.UTC(), nil
}

// FoldValue is the comparison form of a directory string under
// caseIgnoreMatch (RFC 4518, simplified): case folded, leading and trailing
// spaces removed, inner runs of spaces collapsed to one.
func FoldValue(s string) string {
	if folded, ok := foldASCII(s); ok {
		return folded
	}
	return foldRunes(s)
}

// foldRunes is FoldValue's definition, rune by rune; foldASCII is its fast
// path for ASCII strings, and must agree with it (FuzzFoldValue).
func foldRunes(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.Trim(s, " ") {
		if r == ' ' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
	}
	return b.String()
}

// foldASCII is FoldValue for an ASCII s, and reports false for any other.
// Most directory strings are ASCII and already folded; those it returns
// as they are, without allocating.
func foldASCII(s string) (string, bool) {
	trimmed := strings.Trim(s, " ")
	clean := true
	for i := 0; i < len(trimmed); i++ {
		c := trimmed[i]
		switch {
		case c >= utf8.RuneSelf:
			return "", false
		case 'A' <= c && c <= 'Z', c == ' ' && trimmed[i+1] == ' ':
			clean = false
		}
	}
	if clean {
		return trimmed, true
	}
	b := make([]byte, 0, len(trimmed))
	for i := 0; i < len(trimmed); i++ {
		c := trimmed[i]
		switch {
		case c == ' ' && trimmed[i+1] == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}
