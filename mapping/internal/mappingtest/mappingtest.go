// Package mappingtest is the mapping acceptance suite: one directory of
// accounts, the certificates that exercise every mapping method, ambiguity
// rule, enforcement mode and injection attempt, and the expected result of
// each, run unchanged over every [mapping.Directory] backend.
package mappingtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// Now is the clock of every case.
var Now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Suffix is the naming context the fixture's entries live under.
const Suffix = "dc=example,dc=com"

var (
	accountCreated = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	issuedAfter    = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	issuedBefore   = time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
)

// SID returns S-1-5-21-1000-2000-3000-rid, the fixture domain's SIDs.
func SID(rid uint32) certs.SID {
	s, err := certs.NewSID(5, 21, 1000, 2000, 3000, rid)
	if err != nil {
		panic(err)
	}
	return s
}

// Fixture is the directory content and the certificates of the suite.
type Fixture struct {
	LDIF    string
	CA      *x509.Certificate // trusted to assert SIDs
	OtherCA *x509.Certificate // chains fine, not trusted to assert SIDs
	Certs   map[string]Cert
}

// Directory is the fixture's accounts, and extra LDIF entries after them,
// as the in-memory LDIF directory.
func (f *Fixture) Directory(tb testing.TB, extra string) *ldif.Directory {
	tb.Helper()
	dir, err := ldif.Read(strings.NewReader(f.LDIF + "\n" + extra))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Counting is a directory that counts the requests made of it: the
// per-method lookups (FindBy*) in Finds, GroupsOf in Groups.
type Counting struct {
	mapping.Directory
	Finds, Groups atomic.Int64
}

func (d *Counting) FindByUPN(ctx context.Context, upn string) ([]mapping.Entry, error) {
	d.Finds.Add(1)
	return d.Directory.FindByUPN(ctx, upn)
}

func (d *Counting) FindBySAMAccountName(ctx context.Context, name string) ([]mapping.Entry, error) {
	d.Finds.Add(1)
	return d.Directory.FindBySAMAccountName(ctx, name)
}

func (d *Counting) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	d.Finds.Add(1)
	return d.Directory.FindBySID(ctx, sid)
}

func (d *Counting) FindByAltSecID(ctx context.Context, values []string) ([]mapping.Entry, error) {
	d.Finds.Add(1)
	return d.Directory.FindByAltSecID(ctx, values)
}

func (d *Counting) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	d.Groups.Add(1)
	return d.Directory.GroupsOf(ctx, dn)
}

// Cert is a fixture certificate and the CA that issued it.
type Cert struct {
	Cert   *x509.Certificate
	Issuer *x509.Certificate
}

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(tb testing.TB, name pkix.Name) ca {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               name,
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return ca{c, key}
}

type leaf struct {
	serial    int64
	cn        string
	upns      []string
	emails    []string
	sid       certs.SID
	notBefore time.Time
	other     bool // issued by OtherCA
}

var rdnDC = []int{0, 9, 2342, 19200300, 100, 1, 25}

