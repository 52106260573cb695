package kdcload

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SclogonOptions say how to run sclogon's KDC.
type SclogonOptions struct {
	// Command is the argv before "--config FILE": {"bin/sclogon", "kdc"}, or
	// bench/cmd/kdcprofile with its flags.
	Command []string
	// DHKeyReuse is the config's dh_key_reuse (0: a fresh DH key per request).
	DHKeyReuse time.Duration
	// CPUs, when set, pins the KDC to these CPUs (taskset -c CPUs): "0".
	CPUs string
	// Directory, when set, replaces the [directory] section's body (the
	// realm's LDIF file): an LDAP server's url and base_dn.
	Directory string
	// OCSPResponder, when set, turns OCSP on (ocsp = hard) with this
	// responder for every client certificate.
	OCSPResponder string
	// MappingCache is the config's [mapping] cache_ttl (0: off).
	MappingCache time.Duration
}

// sclogonConfig is the file StartSclogonKDC writes: what a deployment that
// checks certificates as AD does would run, OCSP aside unless the options
// name a responder (MIT checks none either). Every request is written to
// the audit log, as MIT logs every request to its log file.
const sclogonConfig = `[kdc]
    realm = %[1]s
    listen = %[2]s
    state_dir = state
    certificate = %[3]s
    key = %[4]s
    anchors = %[5]s
    ntauth = %[6]s
    client_eku = either
%[9]s    freshness = supported
    dh_groups = 14 16 18
    ecdh_curves = P-256 P-384 P-521
    key_transport = true
    dh_key_reuse = %[7]s
    audit_log = audit.jsonl

[mapping]
    order = sid altsecid upn
    enforcement = full
    sid_trusted_ca = %[6]s
%[10]s
[directory]
%[8]s`

