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

// MITClientConfig is the private krb5.conf of an MIT client (kinit, klist, kvno).
type MITClientConfig struct {
	Realm string
	// KDCs are host:port addresses, tried in order.
	KDCs []string
	// AnchorsPEM are the CA certificates the client trusts for the KDC's
	// PKINIT certificate (pkinit_anchors).
	AnchorsPEM []byte
	// KDCHostname is pkinit_kdc_hostname: accept a KDC certificate whose dNSName
	// is this instead of the krbtgt SAN.
	KDCHostname string
	// EKUChecking is pkinit_eku_checking (kpKDC, kpServerAuth, none).
	EKUChecking string
	// Libdefaults and Realm are extra "key = value" lines for [libdefaults] and
	// for the realm's block.
	Libdefaults []string
	RealmLines  []string
}

// MITClient runs MIT's client tools with a private configuration and ccache.
type MITClient struct {
	clientFiles // Trace is KRB5_TRACE's output
}

// clientFiles are where a client's tools keep their private state.
type clientFiles struct {
	Dir    string
	Config string // the krb5.conf path
	CCache string // FILE ccache path (KRB5CCNAME)
	Trace  string // the trace or debug log, printed when the test fails
	Realm  string
}

func newClientFiles(dir, realm string) clientFiles {
	return clientFiles{Dir: dir, Config: filepath.Join(dir, "krb5.conf"), CCache: filepath.Join(dir, "ccache"),
		Trace: filepath.Join(dir, "trace.log"), Realm: realm}
}

// kdcAndAnchorLines are a realm block's kdc lines and its pkinit_anchors,
// written beside the configuration in dir.
func kdcAndAnchorLines(tb testing.TB, dir string, kdcs []string, anchorsPEM []byte) []string {
	var realm []string
	for _, k := range kdcs {
		realm = append(realm, "kdc = "+k)
	}
	if len(anchorsPEM) > 0 {
		p := filepath.Join(dir, "anchors.pem")
		writeFile(tb, p, anchorsPEM, 0o644)
		realm = append(realm, "pkinit_anchors = FILE:"+p)
	}
	return realm
}

// NewMITClient writes a private krb5.conf for cfg.
func NewMITClient(tb testing.TB, cfg MITClientConfig) *MITClient {
	tb.Helper()
	dir := tb.TempDir()
	c := &MITClient{clientFiles: newClientFiles(dir, cfg.Realm)}
	realm := kdcAndAnchorLines(tb, dir, cfg.KDCs, cfg.AnchorsPEM)
	if cfg.KDCHostname != "" {
		realm = append(realm, "pkinit_kdc_hostname = "+cfg.KDCHostname)
	}
	if cfg.EKUChecking != "" {
		realm = append(realm, "pkinit_eku_checking = "+cfg.EKUChecking)
	}
	realm = append(realm, cfg.RealmLines...)
	libdefaults := append([]string{
		"default_realm = " + cfg.Realm,
		"dns_lookup_kdc = false",
		"dns_lookup_realm = false",
		"rdns = false",
		"udp_preference_limit = 1", // PKINIT requests are large: TCP first
	}, cfg.Libdefaults...)
	conf := fmt.Sprintf("[libdefaults]\n  %s\n\n[realms]\n  %s = {\n    %s\n  }\n",
		strings.Join(libdefaults, "\n  "), cfg.Realm, strings.Join(realm, "\n    "))
	writeFile(tb, c.Config, []byte(conf), 0o644)
	tb.Cleanup(func() {
		if tb.Failed() {
			if b, err := os.ReadFile(c.Trace); err == nil && len(b) > 0 {
				tb.Logf("harness: MIT client trace (KRB5_TRACE):\n%s", b)
			}
		}
	})
	return c
}

// Env is the environment MIT's tools need to use this client's configuration.
func (c *MITClient) Env() []string {
	return append(os.Environ(),
		"KRB5_CONFIG="+c.Config,
		"KRB5CCNAME=FILE:"+c.CCache,
		"KRB5_TRACE="+c.Trace,
	)
}

// Command prepares an MIT client tool (kinit, klist, kvno, kdestroy) with this
// client's environment. Run it with [Run] or [RunErr].
func (c *MITClient) Command(tb testing.TB, program string, args ...string) *exec.Cmd {
	tb.Helper()
	path := Require(tb, program, "krb5-user")
	cmd := exec.Command(path, args...)
	cmd.Env = c.Env()
	cmd.Dir = c.Dir
	return cmd
}

// MITKDCConfig describes a private MIT realm with PKINIT.
type MITKDCConfig struct {
	Realm string
	// KDCCertPEM and KDCKeyPEM are the KDC's PKINIT identity; AnchorsPEM the CAs
	// it trusts for client certificates.
	KDCCertPEM, KDCKeyPEM, AnchorsPEM []byte
	// Principals are kadmin addprinc arguments, one principal each, e.g.
	// "+requires_preauth -nokey alice" or "-randkey host/client.example.com".
	Principals []string
	// EKUChecking is the realm's pkinit_eku_checking (default kpClientAuth).
	EKUChecking string
	// RealmLines are extra kdc.conf lines for the realm's block.
	RealmLines []string
}

// MITKDC is a running MIT krb5kdc.
type MITKDC struct {
	Realm string
	Addr  string // 127.0.0.1:PORT, UDP and TCP
	Dir   string

	env  []string
	proc *Process
}

