package harness

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SambaConfig describes a private Samba AD domain controller with PKINIT.
type SambaConfig struct {
	// Realm is the Kerberos realm, e.g. "SAMBA.EXAMPLE.COM"; the AD DNS domain
	// is its lower case.
	Realm string
	// Domain is the NetBIOS domain name; default the realm's first label.
	Domain string
	// Hostname is the DC's short host name; default "dc1". [SambaConfig.FQDN]
	// is the name to put in the KDC certificate's dNSName.
	Hostname string

	// KDCCertPEM and KDCKeyPEM are the KDC's PKINIT identity (EKU
	// id-pkinit-KPKdc, SAN krbtgt/REALM@REALM); AnchorsPEM the CAs it trusts
	// for client certificates.
	KDCCertPEM, KDCKeyPEM, AnchorsPEM []byte
	// NTAuthPEM are the CA certificates published in the forest's NTAuth
	// store (CN=NTAuthCertificates); default AnchorsPEM.
	NTAuthPEM []byte
	// KDCLines are extra "key = value" lines for the [kdc] section of the
	// DC's krb5.conf.
	KDCLines []string

	// Users are created before the DC starts; [SambaDC.AddUser] adds more.
	Users []SambaUser

	// LDAP runs the DC's LDAP server too, on port 389 of its address, for
	// simple binds without TLS (the namespace is reachable from the host
	// alone): [SambaDC.LDAPURL], [SambaDC.BindDN] and [SambaDC.Password].
	LDAP bool
}

// SambaUser is an account created with samba-tool and then edited in sam.ldb.
type SambaUser struct {
	Name string // sAMAccountName
	// UPN replaces the userPrincipalName samba-tool sets (NAME@dns.domain).
	UPN string
	// AltSecurityIdentities are explicit certificate mappings, e.g.
	// "X509:<I>CN=Test CA<SR>0a1b", in AD's syntax.
	AltSecurityIdentities []string
	// SPNs are servicePrincipalName values, e.g. "host/svc.samba.example.com".
	SPNs []string
}

// DNSDomain is the AD DNS domain: the realm in lower case.
func (c SambaConfig) DNSDomain() string { return strings.ToLower(c.Realm) }

// FQDN is the DC's host name in the AD DNS domain.
func (c SambaConfig) FQDN() string { return c.hostname() + "." + c.DNSDomain() }

func (c SambaConfig) hostname() string {
	if c.Hostname == "" {
		return "dc1"
	}
	return c.Hostname
}

func (c SambaConfig) domain() string {
	if c.Domain != "" {
		return c.Domain
	}
	first, _, _ := strings.Cut(c.Realm, ".")
	return strings.ToUpper(first)
}

// SambaDC is a running Samba AD DC. Its KDC listens on Addr, a veth address
// in a network namespace of its own; the host reaches it, nothing else does.
type SambaDC struct {
	Realm     string
	DNSDomain string
	FQDN      string
	BaseDN    string // DC=samba,DC=example,DC=com
	IP        string // the DC's veth address
	Addr      string // IP:88, UDP and TCP
	// LDAPURL is ldap://IP when SambaConfig.LDAP is set; BindDN and
	// Password are the domain Administrator's.
	LDAPURL          string
	BindDN, Password string
	Dir              string // smb.conf, private/, state/ … all of the DC's files
	Config           string // the smb.conf path
	Namespace        string // the network namespace, "sclogon-dc-PID"
	// Provisioned is how long samba-tool domain provision took.
	Provisioned time.Duration

	proc      *Process
	hostVeth  string
	closeOnce sync.Once
}

// StartSambaDC provisions an AD domain offline into a private directory
// (samba-tool domain provision), enables PKINIT in the DC's krb5.conf, puts
// cfg.NTAuthPEM in NTAuth, adds cfg.Users, and runs `samba -i` in a network
// namespace of its own, joined to the host by a veth pair with a /30 in
// 10.231.0.0/16. Provisioning takes about 10 s: packages share one DC with
// [SharedSambaDC]. The DC, its namespace and its files are removed when tb
// ends; its log is printed if tb failed.
func StartSambaDC(tb testing.TB, cfg SambaConfig) *SambaDC {
	tb.Helper()
	return startSambaDC(tb, cfg, false)
}

// SharedSambaDC is one DC for all the tests of a package: the first test to
// call Get provisions it, the others reuse it. Declare one as a package-level
// variable. Without [SharedSambaDC.Close] (from TestMain), the DC dies with
// the test binary (parent-death signal) and the next StartSambaDC on the
// machine removes its namespace and files.
type SharedSambaDC struct {
	once    sync.Once
	dc      *SambaDC
	failure string
	skipped bool
}

