package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HeimdalDir is where integration/setup unpacks Heimdal's client and KDC
// packages: they conflict with MIT's, so they are not installed, only their
// lib*-heimdal libraries are.
const HeimdalDir = "/usr/local/lib/sclogon/heimdal"

// Heimdal's programs, relative to [HeimdalDir], and the Debian package of each.
var heimdalPrograms = map[string]struct{ path, pkg string }{
	"kinit":     {"usr/bin/kinit.heimdal", "heimdal-clients"},
	"kgetcred":  {"usr/bin/kgetcred", "heimdal-clients"},
	"heimtools": {"usr/bin/heimtools", "heimdal-clients"},
	"kdestroy":  {"usr/bin/kdestroy.heimdal", "heimdal-clients"},
	"kadmin":    {"usr/bin/kadmin.heimdal", "heimdal-clients"},
	"kdc":       {"usr/lib/heimdal-servers/kdc", "heimdal-kdc"},
}

// Heimdal's shared libraries, which integration/setup installs normally.
var heimdalLibraries = map[string]string{
	"libkrb5.so.26": "libkrb5-26-heimdal",
	"libhx509.so.5": "libhx509-5-heimdal",
	"libkdc.so.2":   "libkdc2-heimdal",
	"libhdb.so.9":   "libhdb9-heimdal",
}

// HeimdalRoot returns [HeimdalDir] if Heimdal's client tools and KDC are
// unpacked there and their libraries installed, or ends the test as [Missing]
// does: a failure under CI=true, a skip elsewhere, naming integration/setup.
func HeimdalRoot(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"kinit", "kdc"} {
		heimdalProgram(tb, name)
	}
	return HeimdalDir
}

// heimdalProgram returns the path of one of Heimdal's programs (a key of
// heimdalPrograms), or ends the test as [Missing] does.
func heimdalProgram(tb testing.TB, name string) string {
	tb.Helper()
	prog, ok := heimdalPrograms[name]
	if !ok {
		tb.Fatalf("harness: no Heimdal program %q", name)
	}
	path := filepath.Join(HeimdalDir, prog.path)
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		Missing(tb, fmt.Sprintf("harness: Heimdal's %s is not at %s: run integration/setup, which unpacks the Debian package %s there (it conflicts with MIT's packages, so it is not installed)", name, path, prog.pkg))
	}
	for lib, pkg := range heimdalLibraries {
		if m, _ := filepath.Glob("/usr/lib/*/" + lib); len(m) == 0 {
			Missing(tb, fmt.Sprintf("harness: Heimdal's %s is missing: run integration/setup, which installs the Debian package %s", lib, pkg))
		}
	}
	return path
}

// HeimdalClientConfig is the private krb5.conf of a Heimdal client.
type HeimdalClientConfig struct {
	Realm string
	// KDCs are host:port addresses, tried in order.
	KDCs []string
	// AnchorsPEM are the CA certificates the client trusts for the KDC's
	// PKINIT certificate (pkinit_anchors).
	AnchorsPEM []byte
	// DHMinBits is [libdefaults] pkinit_dh_min_bits. Zero keeps Heimdal's
	// default, which offers the 1024-bit MODP group 2; 1536 selects group 14,
	// and 1760 or more fails in the client (Heimdal 7.8 has no larger group).
	DHMinBits int
	// Libdefaults and RealmLines are extra "key = value" lines for
	// [libdefaults] and for the realm's block.
	Libdefaults []string
	RealmLines  []string
}

// HeimdalClient runs Heimdal's client tools with a private configuration and
// ccache.
type HeimdalClient struct {
	clientFiles // Trace is the library's debug log ([logging] krb5)
}