// fixtureLeaves are the fixture's certificates, by name.
var fixtureLeaves = map[string]leaf{
	"alice-upn":             {serial: 0x1001, cn: "alice", upns: []string{"alice@example.com"}},
	"alice-upn-upper":       {serial: 0x1002, cn: "alice", upns: []string{"ALICE@Example.COM"}},
	"alice-upn-old":         {serial: 0x1003, cn: "alice", upns: []string{"alice@example.com"}, notBefore: issuedBefore},
	"alice-upn-backdated":   {serial: 0x1004, cn: "alice", upns: []string{"alice@example.com"}, notBefore: accountCreated.Add(-5 * time.Minute)},
	"alice-sid":             {serial: 0x1005, cn: "alice", upns: []string{"alice@example.com"}, sid: SID(1101), notBefore: issuedBefore},
	"alice-sid-untrusted":   {serial: 0x1006, cn: "alice", upns: []string{"alice@example.com"}, sid: SID(1101), other: true},
	"alice-upn-bob-sid":     {serial: 0x1007, cn: "alice", upns: []string{"alice@example.com"}, sid: SID(1102)},
	"alice-upn-ghost-sid":   {serial: 0x1008, cn: "alice", upns: []string{"alice@example.com"}, sid: SID(9999)},
	"bob-sr":                {serial: 0x8a0b0c0d, cn: "bob sr", notBefore: issuedBefore},
	"bob-ski":               {serial: 0x2001, cn: "bob ski", notBefore: issuedBefore},
	"bob-sha1":              {serial: 0x2002, cn: "bob sha1", notBefore: issuedBefore},
	"carol-is":              {serial: 0x3001, cn: "carol, the \"weak\" one"},
	"carol-s":               {serial: 0x3002, cn: "carol s", other: true},
	"carol-mail":            {serial: 0x3003, cn: "carol mail", emails: []string{"carol@example.com"}},
	"carol-mail-old":        {serial: 0x3004, cn: "carol mail", emails: []string{"carol@example.com"}, notBefore: issuedBefore},
	"shared":                {serial: 0x4001, cn: "dave"},
	"conflict":              {serial: 0x5001, cn: "erin", upns: []string{"erin@example.com"}},
	"dup-upn":               {serial: 0x6001, cn: "dup", upns: []string{"dup@example.com"}},
	"gina":                  {serial: 0x7001, cn: "gina", upns: []string{"gina@example.com"}, sid: SID(1301)},
	"hank":                  {serial: 0x7002, cn: "hank", upns: []string{"hank@example.com"}, sid: SID(1302)},
	"nobody":                {serial: 0x7003, cn: "nobody", upns: []string{"nobody@example.com"}},
	"inject-upn-star":       {serial: 0x9001, cn: "x", upns: []string{"*"}},
	"inject-upn-or":         {serial: 0x9002, cn: "x", upns: []string{"*)(userPrincipalName=*"}},
	"inject-upn-uid":        {serial: 0x9003, cn: "x", upns: []string{"*)(uid=*"}},
	"inject-upn-escaped":    {serial: 0x9004, cn: "x", upns: []string{`\2a`}},
	"inject-upn-nul":        {serial: 0x9005, cn: "x", upns: []string{"alice@example.com\x00"}},
	"inject-subject":        {serial: 0x9006, cn: "*)(cn=*"},
	"inject-subject-escape": {serial: 0x9007, cn: `bob sr\2a`},
}

func dcRDN(v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: rdnDC, Value: v}
}

// NewFixture builds the certificates and the LDIF that maps them.
func NewFixture(tb testing.TB) *Fixture {
	tb.Helper()
	trusted := newCA(tb, pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{dcRDN("com"), dcRDN("example")}, CommonName: "Example Issuing CA"})
	other := newCA(tb, pkix.Name{Organization: []string{"Other, Inc."}, CommonName: "Other CA"})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	f := &Fixture{CA: trusted.cert, OtherCA: other.cert, Certs: map[string]Cert{}}
	for name, l := range fixtureLeaves {
		issuer := trusted
		if l.other {
			issuer = other
		}
		f.Certs[name] = Cert{Cert: issueLeaf(tb, name, l, issuer, key), Issuer: issuer.cert}
	}
	f.LDIF = fixtureLDIF(tb, f)
	return f
}