// Get returns the shared DC, provisioning it with config(tb) on the first
// call. If that failed or skipped, every later caller fails or skips alike.
// When tb fails, the DC's log lines written during tb are printed.
func (s *SharedSambaDC) Get(tb testing.TB, config func(testing.TB) SambaConfig) *SambaDC {
	tb.Helper()
	s.once.Do(func() {
		started := false
		defer func() {
			if !started {
				s.skipped = tb.Skipped()
				s.failure = fmt.Sprintf("harness: the shared Samba DC did not start in %s (see that test's output)", tb.Name())
			}
		}()
		s.dc = startSambaDC(tb, config(tb), true)
		started = true
	})
	if s.dc == nil {
		if s.skipped {
			tb.Skip(s.failure)
		}
		tb.Fatal(s.failure)
	}
	s.dc.logOnFailure(tb)
	return s.dc
}

// Close stops the shared DC and removes its namespace and files.
func (s *SharedSambaDC) Close() {
	if s.dc != nil {
		s.dc.Close()
	}
}

// sambaSeq numbers the DCs of one test binary, for unique namespace names.
var sambaSeq atomic.Int32

const (
	sambaNetnsPrefix = "sclogon-dc-"
	sambaDirPrefix   = "sclogon-samba-"
	sambaAdminPass   = "Harness-Admin-1!" // meets AD's default complexity rules
)

func startSambaDC(tb testing.TB, cfg SambaConfig, shared bool) *SambaDC {
	tb.Helper()
	const pkg = "samba samba-dsdb-modules samba-ad-provision samba-vfs-modules winbind ldb-tools"
	sambaBin := Require(tb, "samba", pkg)
	sambaTool := Require(tb, "samba-tool", pkg)
	Require(tb, "ldbmodify", "ldb-tools")
	ipBin := Require(tb, "ip", "iproute2")
	if cfg.Realm == "" {
		tb.Fatal("harness: SambaConfig.Realm is empty")
	}
	if os.Geteuid() != 0 {
		Missing(tb, "harness: a Samba DC needs root (network namespaces, port 88)")
	}
	removeStaleSambaDCs(ipBin)

	n := sambaSeq.Add(1) - 1
	pid := os.Getpid()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", sambaDirPrefix, pid))
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	ns := fmt.Sprintf("%s%d", sambaNetnsPrefix, pid)
	if n > 0 {
		ns += fmt.Sprintf("-%d", n)
	}
	dc := &SambaDC{
		Realm:     cfg.Realm,
		DNSDomain: cfg.DNSDomain(),
		FQDN:      cfg.FQDN(),
		BaseDN:    baseDN(cfg.DNSDomain()),
		Dir:       dir,
		Config:    filepath.Join(dir, "etc", "smb.conf"),
		Namespace: ns,
		hostVeth:  fmt.Sprintf("scl%dh%d", pid, n),
	}
	started := false
	tb.Cleanup(func() {
		if shared && !started && dc.proc != nil {
			dc.proc.Stop()
			tb.Logf("harness: samba (pid %d) %s; its output:\n%s", dc.proc.PID(), dc.proc.exitState(), dc.proc.Log())
		}
		if !shared || !started {
			dc.Close()
		}
	})

	hostIP, dcIP := dc.network(tb, ipBin, fmt.Sprintf("scl%dd%d", pid, n))
	dc.IP = dcIP.String()
	dc.Addr = net.JoinHostPort(dc.IP, "88")

	dc.provision(tb, sambaTool, cfg, hostIP)

	dc.writeKDCConfig(tb, cfg)
	ntauth := cfg.NTAuthPEM
	if ntauth == nil {
		ntauth = cfg.AnchorsPEM
	}
	if len(ntauth) > 0 {
		dc.SetNTAuth(tb, ntauth)
	}
	for _, u := range cfg.Users {
		dc.AddUser(tb, u)
	}

	dc.run(tb, cfg, exec.Command(ipBin, "netns", "exec", ns, sambaBin, "-i", "-M", "single", "-d", "3", "-s", dc.Config), shared)
	started = true
	return dc
}

