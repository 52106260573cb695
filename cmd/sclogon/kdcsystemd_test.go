package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

// unitDirectives reads a systemd unit file as section.Key → values, in
// order (a key may repeat).
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: not a directive: %q", path, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// configLines are the non-comment lines of a sysusers.d or tmpfiles.d
// file, split into fields (a quoted GECOS is one field).
func configLines(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var fields []string
		for i, part := range strings.Split(line, `"`) {
			if i%2 == 1 {
				fields = append(fields, part)
			} else {
				fields = append(fields, strings.Fields(part)...)
			}
		}
		out = append(out, fields)
	}
	return out
}

// TestKDCSystemdUnit: 'make install' puts the KDC's unit (ExecStart on the
// installed binary), its sysusers.d and tmpfiles.d entries under PREFIX;
// systemd-analyze verify accepts the unit; it runs as the sysusers user,
// notifies, reloads by SIGHUP and keeps its hardening; 'make uninstall'
// takes the three away.
func TestKDCSystemdUnit(t *testing.T) {
	if testing.Short() {
		harness.Missing(t, "-short: this test builds and installs sclogon")
	}
	need(t, "make", "install", "man", "go")
	analyze := harness.Require(t, "systemd-analyze", "systemd")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	prefix, build := t.TempDir(), t.TempDir()
	goBin, _ := exec.LookPath("go")
	mk := func(target string) {
		t.Helper()
		cmd := exec.Command("make", "-C", root, target, "PREFIX="+prefix, "GO="+goBin, "BIN="+filepath.Join(build, "sclogon"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	mk("install")
	unit := filepath.Join(prefix, "lib/systemd/system/sclogon-kdc.service")
	sysusers := filepath.Join(prefix, "lib/sysusers.d/sclogon-kdc.conf")
	tmpfiles := filepath.Join(prefix, "lib/tmpfiles.d/sclogon-kdc.conf")
	for _, f := range []string{unit, sysusers, tmpfiles} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v, want mode 0644", f, fi, err)
		}
	}

	// Documentation=man:sclogon-kdc(1) is checked against the pages just
	// installed; ExecStart against the binary.
	verify := exec.Command(analyze, "verify", unit)
	verify.Env = append(os.Environ(), "MANPATH="+filepath.Join(prefix, "share/man"))
	if out, err := verify.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	d := unitDirectives(t, unit)
	want := map[string]string{
		"Service.Type":                  "notify",
		"Service.ExecStart":             filepath.Join(prefix, "bin/sclogon") + " kdc --config /etc/sclogon/kdc.conf",
		"Service.ExecReload":            "/bin/kill -HUP $MAINPID",
		"Service.User":                  "sclogon-kdc",
		"Service.StateDirectory":        "sclogon-kdc",
		"Service.AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"Service.CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"Service.NoNewPrivileges":       "yes",
		"Service.ProtectSystem":         "strict",
		"Service.ProtectHome":           "yes",
		"Service.PrivateTmp":            "yes",
		"Install.WantedBy":              "multi-user.target",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	users := configLines(t, sysusers)
	if len(users) != 1 || len(users[0]) < 5 || users[0][0] != "u" || users[0][1] != "sclogon-kdc" || users[0][4] != "/var/lib/sclogon-kdc" {
		t.Errorf("sysusers.d: %q, want one user sclogon-kdc with its home in /var/lib/sclogon-kdc", users)
	}
	dirs := map[string][]string{}
	for _, f := range configLines(t, tmpfiles) {
		if len(f) != 6 || f[0] != "d" {
			t.Fatalf("tmpfiles.d line %q: want d PATH MODE USER GROUP AGE", f)
		}
		dirs[f[1]] = f[2:5]
	}
	for path, want := range map[string]string{
		"/etc/sclogon":         "0750 root sclogon-kdc",
		"/var/lib/sclogon-kdc": "0700 sclogon-kdc sclogon-kdc",
		"/var/log/sclogon-kdc": "0750 sclogon-kdc sclogon-kdc",
	} {
		if got := strings.Join(dirs[path], " "); got != want {
			t.Errorf("tmpfiles.d %s: %q, want %q", path, got, want)
		}
	}

	mk("uninstall")
	for _, f := range []string{unit, sysusers, tmpfiles} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("make uninstall left %s", f)
		}
	}
}
