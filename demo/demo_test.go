package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/demo"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// TestDemo runs the demo end to end and has MIT klist read the ccache it
// wrote, as `make demo` with KRB5CCNAME set does.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	cc := filepath.Join(dir, "demo.cc")
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), demo.Options{Dir: filepath.Join(dir, "state"), CCache: "FILE:" + cc, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"fit for logon", "PIN for alice@example.com (3 tries left)", "KDC signature verified", "mapped to account alice by sid-extension (strong)", "krbtgt/EXAMPLE.COM@EXAMPLE.COM", "1 VERIFY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("narration lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "123456\n") && strings.Count(out.String(), "123456") > 1 {
		t.Errorf("the PIN is printed more than once (as the card's documented default):\n%s", out.String())
	}
	if len(res.CCache.Credentials) != 2 {
		t.Fatalf("%d credentials, want the TGT and host/ws1", len(res.CCache.Credentials))
	}
	written, err := ccache.ReadFile(cc)
	if err != nil {
		t.Fatal(err)
	}
	if written.Principal.String() != "alice@EXAMPLE.COM" {
		t.Fatalf("ccache principal %s", written.Principal)
	}
	klist := harness.Require(t, "klist", "krb5-user")
	cmd := exec.Command(klist, "-c", "FILE:"+cc)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG=/dev/null")
	list := harness.Run(t, cmd)
	if !strings.Contains(list, "Default principal: alice@EXAMPLE.COM") || !strings.Contains(list, "host/ws1.example.com@EXAMPLE.COM") {
		t.Fatalf("MIT klist:\n%s", list)
	}
}
