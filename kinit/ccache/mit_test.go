package ccache_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// TestMITReadsWhatWeWrite takes a ccache MIT kinit wrote (a TGT and, after kvno,
// a service ticket), parses it, writes it again with WriteFile, and has MIT
// klist list it and kvno use its TGT — so every field we write is one MIT reads.
func TestMITReadsWhatWeWrite(t *testing.T) {
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm:      "EXAMPLE.COM",
		Principals: []string{"-pw correct-horse bob", "-randkey host/svc.example.com", "-randkey HTTP/web.example.com"},
	})
	c := kdc.Client(t, harness.MITClientConfig{})
	kinit := c.Command(t, "kinit", "bob")
	kinit.Stdin = strings.NewReader("correct-horse\n")
	harness.Run(t, kinit)
	harness.Run(t, c.Command(t, "kvno", "host/svc.example.com"))

	mit, err := ccache.ReadFile(c.CCache)
	if err != nil {
		t.Fatalf("parse MIT's ccache: %v", err)
	}
	if mit.Principal.String() != "bob@EXAMPLE.COM" {
		t.Fatalf("default principal %s", mit.Principal)
	}
	var servers []string
	for _, cr := range mit.Credentials {
		servers = append(servers, cr.Server.String())
	}
	if !contains(servers, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") || !contains(servers, "host/svc.example.com@EXAMPLE.COM") {
		t.Fatalf("MIT's ccache holds %v", servers)
	}

	ours := filepath.Join(t.TempDir(), "ours")
	if err := ccache.WriteFile(ours, mit); err != nil {
		t.Fatal(err)
	}
	back, err := ccache.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, mit) {
		t.Fatal("our file parses to a different cache")
	}

	want := harness.Run(t, c.Command(t, "klist", "-e", "-f", "-c", "FILE:"+c.CCache))
	klist := c.Command(t, "klist", "-e", "-f", "-c", "FILE:"+ours)
	got := harness.Run(t, klist)
	if strings.ReplaceAll(got, ours, "X") != strings.ReplaceAll(want, c.CCache, "X") {
		t.Fatalf("klist of our ccache:\n%s\nof MIT's:\n%s", got, want)
	}

	// The TGT in our file is usable: kvno obtains a new service ticket with it.
	kvno := c.Command(t, "kvno", "-c", "FILE:"+ours, "HTTP/web.example.com")
	if out, err := harness.RunErr(kvno); err != nil {
		t.Fatalf("kvno with our ccache: %v\n%s", err, out)
	}
	st, err := os.Stat(ours)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("our ccache: %v, mode %v", err, st.Mode())
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