// run starts cmd, samba in the DC's namespace, and waits until its KDC
// (and with cfg.LDAP its LDAP server) listens.
func (dc *SambaDC) run(tb testing.TB, cfg SambaConfig, cmd *exec.Cmd, shared bool) {
	tb.Helper()
	if cfg.LDAP {
		// Provisioning does not keep this option in smb.conf.
		cmd.Args = append(cmd.Args, "--option=ldap server require strong auth = no")
	}
	// ip netns exec execs samba in place: the PID, the process group and
	// the parent-death signal are samba's.
	if shared {
		dc.proc = launch(tb, "samba", cmd) // outlives the test that started it: the shared DC
	} else {
		dc.proc = Start(tb, "samba", cmd)
	}
	// The KDC opens its UDP and TCP sockets together.
	WaitFor(tb, dc.proc, 30*time.Second, TCPReady(dc.Addr))
	if cfg.LDAP {
		WaitFor(tb, dc.proc, 30*time.Second, TCPReady(net.JoinHostPort(dc.IP, "389")))
		dc.LDAPURL = "ldap://" + dc.IP
		dc.BindDN, dc.Password = "CN=Administrator,CN=Users,"+dc.BaseDN, sambaAdminPass
	}
}

// provision makes the domain offline with samba-tool, every path Samba
// writes inside dc.Dir, the KDC alone bound to the DC's address.
func (dc *SambaDC) provision(tb testing.TB, sambaTool string, cfg SambaConfig, hostIP net.IP) {
	tb.Helper()
	// Every path Samba writes is inside dir: --targetdir sets the private,
	// lock, state, cache and binddns dirs; the options set the rest.
	run := filepath.Join(dc.Dir, "run")
	for _, d := range []string{run, filepath.Join(dc.Dir, "pkinit")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatalf("harness: %v", err)
		}
	}
	args := []string{"domain", "provision",
		"--realm=" + cfg.Realm, "--domain=" + cfg.domain(), "--host-name=" + cfg.hostname(),
		"--host-ip=" + dc.IP,
		"--server-role=dc", "--dns-backend=SAMBA_INTERNAL", "--use-rfc2307",
		"--adminpass=" + sambaAdminPass, "--targetdir=" + dc.Dir,
		"--option=pid directory = " + run,
		"--option=ncalrpc dir = " + filepath.Join(run, "ncalrpc"),
		"--option=winbindd socket directory = " + filepath.Join(run, "winbindd"),
		"--option=ntp signd socket directory = " + filepath.Join(run, "ntp_signd"),
		"--option=log file = " + filepath.Join(dc.Dir, "log.%m"),
		"--option=interfaces = " + dc.IP + "/30",
		"--option=bind interfaces only = yes",
		"--option=dns forwarder = " + hostIP.String(), // never the host's resolver
	}
	if cfg.LDAP {
		args = append(args, "--option=server services = kdc, ldap")
	} else {
		args = append(args, "--option=server services = kdc") // KDC only: no SMB, DNS, LDAP, winbindd
	}
	t0 := time.Now()
	Run(tb, exec.Command(sambaTool, args...))
	dc.Provisioned = time.Since(t0)
}

// network creates the DC's namespace and a veth pair into it, with the
// first /30 of 10.231.0.0/16 (counting from one derived from our PID) that
// no host interface uses. It returns the host's and the DC's addresses.
func (dc *SambaDC) network(tb testing.TB, ipBin, dcVeth string) (hostIP, dcIP net.IP) {
	tb.Helper()
	ip := func(args ...string) { Run(tb, exec.Command(ipBin, args...)) }
	// A name left over by an earlier process with our PID is stale.
	_, _ = RunErr(exec.Command(ipBin, "netns", "delete", dc.Namespace))
	_, _ = RunErr(exec.Command(ipBin, "link", "delete", dc.hostVeth))
	ip("netns", "add", dc.Namespace)
	ip("link", "add", dc.hostVeth, "type", "veth", "peer", "name", dcVeth)
	ip("link", "set", dcVeth, "netns", dc.Namespace)

	used := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				used[n.IP.Mask(net.CIDRMask(30, 32)).String()] = true
			}
		}
	}
	const subnets = 1 << 14 // the /30s of 10.231.0.0/16
	start := (os.Getpid()*7 + int(sambaSeq.Load())) % subnets
	for i := range subnets {
		k := (start + i) % subnets
		base := net.IPv4(10, 231, byte(k>>6), byte(k&63)*4).To4()
		if used[base.String()] {
			continue
		}
		hostIP = net.IPv4(base[0], base[1], base[2], base[3]+1)
		dcIP = net.IPv4(base[0], base[1], base[2], base[3]+2)
		break
	}
	if dcIP == nil {
		tb.Fatal("harness: no free /30 in 10.231.0.0/16 for the Samba DC")
	}
	ip("addr", "add", hostIP.String()+"/30", "dev", dc.hostVeth)
	ip("link", "set", dc.hostVeth, "up")
	ip("-n", dc.Namespace, "addr", "add", dcIP.String()+"/30", "dev", dcVeth)
	ip("-n", dc.Namespace, "link", "set", dcVeth, "up")
	ip("-n", dc.Namespace, "link", "set", "lo", "up")
	return hostIP, dcIP
}

