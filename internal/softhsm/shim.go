//go:build cgo

package softhsm

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

//go:embed shim.c.in
var shimSource []byte

// Shim is a PKCS #11 module that forwards to the token's module, adds
// flags to the token flags it reports, counts C_Login calls, and can take
// the token out of its slot ([Shim.Remove]).
type Shim struct {
	Module string // the shim's path, to load instead of the token's module
	log    string
	absent string // the token is out while this file exists
	env    []string
}

// NewShim compiles the shim (gcc and the PKCS #11 headers of
// github.com/miekg/pkcs11) and sets its environment for the test: t's
// module behind it, flags added.
func (t *Token) NewShim(tb testing.TB, flags uint) *Shim {
	tb.Helper()
	gcc := harness.Require(tb, "gcc", "gcc")
	goBin := harness.Require(tb, "go", "golang")
	headers := strings.TrimSpace(harness.Run(tb, exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/miekg/pkcs11")))
	dir := tb.TempDir()
	src := filepath.Join(dir, "shim.c")
	if err := os.WriteFile(src, shimSource, 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Shim{Module: filepath.Join(dir, "shim.so"), log: filepath.Join(dir, "logins"), absent: filepath.Join(dir, "absent")}
	harness.Run(tb, exec.Command(gcc, "-shared", "-fPIC", "-I", headers, "-o", s.Module, src, "-ldl"))
	s.env = []string{"SCLOGON_SHIM_TARGET=" + t.Module, "SCLOGON_SHIM_FLAGS=" + strconv.FormatUint(uint64(flags), 16), "SCLOGON_SHIM_LOG=" + s.log, "SCLOGON_SHIM_ABSENT=" + s.absent}
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
	return s
}

// Env is the environment a child process needs to load the shim.
func (s *Shim) Env() []string { return s.env }

// PINPad makes the shim answer a C_Login with a NULL PIN (a login on a
// protected authentication path) as if pin had been typed on a PIN pad.
func (s *Shim) PINPad(tb testing.TB, pin string) {
	tb.Helper()
	s.env = append(s.env, "SCLOGON_SHIM_PINPAD="+pin)
	tb.Setenv("SCLOGON_SHIM_PINPAD", pin)
}

// Remove takes the token out: from now on, every process loading the shim
// sees its slot empty, as if the token had been pulled.
func (s *Shim) Remove(tb testing.TB) {
	tb.Helper()
	if err := os.WriteFile(s.absent, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// Insert puts the token back after [Shim.Remove].
func (s *Shim) Insert(tb testing.TB) {
	tb.Helper()
	if err := os.Remove(s.absent); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
}

// Logins counts the C_Login calls made through the shim so far.
func (s *Shim) Logins(tb testing.TB) int {
	tb.Helper()
	return len(s.LoginLog(tb))
}

// LoginLog lists the C_Login calls made through the shim so far, one
// "C_Login USER pin" or "C_Login USER null" (a NULL PIN) each; USER is the
// CK_USER_TYPE (0 SO, 1 user, 2 context specific).
func (s *Shim) LoginLog(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(s.log)
	if os.IsNotExist(err) || (err == nil && len(b) == 0) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