// StartMITKDC creates a realm database, adds cfg's principals and starts krb5kdc
// on a free loopback port (UDP and TCP).
func StartMITKDC(tb testing.TB, cfg MITKDCConfig) *MITKDC {
	tb.Helper()
	kdb5 := Require(tb, "kdb5_util", "krb5-kdc")
	krb5kdc := Require(tb, "krb5kdc", "krb5-kdc")
	if len(cfg.KDCCertPEM) > 0 {
		if m, _ := filepath.Glob("/usr/lib/*/krb5/plugins/preauth/pkinit.so"); len(m) == 0 {
			Missing(tb, "harness: MIT's PKINIT plugin is missing: install the Debian package krb5-pkinit")
		}
	}
	dir := tb.TempDir()
	port := FreePort(tb)
	k := &MITKDC{Realm: cfg.Realm, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}

	realm := []string{
		"database_name = " + filepath.Join(dir, "principal"),
		"key_stash_file = " + filepath.Join(dir, "stash"),
		"acl_file = " + filepath.Join(dir, "kadm5.acl"),
		"supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal",
		"max_life = 10h",
		"max_renewable_life = 7d",
	}
	if len(cfg.KDCCertPEM) > 0 {
		cert, key, anchors := filepath.Join(dir, "kdc.pem"), filepath.Join(dir, "kdc.key"), filepath.Join(dir, "anchors.pem")
		writeFile(tb, cert, cfg.KDCCertPEM, 0o644)
		writeFile(tb, key, cfg.KDCKeyPEM, 0o600)
		writeFile(tb, anchors, cfg.AnchorsPEM, 0o644)
		eku := cfg.EKUChecking
		if eku == "" {
			eku = "kpClientAuth"
		}
		realm = append(realm,
			"pkinit_identity = FILE:"+cert+","+key,
			"pkinit_anchors = FILE:"+anchors,
			"pkinit_eku_checking = "+eku,
			"pkinit_allow_upn = true",
		)
	}
	realm = append(realm, cfg.RealmLines...)
	kdcConf := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[1]s
  kdc_tcp_listen = %[1]s

[realms]
  %[2]s = {
    %[3]s
  }

[logging]
  kdc = STDERR
`, k.Addr, cfg.Realm, strings.Join(realm, "\n    "))
	writeFile(tb, filepath.Join(dir, "kdc.conf"), []byte(kdcConf), 0o600)
	writeFile(tb, filepath.Join(dir, "kadm5.acl"), nil, 0o600)
	krb5Conf := fmt.Sprintf("[libdefaults]\n  default_realm = %[1]s\n\n[realms]\n  %[1]s = {\n    kdc = %[2]s\n  }\n", cfg.Realm, k.Addr)
	writeFile(tb, filepath.Join(dir, "krb5.conf"), []byte(krb5Conf), 0o644)
	k.env = append(os.Environ(),
		"KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"),
		"KRB5_KDC_PROFILE="+filepath.Join(dir, "kdc.conf"),
	)

	create := exec.Command(kdb5, "create", "-r", cfg.Realm, "-s", "-P", "harness-master-key", "-W")
	create.Env = k.env
	Run(tb, create)
	if len(cfg.Principals) > 0 {
		k.kadmin(tb, cfg.Principals)
	}

	cmd := exec.Command(krb5kdc, "-n", "-r", cfg.Realm)
	cmd.Env = k.env
	k.proc = Start(tb, "krb5kdc", cmd)
	WaitFor(tb, k.proc, 10*time.Second, TCPReady(k.Addr))
	return k
}

// AddPrincipal runs kadmin's addprinc with args, e.g. "-randkey host/x".
func (k *MITKDC) AddPrincipal(tb testing.TB, args string) {
	tb.Helper()
	k.kadmin(tb, []string{args})
}

// Keytab exports principal's keys to a new keytab file and returns its path.
func (k *MITKDC) Keytab(tb testing.TB, principal string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "krb5.keytab")
	k.kadminQuery(tb, fmt.Sprintf("ktadd -k %s -norandkey %s", path, principal))
	return path
}

func (k *MITKDC) kadmin(tb testing.TB, principals []string) {
	tb.Helper()
	for _, p := range principals {
		k.kadminQuery(tb, "addprinc "+p)
	}
}

func (k *MITKDC) kadminQuery(tb testing.TB, query string) {
	tb.Helper()
	kadmin := Require(tb, "kadmin.local", "krb5-admin-server")
	cmd := exec.Command(kadmin, "-r", k.Realm, "-q", query)
	cmd.Env = k.env
	out := Run(tb, cmd)
	// kadmin.local reports many failures on stderr yet exits 0.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "while ") || strings.HasPrefix(line, "kadmin.local: ") && !strings.Contains(line, "Authenticating") {
			tb.Fatalf("harness: kadmin.local %q: %s", query, out)
		}
	}
}

// Process is the running krb5kdc.
func (k *MITKDC) Process() *Process { return k.proc }

// Client returns an MIT client configured for this KDC.
func (k *MITKDC) Client(tb testing.TB, cfg MITClientConfig) *MITClient {
	tb.Helper()
	cfg.Realm = k.Realm
	cfg.KDCs = []string{k.Addr}
	return NewMITClient(tb, cfg)
}