// writeKDCConfig writes the krb5.conf Samba's embedded Heimdal KDC reads: the
// one beside smb.conf (Samba prepends lpcfg_config_path("krb5.conf") to the
// default list; private/krb5.conf, which provision writes, is only a sample
// for clients).
func (dc *SambaDC) writeKDCConfig(tb testing.TB, cfg SambaConfig) {
	tb.Helper()
	kdc := []string{}
	if len(cfg.KDCCertPEM) > 0 {
		cert := filepath.Join(dc.Dir, "pkinit", "kdc.pem")
		key := filepath.Join(dc.Dir, "pkinit", "kdc.key")
		anchors := filepath.Join(dc.Dir, "pkinit", "anchors.pem")
		writeFile(tb, cert, cfg.KDCCertPEM, 0o644)
		writeFile(tb, key, cfg.KDCKeyPEM, 0o600)
		writeFile(tb, anchors, cfg.AnchorsPEM, 0o644)
		kdc = append(kdc,
			"enable-pkinit = true",
			"pkinit_identity = FILE:"+cert+","+key,
			"pkinit_anchors = FILE:"+anchors,
			// No pki-mapping file outside dir: Heimdal's default is in its
			// database directory.
			"pkinit_mappings_file = "+filepath.Join(dc.Dir, "pkinit", "pki-mapping"),
		)
		writeFile(tb, filepath.Join(dc.Dir, "pkinit", "pki-mapping"), nil, 0o644)
	}
	kdc = append(kdc, cfg.KDCLines...)
	conf := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_realm = false
	dns_lookup_kdc = false

[realms]
	%[1]s = {
		kdc = %[2]s
	}

[kdc]
	%[3]s
`, dc.Realm, dc.IP, strings.Join(kdc, "\n\t"))
	writeFile(tb, filepath.Join(filepath.Dir(dc.Config), "krb5.conf"), []byte(conf), 0o644)
}

// NTAuthDN is the forest's NTAuth store.
func (dc *SambaDC) NTAuthDN() string {
	return "CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration," + dc.BaseDN
}

// SetNTAuth replaces the CA certificates in NTAuth, as certutil -dspublish
// -f ca.cer NTAuthCA does on Windows; with no certificates it removes the
// NTAuth object.
func (dc *SambaDC) SetNTAuth(tb testing.TB, pemData []byte) {
	tb.Helper()
	ldbdel := Require(tb, "ldbdel", "ldb-tools")
	// Absent on a fresh domain: the error is expected then.
	_, _ = RunErr(exec.Command(ldbdel, "-H", filepath.Join(dc.Dir, "private", "sam.ldb"), dc.NTAuthDN()))
	if ldif := dc.ntauthLDIF(pemData); ldif != "" {
		dc.Modify(tb, ldif)
	}
}

func (dc *SambaDC) ntauthLDIF(pemData []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\n", dc.NTAuthDN())
	b.WriteString("changetype: add\nobjectClass: top\nobjectClass: certificationAuthority\ncn: NTAuthCertificates\n")
	n := 0
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			b.WriteString("cACertificate:: " + base64.StdEncoding.EncodeToString(block.Bytes) + "\n")
			n++
		}
	}
	if n == 0 {
		return ""
	}
	// Mandatory in AD's schema; Windows stores a single zero byte.
	b.WriteString("certificateRevocationList:: AA==\nauthorityRevocationList:: AA==\n")
	return b.String()
}

// AddUser creates u with a random password (samba-tool user add) and sets its
// UPN, altSecurityIdentities and SPNs. It works while the DC runs.
func (dc *SambaDC) AddUser(tb testing.TB, u SambaUser) {
	tb.Helper()
	sambaTool := Require(tb, "samba-tool", "samba")
	Run(tb, exec.Command(sambaTool, "user", "add", u.Name, "--random-password", "-s", dc.Config))
	var b strings.Builder
	fmt.Fprintf(&b, "dn: CN=%s,CN=Users,%s\nchangetype: modify\n", u.Name, dc.BaseDN)
	if u.UPN != "" {
		fmt.Fprintf(&b, "replace: userPrincipalName\nuserPrincipalName: %s\n-\n", u.UPN)
	}
	if len(u.AltSecurityIdentities) > 0 {
		b.WriteString("replace: altSecurityIdentities\n")
		for _, a := range u.AltSecurityIdentities {
			fmt.Fprintf(&b, "altSecurityIdentities: %s\n", a)
		}
		b.WriteString("-\n")
	}
	if len(u.SPNs) > 0 {
		b.WriteString("add: servicePrincipalName\n")
		for _, s := range u.SPNs {
			fmt.Fprintf(&b, "servicePrincipalName: %s\n", s)
		}
		b.WriteString("-\n")
	}
	if u.UPN != "" || len(u.AltSecurityIdentities) > 0 || len(u.SPNs) > 0 {
		dc.Modify(tb, b.String())
	}
}

// Modify applies an LDIF change set to the DC's sam.ldb with ldbmodify. It
// works while the DC runs: the KDC reads the database afresh per request.
func (dc *SambaDC) Modify(tb testing.TB, ldif string) {
	tb.Helper()
	ldbmodify := Require(tb, "ldbmodify", "ldb-tools")
	path := filepath.Join(dc.Dir, fmt.Sprintf("modify-%d.ldif", time.Now().UnixNano()))
	writeFile(tb, path, []byte(ldif), 0o600)
	Run(tb, exec.Command(ldbmodify, "-H", filepath.Join(dc.Dir, "private", "sam.ldb"), path))
}

// Search runs ldbsearch below base (BaseDN when empty; the configuration
// partition is CN=Configuration,BaseDN) on the DC's sam.ldb and returns its
// LDIF output.
func (dc *SambaDC) Search(tb testing.TB, base, filter string, attrs ...string) string {
	tb.Helper()
	ldbsearch := Require(tb, "ldbsearch", "ldb-tools")
	if base == "" {
		base = dc.BaseDN
	}
	args := append([]string{"-H", filepath.Join(dc.Dir, "private", "sam.ldb"), "-b", base, filter}, attrs...)
	return Run(tb, exec.Command(ldbsearch, args...))
}

// Client returns an MIT client configured for this DC's realm and KDC.
func (dc *SambaDC) Client(tb testing.TB, cfg MITClientConfig) *MITClient {
	tb.Helper()
	cfg.Realm = dc.Realm
	cfg.KDCs = []string{dc.IP}
	return NewMITClient(tb, cfg)
}

// Process is the running samba.
func (dc *SambaDC) Process() *Process { return dc.proc }

// Close stops samba and removes its namespace, veth pair and files.
func (dc *SambaDC) Close() {
	dc.closeOnce.Do(func() {
		if dc.proc != nil {
			dc.proc.Stop()
		}
		if ipBin, err := lookPath("ip"); err == nil {
			// Deleting the namespace deletes the veth end inside it, and
			// with it the pair.
			_, _ = RunErr(exec.Command(ipBin, "netns", "delete", dc.Namespace))
			_, _ = RunErr(exec.Command(ipBin, "link", "delete", dc.hostVeth))
		}
		_ = os.RemoveAll(dc.Dir)
	})
}

// logOnFailure prints the DC's log lines written during tb if tb fails.
func (dc *SambaDC) logOnFailure(tb testing.TB) {
	from := len(dc.proc.Log())
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("harness: samba (pid %d) %s; its output during %s:\n%s", dc.proc.PID(), dc.proc.exitState(), tb.Name(), dc.proc.Log()[from:])
		}
	})
}

// removeStaleSambaDCs deletes the namespaces and directories of DCs whose
// test binary died without cleaning up (SIGKILL, a shared DC never closed).
func removeStaleSambaDCs(ipBin string) {
	stale := func(name, prefix string) bool {
		rest := strings.TrimPrefix(name, prefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		return err == nil && pid != os.Getpid() && !Alive(pid)
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), sambaNetnsPrefix) && stale(e.Name(), sambaNetnsPrefix) {
				_, _ = RunErr(exec.Command(ipBin, "netns", "delete", e.Name()))
			}
		}
	}
	if dirs, err := filepath.Glob(filepath.Join(os.TempDir(), sambaDirPrefix+"*")); err == nil {
		for _, d := range dirs {
			if stale(filepath.Base(d), sambaDirPrefix) {
				_ = os.RemoveAll(d)
			}
		}
	}
}

func baseDN(dnsDomain string) string {
	var parts []string
	for _, l := range strings.Split(dnsDomain, ".") {
		parts = append(parts, "DC="+l)
	}
	return strings.Join(parts, ",")
}
