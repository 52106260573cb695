package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TPM2PKCS11Module is Debian's tpm2-pkcs11 module (package libtpm2-pkcs11-1,
// amd64): a PKCS #11 token whose keys live in a TPM.
const TPM2PKCS11Module = "/usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1"

// SWTPM is a running swtpm: a software TPM 2.0 that speaks the TPM command
// protocol on Port and its control protocol on Port+1, on loopback, with
// its state in a directory of the test's own.
type SWTPM struct {
	Port int
	// TCTI is the TSS2 TCTI string that reaches it, for TPM2TOOLS_TCTI and
	// TPM2_PKCS11_TCTI.
	TCTI string
	proc *Process
}

// StartSWTPM starts Debian's swtpm with a fresh TPM 2.0 (already started
// up, so the first client need not send TPM2_Startup) and waits until it
// accepts connections. A missing swtpm fails the test under CI=true and
// skips it elsewhere.
func StartSWTPM(tb testing.TB) *SWTPM {
	tb.Helper()
	swtpm := Require(tb, "swtpm", "swtpm")
	state := filepath.Join(tb.TempDir(), "tpmstate")
	mkdir(tb, state)
	port := freePortPair(tb)
	s := &SWTPM{Port: port, TCTI: fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", port)}
	cmd := exec.Command(swtpm, "socket", "--tpm2",
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port+1),
		"--tpmstate", "dir="+state,
		"--flags", "startup-clear")
	s.proc = Start(tb, "swtpm", cmd)
	WaitFor(tb, s.proc, 10*time.Second, TCPReady(fmt.Sprintf("127.0.0.1:%d", port+1)))
	return s
}

// Process is the running swtpm.
func (s *SWTPM) Process() *Process { return s.proc }