// NewHeimdalClient writes a private krb5.conf for cfg.
func NewHeimdalClient(tb testing.TB, cfg HeimdalClientConfig) *HeimdalClient {
	tb.Helper()
	dir := tb.TempDir()
	c := &HeimdalClient{clientFiles: newClientFiles(dir, cfg.Realm)}
	realm := kdcAndAnchorLines(tb, dir, cfg.KDCs, cfg.AnchorsPEM)
	realm = append(realm, cfg.RealmLines...)
	libdefaults := []string{
		"default_realm = " + cfg.Realm,
		"dns_lookup_kdc = false",
		"dns_lookup_realm = false",
	}
	if cfg.DHMinBits != 0 {
		libdefaults = append(libdefaults, fmt.Sprintf("pkinit_dh_min_bits = %d", cfg.DHMinBits))
	}
	libdefaults = append(libdefaults, cfg.Libdefaults...)
	// Heimdal has no KRB5_TRACE; its library logs every step to [logging] krb5.
	conf := fmt.Sprintf("[libdefaults]\n  %s\n\n[realms]\n  %s = {\n    %s\n  }\n\n[logging]\n  krb5 = 0-/FILE:%s\n",
		strings.Join(libdefaults, "\n  "), cfg.Realm, strings.Join(realm, "\n    "), c.Trace)
	writeFile(tb, c.Config, []byte(conf), 0o644)
	tb.Cleanup(func() {
		if tb.Failed() {
			if b, err := os.ReadFile(c.Trace); err == nil && len(b) > 0 {
				tb.Logf("harness: Heimdal client log (%s):\n%s", c.Trace, b)
			}
		}
	})
	return c
}

// Env is the environment Heimdal's tools need to use this client's
// configuration and ccache.
func (c *HeimdalClient) Env() []string {
	return append(os.Environ(),
		"KRB5_CONFIG="+c.Config,
		"KRB5CCNAME=FILE:"+c.CCache,
	)
}

// Command prepares one of Heimdal's client tools with this client's
// environment: "kinit" (kinit.heimdal), "kgetcred", "klist" (heimtools klist:
// Heimdal's klist.heimdal only prints its usage), "kdestroy" or "heimtools".
// Run it with [Run] or [RunErr]. Its stdin is empty, so a tool that falls back
// to a password prompt reads end-of-file instead of waiting.
func (c *HeimdalClient) Command(tb testing.TB, program string, args ...string) *exec.Cmd {
	tb.Helper()
	if program == "klist" {
		program, args = "heimtools", append([]string{"klist"}, args...)
	}
	cmd := exec.Command(heimdalProgram(tb, program), args...)
	cmd.Env = c.Env()
	cmd.Dir = c.Dir
	return cmd
}

// Kinit prepares kinit.heimdal for principal with a FILE identity
// (--pk-user=FILE:cert,key); extra flags such as --pk-use-enckey go before
// the principal.
func (c *HeimdalClient) Kinit(tb testing.TB, certPath, keyPath, principal string, extra ...string) *exec.Cmd {
	tb.Helper()
	args := append([]string{"--pk-user=FILE:" + certPath + "," + keyPath}, extra...)
	return c.Command(tb, "kinit", append(args, principal)...)
}

// HeimdalKDCConfig describes a private Heimdal realm with PKINIT.
type HeimdalKDCConfig struct {
	Realm string
	// KDCCertPEM and KDCKeyPEM are the KDC's PKINIT identity (the certificate
	// file may hold its chain); AnchorsPEM the CAs it trusts for client
	// certificates. Heimdal maps a client certificate to a principal by its
	// id-pkinit-san.
	KDCCertPEM, KDCKeyPEM, AnchorsPEM []byte
	// Principals are added with random keys, e.g. "alice" or
	// "host/svc.example.com"; the realm is appended when absent.
	Principals []string
	// DHMinBits is [kdc] pkinit_dh_min_bits. Zero keeps Heimdal's default.
	// Heimdal rates MODP group 14 at 1760 bits, so more than 1760 refuses
	// every DH request.
	DHMinBits int
	// KDCLines are extra lines for the [kdc] section.
	KDCLines []string
}

// HeimdalKDC is a running Heimdal KDC.
type HeimdalKDC struct {
	Realm string
	Addr  string // 127.0.0.1:PORT, UDP and TCP
	Dir   string

	env  []string
	proc *Process
}

