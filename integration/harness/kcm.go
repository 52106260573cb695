package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sssdDataDirs are the compiled-in directories sssd_kcm keeps its state in
// (the configuration database, the ccache database, logs). It has no flag to
// move them, so StartKCM bind-mounts private ones over them in a mount
// namespace of the daemon's own: nothing reaches the host's /var/lib/sss.
var sssdDataDirs = map[string]string{
	"db":      "/var/lib/sss/db",
	"secrets": "/var/lib/sss/secrets",
	"log":     "/var/log/sssd",
}

// KCM is a running sssd-kcm: SSSD's KCM daemon, which keeps KCM: credential
// caches per uid and speaks the protocol MIT's and Heimdal's libraries speak.
type KCM struct {
	// Socket is the daemon's Unix socket: give MIT's tools
	// "kcm_socket = "+Socket in [libdefaults] ([KCM.Libdefaults]).
	Socket string
	Dir    string
	proc   *Process
}

// StartKCM starts Debian's sssd-kcm in the foreground as root, with a
// private sssd.conf whose [kcm] socket_path is under Dir, its databases in
// private directories, and its log on stderr (printed if the test fails).
func StartKCM(tb testing.TB) *KCM {
	tb.Helper()
	kcmd, err := lookPath("/usr/libexec/sssd/sssd_kcm")
	if err != nil {
		Missing(tb, "harness: /usr/libexec/sssd/sssd_kcm not found: install the Debian package sssd-kcm (integration/setup does it)")
	}
	sssd := Require(tb, "sssd", "sssd-common")
	unshare := Require(tb, "unshare", "util-linux")
	dir := tb.TempDir()
	k := &KCM{Socket: filepath.Join(dir, "kcm.socket"), Dir: dir}
	conf := filepath.Join(dir, "sssd.conf")
	writeFile(tb, conf, []byte(fmt.Sprintf("[sssd]\nservices = kcm\n\n[kcm]\nsocket_path = %s\n", k.Socket)), 0o600)

	script := ""
	for name, target := range sssdDataDirs {
		private := filepath.Join(dir, name)
		mkdir(tb, private)
		script += fmt.Sprintf("mount --bind %q %q && ", private, target)
	}
	script += fmt.Sprintf("%q --genconf-section=kcm -c %q && exec %q --uid 0 --gid 0 --logger=stderr -d 2", sssd, conf, kcmd)
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", script)
	cmd.Dir = dir
	k.proc = Start(tb, "sssd_kcm", cmd)
	WaitFor(tb, k.proc, 15*time.Second, unixReady(k.Socket))
	return k
}

// Libdefaults are the krb5.conf [libdefaults] lines that point MIT's library
// at this daemon (MIT 1.20 reads kcm_socket only from the profile).
func (k *KCM) Libdefaults() []string {
	return []string{"kcm_socket = " + k.Socket}
}

// Process is the running sssd_kcm.
func (k *KCM) Process() *Process { return k.proc }

func mkdir(tb testing.TB, path string) {
	tb.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		tb.Fatalf("harness: %v", err)
	}
}
