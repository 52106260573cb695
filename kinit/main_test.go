package kinit_test

import (
	"os"
	"testing"
)

// TestMain stops the Samba DC the package's tests share, and removes its
// network namespace and files, when they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	samba.dc.Close()
	os.Exit(code)
}