// StartHeimdalKDC creates a realm database with kadmin.heimdal -l, adds cfg's
// principals and starts Heimdal's kdc on a free loopback port (UDP and TCP).
func StartHeimdalKDC(tb testing.TB, cfg HeimdalKDCConfig) *HeimdalKDC {
	tb.Helper()
	kdcBin := heimdalProgram(tb, "kdc")
	heimdalProgram(tb, "kadmin")
	dir := tb.TempDir()
	port := FreePort(tb)
	k := &HeimdalKDC{Realm: cfg.Realm, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}

	kdcLines := []string{
		// Without log_file, kadmin -l writes to /var/lib/heimdal-kdc/log.
		"database = {",
		"  dbname = " + filepath.Join(dir, "heimdal"),
		"  mkey_file = " + filepath.Join(dir, "m-key"),
		"  log_file = " + filepath.Join(dir, "kadmin.log"),
		"  acl_file = " + filepath.Join(dir, "kadmind.acl"),
		"}",
		// One worker: the master forks this many, and a test needs no more.
		"num-kdc-processes = 1",
	}
	if len(cfg.KDCCertPEM) > 0 {
		cert, key, anchors := filepath.Join(dir, "kdc.pem"), filepath.Join(dir, "kdc.key"), filepath.Join(dir, "anchors.pem")
		writeFile(tb, cert, cfg.KDCCertPEM, 0o644)
		writeFile(tb, key, cfg.KDCKeyPEM, 0o600)
		writeFile(tb, anchors, cfg.AnchorsPEM, 0o644)
		kdcLines = append(kdcLines,
			"enable-pkinit = yes",
			"pkinit_identity = FILE:"+cert+","+key,
			"pkinit_anchors = FILE:"+anchors,
		)
	}
	if cfg.DHMinBits != 0 {
		kdcLines = append(kdcLines, fmt.Sprintf("pkinit_dh_min_bits = %d", cfg.DHMinBits))
	}
	kdcLines = append(kdcLines, cfg.KDCLines...)
	conf := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false

[realms]
  %[1]s = {
    kdc = %[2]s
  }

[kdc]
  %[3]s

[logging]
  kdc = STDERR
`, cfg.Realm, k.Addr, strings.Join(kdcLines, "\n  "))
	config := filepath.Join(dir, "krb5.conf")
	writeFile(tb, config, []byte(conf), 0o600)
	writeFile(tb, filepath.Join(dir, "kadmind.acl"), nil, 0o600)
	k.env = append(os.Environ(), "KRB5_CONFIG="+config)

	k.kadmin(tb, "init", "--realm-max-ticket-life=unlimited", "--realm-max-renewable-life=unlimited", cfg.Realm)
	for _, p := range cfg.Principals {
		k.AddPrincipal(tb, p)
	}

	cmd := exec.Command(kdcBin, "--config-file="+config, "--addresses=127.0.0.1", fmt.Sprintf("--ports=%d", port))
	cmd.Env = k.env
	cmd.Dir = dir
	k.proc = Start(tb, "heimdal-kdc", cmd)
	WaitFor(tb, k.proc, 10*time.Second, TCPReady(k.Addr))
	return k
}

// AddPrincipal adds principal with a random key ("host/x"; the realm is
// appended when absent).
func (k *HeimdalKDC) AddPrincipal(tb testing.TB, principal string) {
	tb.Helper()
	k.kadmin(tb, "add", "--random-key", "--use-defaults", k.qualify(principal))
}

// Keytab exports principal's keys to a new keytab file and returns its path.
func (k *HeimdalKDC) Keytab(tb testing.TB, principal string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "krb5.keytab")
	k.kadmin(tb, "ext_keytab", "--keytab=FILE:"+path, k.qualify(principal))
	return path
}

func (k *HeimdalKDC) qualify(principal string) string {
	if strings.Contains(principal, "@") {
		return principal
	}
	return principal + "@" + k.Realm
}

// kadmin runs one kadmin.heimdal -l command on the realm's database.
func (k *HeimdalKDC) kadmin(tb testing.TB, args ...string) {
	tb.Helper()
	cmd := exec.Command(heimdalProgram(tb, "kadmin"), append([]string{"-l"}, args...)...)
	cmd.Env = k.env
	cmd.Dir = k.Dir
	Run(tb, cmd)
}

// Process is the running kdc (the master; its worker is in its process group).
func (k *HeimdalKDC) Process() *Process { return k.proc }

// Client returns a Heimdal client configured for this KDC.
func (k *HeimdalKDC) Client(tb testing.TB, cfg HeimdalClientConfig) *HeimdalClient {
	tb.Helper()
	cfg.Realm = k.Realm
	cfg.KDCs = []string{k.Addr}
	return NewHeimdalClient(tb, cfg)
}