// issueLeaf issues l, named name, from issuer to key.
func issueLeaf(tb testing.TB, name string, l leaf, issuer ca, key *ecdsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	nb := l.notBefore
	if nb.IsZero() {
		nb = issuedAfter
	}
	ski := sha1.Sum([]byte(name))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(l.serial),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{dcRDN("com"), dcRDN("example")},
			OrganizationalUnit: []string{"Users"}, CommonName: l.cn},
		NotBefore:    nb,
		NotAfter:     nb.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		SubjectKeyId: ski[:],
	}
	if len(l.upns)+len(l.emails) > 0 {
		ext, err := certs.SAN{UPNs: l.upns, Emails: l.emails}.Extension()
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	if !l.sid.IsZero() {
		ext, err := certs.SIDExtension(l.sid)
		if err != nil {
			tb.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.cert, &key.PublicKey, issuer.key)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return c
}

// fixtureLDIF is the directory that maps f's certificates.
func fixtureLDIF(tb testing.TB, f *Fixture) string {
	tb.Helper()
	form := func(cert string, kind mapping.AltSecKind) string {
		ids, err := mapping.AltSecIDsFor(f.Certs[cert].Cert)
		if err != nil {
			tb.Fatal(err)
		}
		for _, id := range ids {
			if id.Kind == kind {
				return id.String()
			}
		}
		tb.Fatalf("%s has no %v form", cert, kind)
		return ""
	}
	// lowerTags writes a value the way an administrator might type it; AD
	// matches it all the same.
	lowerTags := func(s string) string { return strings.ToLower(s) }

	var b strings.Builder
	user := func(cn string, rid uint32, attrs ...string) {
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: user\ncn: %s\nsn: %s\nsAMAccountName: %s\n", cn, Suffix, cn, cn, cn)
		if rid != 0 {
			fmt.Fprintf(&b, "objectSid:: %s\n", base64.StdEncoding.EncodeToString(SID(rid).Marshal()))
		}
		fmt.Fprintf(&b, "whenCreated: %s\n", accountCreated.Format("20060102150405.0Z"))
		for _, a := range attrs {
			b.WriteString(a + "\n")
		}
		b.WriteString("\n")
	}
	group := func(cn string, rid uint32, members ...string) {
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: group\ncn: %s\nobjectSid:: %s\n", cn, Suffix, cn, base64.StdEncoding.EncodeToString(SID(rid).Marshal()))
		for _, m := range members {
			fmt.Fprintf(&b, "member: cn=%s,%s\n", m, Suffix)
		}
		b.WriteString("\n")
	}
	user("alice", 1101, "userPrincipalName: alice@example.com", "primaryGroupID: 513", "userAccountControl: 262656")
	user("bob", 1102, "userPrincipalName: bob@example.com",
		"altSecurityIdentities: "+form("bob-sr", mapping.KindIssuerSerial),
		"altSecurityIdentities: "+lowerTags(form("bob-ski", mapping.KindSKI)),
		"altSecurityIdentities: "+strings.ToUpper(form("bob-sha1", mapping.KindSHA1PublicKey)),
		"altSecurityIdentities: Kerberos:bob@EXAMPLE.COM")
	user("carol", 1103, "userPrincipalName: carol@example.com",
		"altSecurityIdentities: "+form("carol-is", mapping.KindIssuerSubject),
		"altSecurityIdentities: "+form("carol-s", mapping.KindSubject),
		"altSecurityIdentities: "+form("carol-mail", mapping.KindRFC822))
	user("dave", 1201, "userPrincipalName: dave@example.com", "altSecurityIdentities: "+form("shared", mapping.KindIssuerSerial))
	user("dave-admin", 1202, "userPrincipalName: dave-admin@example.com", "altSecurityIdentities: "+form("shared", mapping.KindIssuerSerial))
	user("mallory", 1203, "userPrincipalName: mallory@example.com")
	user("erin", 1204, "userPrincipalName: erin@example.com")
	user("frank", 1205, "userPrincipalName: frank@example.com", "altSecurityIdentities: "+form("conflict", mapping.KindSKI))
	user("dup1", 1206, "userPrincipalName: dup@example.com")
	user("dup2", 1207, "userPrincipalName: dup@example.com")
	user("gina", 1301, "userPrincipalName: gina@example.com", "userAccountControl: 514")
	user("hank", 1302, "userPrincipalName: hank@example.com", "accountExpires: 133801632000000000") // 2025-01-01
	user("*", 1401, "userPrincipalName: star@example.com")
	group("staff", 2001, "alice", "bob")
	group("everyone", 2002, "staff", "dave")
	group("loop", 2003, "everyone", "loop")
	group("other", 2004, "mallory")
	return b.String()
}

// Case is one certificate (and hint) against the fixture under one
// enforcement mode.
type Case struct {
	Name        string
	Cert        string
	Hint        mapping.Hint
	Enforcement mapping.Enforcement
	Want        string // sAMAccountName of the expected account; empty when an error is expected
	WantErr     error
	WantMethod  mapping.Method
	WantStrong  bool
	WantForm    mapping.AltSecKind
	WantGroups  []certs.SID
}

const (
	full   = mapping.EnforcementFull
	compat = mapping.EnforcementCompatibility
	off    = mapping.EnforcementOff
)

// Cases is the acceptance table.
var Cases = []Case{
	// Every method.
	{Name: "upn/off", Cert: "alice-upn", Enforcement: off, Want: "alice", WantMethod: mapping.MethodUPN},
	{Name: "upn/case-insensitive", Cert: "alice-upn-upper", Enforcement: off, Want: "alice", WantMethod: mapping.MethodUPN},
	{Name: "sid/full", Cert: "alice-sid", Enforcement: full, Want: "alice", WantMethod: mapping.MethodSIDExtension, WantStrong: true,
		WantGroups: []certs.SID{SID(2001), SID(2002), SID(2003)}},
	{Name: "altsec/issuer-serial", Cert: "bob-sr", Enforcement: full, Want: "bob", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "altsec/ski", Cert: "bob-ski", Enforcement: full, Want: "bob", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindSKI},
	{Name: "altsec/sha1-pukey", Cert: "bob-sha1", Enforcement: full, Want: "bob", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindSHA1PublicKey},
	{Name: "altsec/issuer-subject", Cert: "carol-is", Enforcement: compat, Want: "carol", WantMethod: mapping.MethodAltSecID, WantForm: mapping.KindIssuerSubject},
	{Name: "altsec/subject", Cert: "carol-s", Enforcement: compat, Want: "carol", WantMethod: mapping.MethodAltSecID, WantForm: mapping.KindSubject},
	{Name: "altsec/rfc822", Cert: "carol-mail", Enforcement: compat, Want: "carol", WantMethod: mapping.MethodAltSecID, WantForm: mapping.KindRFC822},
	{Name: "hint/sam", Cert: "shared", Hint: mapping.Hint{Name: "dave-admin"}, Want: "dave-admin", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "hint/domain-user", Cert: "shared", Hint: mapping.Hint{Name: `EXAMPLE\dave`}, Want: "dave", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "hint/upn", Cert: "shared", Hint: mapping.Hint{Name: "dave-admin@example.com"}, Want: "dave-admin", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "hint/enterprise", Cert: "shared", Hint: mapping.Hint{Name: "DAVE@example.com", Enterprise: true}, Want: "dave", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "hint/implicit-upn", Cert: "shared", Hint: mapping.Hint{Name: "dave@EXAMPLE.COM", Realm: "EXAMPLE.COM"}, Want: "dave", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},

	// Ambiguity rules.
	{Name: "ambiguous/one-cert-several-accounts-without-hint", Cert: "shared", Enforcement: full, WantErr: mapping.ErrAmbiguous},
	{Name: "ambiguous/hint-not-mapped", Cert: "shared", Hint: mapping.Hint{Name: "mallory"}, WantErr: mapping.ErrNameMismatch},
	{Name: "ambiguous/hint-names-no-account", Cert: "shared", Hint: mapping.Hint{Name: "nobody"}, WantErr: mapping.ErrNoMapping},
	{Name: "ambiguous/methods-disagree", Cert: "conflict", Enforcement: off, WantErr: mapping.ErrAmbiguous},
	{Name: "ambiguous/upn-cert-several-accounts-even-with-hint", Cert: "conflict", Enforcement: off, Hint: mapping.Hint{Name: "frank"}, WantErr: mapping.ErrAmbiguous},
	{Name: "ambiguous/duplicate-upn", Cert: "dup-upn", Enforcement: off, WantErr: mapping.ErrAmbiguous},
	{Name: "ambiguous/no-mapping", Cert: "nobody", Enforcement: off, WantErr: mapping.ErrNoMapping},

	// KB5014754 enforcement.
	{Name: "enforcement/full-refuses-upn", Cert: "alice-upn", Enforcement: full, WantErr: mapping.ErrWeakMapping},
	{Name: "enforcement/full-refuses-weak-altsec", Cert: "carol-is", Enforcement: full, WantErr: mapping.ErrWeakMapping},
	{Name: "enforcement/compat-accepts-newer-cert", Cert: "alice-upn", Enforcement: compat, Want: "alice", WantMethod: mapping.MethodUPN},
	{Name: "enforcement/compat-refuses-cert-predating-account", Cert: "alice-upn-old", Enforcement: compat, WantErr: mapping.ErrCertPredatesAccount},
	{Name: "enforcement/compat-refuses-old-weak-altsec", Cert: "carol-mail-old", Enforcement: compat, WantErr: mapping.ErrCertPredatesAccount},
	{Name: "enforcement/compat-backdating-allowance", Cert: "alice-upn-backdated", Enforcement: compat, Want: "alice", WantMethod: mapping.MethodUPN},
	{Name: "enforcement/compat-strong-old-cert", Cert: "bob-sr", Enforcement: compat, Want: "bob", WantMethod: mapping.MethodAltSecID, WantStrong: true, WantForm: mapping.KindIssuerSerial},
	{Name: "enforcement/off-accepts-old-cert", Cert: "alice-upn-old", Enforcement: off, Want: "alice", WantMethod: mapping.MethodUPN},
	{Name: "enforcement/sid-from-untrusted-ca-ignored", Cert: "alice-sid-untrusted", Enforcement: full, WantErr: mapping.ErrWeakMapping},
	{Name: "enforcement/sid-names-other-account", Cert: "alice-upn-bob-sid", Enforcement: compat, WantErr: mapping.ErrSIDMismatch},
	{Name: "enforcement/sid-names-no-account", Cert: "alice-upn-ghost-sid", Enforcement: full, WantErr: mapping.ErrSIDMismatch},
	{Name: "enforcement/off-ignores-sid", Cert: "alice-upn-bob-sid", Enforcement: off, Want: "alice", WantMethod: mapping.MethodUPN},

	// Account state.
	{Name: "state/disabled", Cert: "gina", Enforcement: full, WantErr: mapping.ErrAccountDisabled},
	{Name: "state/expired", Cert: "hank", Enforcement: full, WantErr: mapping.ErrAccountExpired},

	// Injection: values from the certificate and the request are data.
	{Name: "inject/upn-star", Cert: "inject-upn-star", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/upn-or", Cert: "inject-upn-or", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/upn-uid", Cert: "inject-upn-uid", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/upn-escaped", Cert: "inject-upn-escaped", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/upn-nul", Cert: "inject-upn-nul", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/subject", Cert: "inject-subject", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/subject-escape", Cert: "inject-subject-escape", Enforcement: off, WantErr: mapping.ErrNoMapping},
	{Name: "inject/hint-uid", Cert: "shared", Hint: mapping.Hint{Name: "*)(uid=*"}, WantErr: mapping.ErrNoMapping},
	{Name: "inject/hint-escaped", Cert: "shared", Hint: mapping.Hint{Name: `\2a`}, WantErr: mapping.ErrNoMapping},
	{Name: "inject/hint-nul", Cert: "shared", Hint: mapping.Hint{Name: "dave\x00"}, WantErr: mapping.ErrNoMapping},
	{Name: "inject/hint-star-is-literal", Cert: "shared", Hint: mapping.Hint{Name: "*"}, WantErr: mapping.ErrNameMismatch},
}

// Run runs every case over dir.
func Run(t *testing.T, f *Fixture, dir mapping.Directory) {
	for _, tc := range Cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, ok := f.Certs[tc.Cert]
			if !ok {
				t.Fatalf("no fixture certificate %q", tc.Cert)
			}
			m := mapping.New(dir, mapping.Policy{Enforcement: tc.Enforcement, SIDTrustedCAs: []*x509.Certificate{f.CA}},
				mapping.Options{Now: func() time.Time { return Now }})
			res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer, Hint: tc.Hint})
			if tc.WantErr != nil {
				if !errors.Is(err, tc.WantErr) {
					t.Fatalf("Map: err = %v, want %v", err, tc.WantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			a := res.Account
			if a.SAMAccountName != tc.Want {
				t.Fatalf("mapped to %q (%s), want %q", a.SAMAccountName, a.DN, tc.Want)
			}
			if res.Method != tc.WantMethod || res.Strong != tc.WantStrong {
				t.Errorf("method %v strong %v, want %v %v", res.Method, res.Strong, tc.WantMethod, tc.WantStrong)
			}
			if tc.WantForm != 0 && (res.AltSecID == nil || res.AltSecID.Kind != tc.WantForm) {
				t.Errorf("form %v, want %v", res.AltSecID, tc.WantForm)
			}
			if tc.WantGroups != nil {
				got := slices.Clone(a.GroupSIDs)
				slices.SortFunc(got, func(x, y certs.SID) int { return strings.Compare(x.String(), y.String()) })
				if !slices.Equal(got, tc.WantGroups) {
					t.Errorf("groups %v, want %v", got, tc.WantGroups)
				}
			}
		})
	}
	t.Run("state/account-fields", func(t *testing.T) {
		c := f.Certs["alice-sid"]
		m := mapping.New(dir, mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.CA}}, mapping.Options{Now: func() time.Time { return Now }})
		res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
		if err != nil {
			t.Fatal(err)
		}
		a := res.Account
		if a.SID != SID(1101) || a.PrimaryGroupSID != SID(513) || a.UPN != "alice@example.com" ||
			!a.SmartcardRequired || a.Disabled || !a.Created.Equal(accountCreated) || !a.Expires.IsZero() {
			t.Errorf("account = %+v", a)
		}
	})
}