// WriteSclogonConfig writes a configuration of sclogon's KDC for r, listening
// on a free loopback port, in a new directory under r.Dir, and returns the
// file's path and the address. Only o's configuration fields count.
func WriteSclogonConfig(r *Realm, o SclogonOptions) (path, addr string, err error) {
	dir, err := os.MkdirTemp(r.Dir, "sclogon-kdc-")
	if err != nil {
		return "", "", fmt.Errorf("kdcload: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return "", "", err
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	directory := "    ldif = " + r.LDIF + "\n"
	if o.Directory != "" {
		directory = o.Directory
	}
	ocsp := "    ocsp = off\n"
	if o.OCSPResponder != "" {
		ocsp = "    ocsp = hard\n    ocsp_responder = " + o.OCSPResponder + "\n"
	}
	var cache string
	if o.MappingCache > 0 {
		cache = "    cache_ttl = " + o.MappingCache.String() + "\n"
	}
	conf := fmt.Sprintf(sclogonConfig, RealmName, addr, r.KDCCert, r.KDCKey, r.CA.RootPath(), r.CA.NTAuthPath(),
		o.DHKeyReuse.String(), directory, ocsp, cache)
	path = filepath.Join(dir, "kdc.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", "", fmt.Errorf("kdcload: %w", err)
	}
	return path, addr, nil
}

// StartSclogonKDC writes a configuration for r (see [WriteSclogonConfig])
// and runs sclogon's KDC with it, out of process.
func StartSclogonKDC(ctx context.Context, r *Realm, o SclogonOptions) (*Process, error) {
	if len(o.Command) == 0 {
		return nil, fmt.Errorf("kdcload: SclogonOptions.Command is empty")
	}
	path, addr, err := WriteSclogonConfig(r, o)
	if err != nil {
		return nil, err
	}
	argv := append(pinned(o.CPUs, o.Command), "--config", path)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(path)
	return startProcess("sclogon kdc", cmd.Dir, addr, cmd)
}

// MITOptions say how to run MIT krb5kdc.
type MITOptions struct {
	// Workers > 1 runs krb5kdc -w Workers (MIT forks that many processes
	// sharing the sockets); 0 runs it as it runs by default, one process.
	Workers int
	// Principals are extra kadmin addprinc arguments (e.g. a card user's).
	Principals []string
	// CPUs, when set, pins krb5kdc (and its workers) to these CPUs: "0".
	CPUs string
}

// pinned is argv run under taskset -c cpus when cpus is set. taskset sets
// the affinity and execs, so the KDC keeps its PID and every thread and
// child it makes inherits the mask.
func pinned(cpus string, argv []string) []string {
	if cpus == "" {
		return slices.Clone(argv)
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

// MITPrograms are the MIT programs StartMITKDC runs, looked up on PATH and
// in the sbin directories.
var mitPrograms = []string{"kdb5_util", "kadmin.local", "krb5kdc"}

// MITAvailable reports whether MIT's KDC and its PKINIT plugin are installed.
func MITAvailable() error {
	for _, p := range mitPrograms {
		if _, err := lookPath(p); err != nil {
			return fmt.Errorf("kdcload: %s not found: install the Debian packages krb5-kdc krb5-admin-server krb5-pkinit", p)
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/krb5/plugins/preauth/pkinit.so"); len(m) == 0 {
		return fmt.Errorf("kdcload: MIT's PKINIT plugin is missing: install the Debian package krb5-pkinit")
	}
	return nil
}

func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("kdcload: %s not found", program)
}

// StartMITKDC creates an MIT realm database for r (every user PKINIT-only:
// +requires_preauth -nokey) in a new directory under r.Dir and runs krb5kdc
// on it, with the same KDC certificate and anchors sclogon's KDC uses.
func StartMITKDC(ctx context.Context, r *Realm, o MITOptions) (*Process, error) {
	if err := MITAvailable(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.Dir, "mit-kdc-")
	if err != nil {
		return nil, fmt.Errorf("kdcload: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	kdcConf := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[1]s
  kdc_tcp_listen = %[1]s

[realms]
  %[2]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    max_life = 10h
    max_renewable_life = 7d
    pkinit_identity = FILE:%[4]s,%[5]s
    pkinit_anchors = FILE:%[6]s
    pkinit_eku_checking = kpClientAuth
    pkinit_allow_upn = true
  }

[logging]
  kdc = FILE:%[3]s/kdc.log
`, addr, RealmName, dir, r.KDCCert, r.KDCKey, r.CA.RootPath())
	krb5Conf := fmt.Sprintf("[libdefaults]\n  default_realm = %[1]s\n\n[realms]\n  %[1]s = {\n    kdc = %[2]s\n  }\n", RealmName, addr)
	for name, data := range map[string]string{"kdc.conf": kdcConf, "krb5.conf": krb5Conf, "kadm5.acl": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return nil, fmt.Errorf("kdcload: %w", err)
		}
	}
	env := append(os.Environ(), "KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"), "KRB5_KDC_PROFILE="+filepath.Join(dir, "kdc.conf"))
	kdb5, _ := lookPath("kdb5_util")
	if err := run(ctx, env, kdb5, "create", "-r", RealmName, "-s", "-P", "benchmark-master-key", "-W"); err != nil {
		return nil, err
	}
	var queries strings.Builder
	for _, u := range r.Users {
		fmt.Fprintf(&queries, "addprinc +requires_preauth -nokey %s\n", u.Name)
	}
	for _, p := range o.Principals {
		fmt.Fprintf(&queries, "addprinc %s\n", p)
	}
	kadmin, _ := lookPath("kadmin.local")
	add := exec.CommandContext(ctx, kadmin, "-r", RealmName)
	add.Env = env
	add.Stdin = strings.NewReader(queries.String())
	if out, err := add.CombinedOutput(); err != nil || strings.Contains(string(out), " while ") {
		return nil, fmt.Errorf("kdcload: kadmin.local addprinc: %v\n%s", err, out)
	}
	args := []string{"-n", "-r", RealmName}
	if o.Workers > 1 {
		args = append(args, "-w", fmt.Sprint(o.Workers))
	}
	krb5kdc, _ := lookPath("krb5kdc")
	argv := pinned(o.CPUs, append([]string{krb5kdc}, args...))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	name := "MIT krb5kdc"
	if o.Workers > 1 {
		name = fmt.Sprintf("MIT krb5kdc -w %d", o.Workers)
	}
	return startProcess(name, dir, addr, cmd)
}
