package harness

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// adSchema is the Active Directory subset (AD's own OIDs) the directory tests use.
//
//go:embed schema/ad-mini.ldif
var adSchema []byte

// keysSchema holds the realm keys a KDC keeps in the directory (kdc.LDAPKeys).
//
//go:embed schema/sclogon-keys.ldif
var keysSchema []byte

// SlapdConfig describes a private directory.
type SlapdConfig struct {
	// Suffix is the naming context; default "dc=example,dc=com". Its entry is
	// created by the harness.
	Suffix string
	// LDIF holds the entries below the suffix, loaded with slapadd before slapd
	// starts.
	LDIF string
	// Indexes are extra equality indexes: objectClass, member and the
	// attributes the mapper searches by are always indexed.
	Indexes []string
}

// baseIndexes are the equality indexes of every private slapd: those
// Debian's package configures that the AD mini schema has (objectClass,
// member), and the attributes the mapper searches accounts by.
//
// Like Debian's package, the harness also sets olcLogLevel to none: slapd's
// default, stats, logs several lines per operation to syslog, and where
// /dev/log is missing (containers, CI) glibc opens and fails to connect a
// socket for each line, which made a benchmarked slapd spend more CPU on
// logging than on searching.
var baseIndexes = []string{"objectClass eq", "member eq", "userPrincipalName eq", "sAMAccountName eq", "altSecurityIdentities eq", "objectSid eq"}

// LDAP is a running private slapd.
type LDAP struct {
	URL      string // ldap://127.0.0.1:PORT
	Addr     string // 127.0.0.1:PORT
	BindDN   string // the database's root DN
	Password string
	Suffix   string
	Dir      string

	cfg  SlapdConfig
	proc *Process
	tb   testing.TB
}

// StartSlapd starts OpenLDAP's slapd on a free loopback port with the AD mini
// schema and cfg's entries.
func StartSlapd(tb testing.TB, cfg SlapdConfig) *LDAP {
	tb.Helper()
	slapadd := Require(tb, "slapadd", "slapd")
	Require(tb, "slapd", "slapd")
	if cfg.Suffix == "" {
		cfg.Suffix = "dc=example,dc=com"
	}
	dir := tb.TempDir()
	for _, d := range []string{"slapd.d", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			tb.Fatalf("harness: %v", err)
		}
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	l := &LDAP{
		BindDN:   "cn=admin," + cfg.Suffix,
		Password: hex.EncodeToString(pw),
		Suffix:   cfg.Suffix,
		Dir:      dir,
		cfg:      cfg,
		tb:       tb,
	}
	schemaPath := filepath.Join(dir, "ad-mini.ldif")
	writeFile(tb, schemaPath, adSchema, 0o600)
	writeFile(tb, filepath.Join(dir, "sclogon-keys.ldif"), keysSchema, 0o600)
	configPath := filepath.Join(dir, "config.ldif")
	writeFile(tb, configPath, []byte(l.configLDIF(schemaPath)), 0o600)
	dataPath := filepath.Join(dir, "data.ldif")
	writeFile(tb, dataPath, []byte(l.baseLDIF()+"\n"+cfg.LDIF), 0o600)

	Run(tb, exec.Command(slapadd, "-n0", "-F", filepath.Join(dir, "slapd.d"), "-l", configPath))
	Run(tb, exec.Command(slapadd, "-n1", "-F", filepath.Join(dir, "slapd.d"), "-l", dataPath, "-q"))
	l.start(FreePort(tb))
	return l
}

func (l *LDAP) start(port int) {
	tb := l.tb
	tb.Helper()
	l.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	l.URL = "ldap://" + l.Addr + "/"
	slapd, _ := lookPath("slapd")
	// -d 0 keeps slapd in the foreground; as root it runs without -u.
	l.proc = Start(tb, "slapd", exec.Command(slapd, "-F", filepath.Join(l.Dir, "slapd.d"), "-h", l.URL, "-d", "0"))
	WaitFor(tb, l.proc, 10*time.Second, TCPReady(l.Addr))
}

// Process is the running slapd.
func (l *LDAP) Process() *Process { return l.proc }

// Kill stops slapd abruptly, as a crash would.
func (l *LDAP) Kill() { l.proc.Kill() }

// Restart starts slapd again on the same port and data after [LDAP.Kill].
func (l *LDAP) Restart() {
	l.tb.Helper()
	var port int
	if _, err := fmt.Sscanf(l.Addr, "127.0.0.1:%d", &port); err != nil {
		l.tb.Fatalf("harness: %v", err)
	}
	l.start(port)
}

func (l *LDAP) configLDIF(schemaPath string) string {
	indexes := slices.Clone(baseIndexes)
	for _, ix := range l.cfg.Indexes {
		if !slices.Contains(indexes, ix) {
			indexes = append(indexes, ix)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file://%[2]s

include: file://%[1]s/sclogon-keys.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: %[1]s/data
olcDbMaxSize: 67108864
olcSuffix: %[3]s
olcRootDN: %[4]s
olcRootPW: %[5]s
olcAccess: {0}to * by * read
`, l.Dir, schemaPath, l.Suffix, l.BindDN, l.Password)
	for _, ix := range indexes {
		fmt.Fprintf(&b, "olcDbIndex: %s\n", ix)
	}
	return b.String()
}

// baseLDIF is the suffix entry: dcObject for dc= suffixes, else an organization.
func (l *LDAP) baseLDIF() string {
	rdn, _, _ := strings.Cut(l.Suffix, ",")
	attr, val, _ := strings.Cut(rdn, "=")
	if strings.EqualFold(attr, "dc") {
		return fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n", l.Suffix, val, val)
	}
	return fmt.Sprintf("dn: %s\nobjectClass: organization\no: %s\n", l.Suffix, val)
}
