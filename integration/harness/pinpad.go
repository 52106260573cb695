package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/pinpad"
)

// PINPadReader is the name PC/SC clients see for the PIN-pad reader: pcscd
// numbers readers per friendly name (the first one, slot 00).
const PINPadReader = "sclogon PIN pad 00 00"

// PINPad is a PIN-pad reader under pcscd (the IFD handler of package
// [pinpad]): a software card connects to CardAddr, and the test types PINs
// on its keypad with [PINPad.Type].
type PINPad struct {
	// Reader is the reader's name as PC/SC clients list it.
	Reader string
	// CardAddr is where a software card connects (vpcd's wire protocol).
	CardAddr string

	keypad string
	port   int
}

// Type puts keys on the keypad: one line per PIN entry the reader asks for
// next (VERIFY takes one; a PIN change the old PIN, the new one and its
// confirmation). "cancel" is the cancel key. The reader takes the keys once.
func (p *PINPad) Type(tb testing.TB, entries ...string) {
	tb.Helper()
	tmp := p.keypad + ".typing"
	writeFile(tb, tmp, []byte(strings.Join(entries, "\n")+"\n"), 0o600)
	if err := os.Rename(tmp, p.keypad); err != nil {
		tb.Fatalf("harness: keypad: %v", err)
	}
}

// Pending reports keys typed that the reader has not taken yet.
func (p *PINPad) Pending() bool {
	_, err := os.Stat(p.keypad)
	return err == nil
}

// buildPINPad compiles the IFD handler once per source version into the
// temporary directory, where pcscd (root or not) can load it.
func buildPINPad(tb testing.TB) string {
	tb.Helper()
	gcc := Require(tb, "gcc", "gcc")
	pkgConfig := Require(tb, "pkg-config", "pkg-config")
	if _, err := os.Stat("/usr/include/PCSC/ifdhandler.h"); err != nil {
		Missing(tb, "harness: /usr/include/PCSC/ifdhandler.h is missing: install the Debian package libpcsclite-dev")
	}
	sum := sha256.Sum256(pinpad.Source)
	lib := filepath.Join(os.TempDir(), "sclogon-ifd-pinpad-"+hex.EncodeToString(sum[:8])+".so")
	if _, err := os.Stat(lib); err == nil {
		return lib
	}
	cflags, err := exec.Command(pkgConfig, "--cflags", "libpcsclite").Output()
	if err != nil {
		tb.Fatalf("harness: pkg-config --cflags libpcsclite: %v", err)
	}
	dir := tb.TempDir()
	src := filepath.Join(dir, "ifd-pinpad.c")
	writeFile(tb, src, pinpad.Source, 0o600)
	out := filepath.Join(dir, "ifd-pinpad.so")
	args := append([]string{"-Wall", "-Wextra", "-Werror", "-O2", "-shared", "-fPIC", "-pthread"}, strings.Fields(string(cflags))...)
	args = append(args, "-o", out, src)
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		tb.Fatalf("harness: compiling the PIN-pad reader: %v\n%s", err, b)
	}
	if err := os.Chmod(out, 0o755); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	// Renamed into place, so a concurrent build never loads half a file.
	if err := os.Rename(out, lib); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	return lib
}

// configurePINPad writes the PIN-pad reader's reader.conf entry: its keypad
// file and a free port for its card.
func configurePINPad(tb testing.TB, confDir, driver string) *PINPad {
	tb.Helper()
	var port int
	for range 100 {
		if port = FreePort(tb); !tcpPortUsed(port) {
			break
		}
	}
	keypad := filepath.Join(tb.TempDir(), "keypad")
	conf := fmt.Sprintf("FRIENDLYNAME \"sclogon PIN pad\"\nDEVICENAME   %s:%d\nLIBPATH      %s\n", keypad, port, driver)
	writeFile(tb, filepath.Join(confDir, "pinpad"), []byte(conf), 0o600)
	return &PINPad{Reader: PINPadReader, CardAddr: fmt.Sprintf("127.0.0.1:%d", port), keypad: keypad, port: port}
}
