package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// runSclogon runs one sclogon command line in-process.
func runSclogon(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

// mitKlist runs MIT's klist in the C locale, whose time layout sclogon
// klist uses, and returns its stdout and exit code.
func mitKlist(t *testing.T, c *harness.MITClient, args ...string) (string, int) {
	t.Helper()
	cmd := c.Command(t, "klist", args...)
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("MIT klist: %v", err)
	}
	return out.String(), 0
}

// compareKlist runs MIT's klist and ours with the same arguments and wants
// the same output and exit code.
func compareKlist(t *testing.T, c *harness.MITClient, args ...string) string {
	t.Helper()
	want, wantCode := mitKlist(t, c, args...)
	code, got, stderr := runSclogon(t, append([]string{"klist"}, args...)...)
	if code != wantCode || got != want {
		t.Errorf("klist %v: exit %d, MIT's %d\n--- sclogon:\n%s%s--- MIT:\n%s", args, code, wantCode, got, stderr, want)
	}
	return got
}

// TestKlistMatchesMIT: for a cache MIT kinit wrote and one sclogon kinit
// wrote (renewable, forwardable, with a service ticket), sclogon klist
// prints what MIT klist prints, line for line, with each option; -s and -t
// give MIT's exit status for a valid, an expired and a missing cache.
func TestKlistMatchesMIT(t *testing.T) {
	e := newKinitEnv(t)
	mitCC := "FILE:" + filepath.Join(e.dir, "mit.cc")
	harness.Run(t, e.mit.Command(t, "kinit", "-X", "X509_user_identity=FILE:"+e.cert+","+e.key, "-r", "7d", "-f", "-c", mitCC, "alice@EXAMPLE.COM"))
	harness.Run(t, e.mit.Command(t, "kvno", "-c", mitCC, "host/svc.example.com"))
	ourCC := "FILE:" + filepath.Join(e.dir, "ours.cc")
	if code, _, stderr := runKinitCmd(t, "", "--identity", "FILE:"+e.cert+","+e.key, "-r", "7d", "-f", "-c", ourCC,
		"--service-ticket", "host/svc.example.com"); code != exitOK {
		t.Fatalf("sclogon kinit: exit %d:\n%s", code, stderr)
	}
	for _, cc := range []string{mitCC, ourCC} {
		for _, args := range [][]string{{}, {"-f"}, {"-e"}, {"-fea", "-n"}, {"-l"}, {"-A", "-f"}, {"-s"}} {
			out := compareKlist(t, e.mit, append(args, cc)...)
			if len(args) == 1 && args[0] == "-f" && (!strings.Contains(out, "renew until ") || !strings.Contains(out, "Flags: FRI")) {
				t.Errorf("klist -f %s: no renewable, forwardable initial TGT:\n%s", cc, out)
			}
		}
		compareKlist(t, e.mit, "-c", cc) // MIT's -c names no argument: the cache is the operand
	}
	expired := "FILE:" + filepath.Join(e.dir, "expired.cc")
	writeExpired(t, strings.TrimPrefix(ourCC, "FILE:"), strings.TrimPrefix(expired, "FILE:"))
	missing := "FILE:" + filepath.Join(e.dir, "missing.cc")
	for _, tc := range []struct {
		cc   string
		want int
	}{{ourCC, exitOK}, {expired, exitFail}, {missing, exitFail}} {
		if _, code := mitKlist(t, e.mit, "-s", tc.cc); code != tc.want {
			t.Fatalf("MIT klist -s %s: exit %d, want %d", tc.cc, code, tc.want)
		}
		if code, out, stderr := runSclogon(t, "klist", "-s", tc.cc); code != tc.want || out != "" || stderr != "" {
			t.Errorf("klist -s %s: exit %d, want %d; printed %q %q", tc.cc, code, tc.want, out, stderr)
		}
		code, out, _ := runSclogon(t, "klist", "-t", tc.cc)
		if code != tc.want || (tc.cc != missing && !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM")) {
			t.Errorf("klist -t %s: exit %d, want %d, with the listing:\n%s", tc.cc, code, tc.want, out)
		}
	}
	compareKlist(t, e.mit, "-l", expired) // "(Expired)"
	code, _, stderr := runSclogon(t, "klist", missing)
	if code != exitFail || !strings.Contains(stderr, "sclogon: error: ccache: no credentials cache found") || !strings.Contains(stderr, "sclogon: hint: ") {
		t.Errorf("klist of a missing cache: exit %d:\n%s", code, stderr)
	}
}

// writeExpired copies the cache at from to to with every ticket expired an
// hour ago.
func writeExpired(t *testing.T, from, to string) {
	t.Helper()
	cc, err := ccache.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for i := range cc.Credentials {
		c := &cc.Credentials[i]
		c.AuthTime, c.StartTime, c.EndTime, c.RenewTill = past, past, past.Add(time.Hour), time.Time{}
	}
	if err := ccache.WriteFile(to, cc); err != nil {
		t.Fatal(err)
	}
}

// TestKlistJSON: --json parses, and says what the cache holds.
func TestKlistJSON(t *testing.T) {
	e := newKinitEnv(t)
	if code, _, stderr := runKinitCmd(t, "", "--identity", "FILE:"+e.cert+","+e.key, "-r", "1d", "-f"); code != exitOK {
		t.Fatalf("sclogon kinit: exit %d:\n%s", code, stderr)
	}
	code, stdout, stderr := runSclogon(t, "klist", "--json")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var got klistJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if len(got.Caches) != 1 {
		t.Fatalf("json: %s", stdout)
	}
	c := got.Caches[0]
	if c.Name != "FILE:"+e.mit.CCache || c.Principal != "alice@EXAMPLE.COM" || !c.Valid || len(c.Tickets) != 1 {
		t.Fatalf("json: %s", stdout)
	}
	tk := c.Tickets[0]
	if tk.Server != "krbtgt/EXAMPLE.COM@EXAMPLE.COM" || !strings.Contains(tk.Flags, "F") || !strings.Contains(tk.Flags, "R") ||
		tk.RenewTill.IsZero() || !tk.EndTime.After(time.Now()) || tk.SessionEType == 0 || tk.TicketEType == 0 {
		t.Fatalf("json ticket: %+v", tk)
	}
}

// TestKdestroyCacheTypes: for a FILE, DIR, KEYRING and KCM cache that
// sclogon kinit filled, sclogon klist prints what MIT klist prints (the
// collection shown by its primary's name), and after sclogon kdestroy MIT
// klist finds nothing. A FILE cache is overwritten before removal; in a DIR
// collection kdestroy takes the primary, and -A the rest.
func TestKdestroyCacheTypes(t *testing.T) {
	e := newKinitEnv(t)
	anchor, err := os.ReadFile(e.anchor)
	if err != nil {
		t.Fatal(err)
	}
	kcm := harness.StartKCM(t)
	mit := e.kdc.Client(t, harness.MITClientConfig{AnchorsPEM: anchor, Libdefaults: kcm.Libdefaults()})
	t.Setenv("KRB5_CONFIG", mit.Config)
	keyring := fmt.Sprintf("KEYRING:session:sclogon-kdestroy-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = mit.Command(t, "kdestroy", "-A", "-c", keyring).Run() })
	dir := filepath.Join(t.TempDir(), "cc")
	kinitInto := func(t *testing.T, name string) {
		t.Helper()
		if code, _, stderr := runKinitCmd(t, "", "-c", name, "--identity", "FILE:"+e.cert+","+e.key); code != exitOK {
			t.Fatalf("sclogon kinit -c %s: exit %d:\n%s", name, code, stderr)
		}
		compareKlist(t, mit, "-f", name)
	}
	kdestroy := func(t *testing.T, args ...string) string {
		t.Helper()
		code, _, stderr := runSclogon(t, append([]string{"kdestroy"}, args...)...)
		if code != exitOK {
			t.Fatalf("sclogon kdestroy %v: exit %d:\n%s", args, code, stderr)
		}
		return stderr
	}
	gone := func(t *testing.T, args ...string) {
		t.Helper()
		if out, code := mitKlist(t, mit, args...); code != exitFail {
			t.Fatalf("MIT klist %v after kdestroy: exit %d:\n%s", args, code, out)
		}
	}
	t.Run("FILE", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cc")
		kinitInto(t, "FILE:"+path)
		// A second link to the file shows what is left on disk.
		link := path + ".link"
		if err := os.Link(path, link); err != nil {
			t.Fatal(err)
		}
		kdestroy(t, "-c", "FILE:"+path)
		gone(t, "-s", "FILE:"+path)
		if b, err := os.ReadFile(link); err != nil || len(b) == 0 || len(bytes.Trim(b, "\x00")) != 0 {
			t.Fatalf("the cache was not overwritten with zeros (%v): %q", err, b)
		}
		if stderr := kdestroy(t, "-c", "FILE:"+path); !strings.Contains(stderr, "no credentials cache found") {
			t.Errorf("kdestroy of a missing cache: %q", stderr)
		}
	})
	t.Run("DIR", func(t *testing.T) {
		kinitInto(t, "DIR:"+dir)
		addDIRMember(t, dir, "bob")
		compareKlist(t, mit, "-l", "DIR:"+dir)
		compareKlist(t, mit, "-A", "DIR:"+dir)
		if stderr := kdestroy(t, "-c", "DIR:"+dir); !strings.Contains(stderr, "-A destroys them all") {
			t.Errorf("kdestroy leaving bob's cache: no note of it: %q", stderr)
		}
		out, _ := mitKlist(t, mit, "-l", "DIR:"+dir)
		if strings.Contains(out, "alice@") || !strings.Contains(out, "bob@EXAMPLE.COM") {
			t.Fatalf("MIT klist -l after kdestroy of the primary:\n%s", out)
		}
		kdestroy(t, "-A", "-c", "DIR:"+dir)
		gone(t, "-l", "DIR:"+dir)
	})
	t.Run("KEYRING", func(t *testing.T) {
		kinitInto(t, keyring)
		kdestroy(t, "-q", "-c", keyring)
		gone(t, "-s", keyring)
	})
	t.Run("KCM", func(t *testing.T) {
		kinitInto(t, "KCM:")
		kdestroy(t, "-c", "KCM:")
		gone(t, "-s", "KCM:")
	})
}

// addDIRMember stores a copy of the collection's primary cache for another
// principal: a second member, which klist lists and kdestroy -A removes.
func addDIRMember(t *testing.T, dir, name string) {
	t.Helper()
	env := ccache.Environment(nil)
	primary, err := ccache.Open("DIR:"+dir, env)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := primary.Load()
	if err != nil {
		t.Fatal(err)
	}
	cc.Principal.Components = []string{name}
	for i := range cc.Credentials {
		cc.Credentials[i].Client = cc.Principal
	}
	member, err := ccache.Open("DIR::"+filepath.Join(dir, "tkt"+name), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := member.Store(cc); err != nil {
		t.Fatal(err)
	}
}

func TestKlistUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"klist", "-l", "-A"},
		{"klist", "-l", "-s"},
		{"klist", "-s", "-t"},
		{"klist", "-n"},
		{"klist", "-s", "--json"},
		{"klist", "-k"},
		{"klist", "a", "b"},
		{"kdestroy", "extra"},
		{"kdestroy", "-c"},
		{"kdestroy", "-p", "alice"},
	} {
		code, _, stderr := runSclogon(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "usage: sclogon "+args[0]) {
			t.Errorf("%v: exit %d:\n%s", args, code, stderr)
		}
	}
}

func TestKlistSplitLetters(t *testing.T) {
	got := strings.Join(splitLetters([]string{"-fea", "-json", "--json", "-c", "FILE:x", "-fx", "--", "-fe"}, "clAfeanst"), " ")
	if want := "-f -e -a -json --json -c FILE:x -fx -- -fe"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestKlistFlagLettersAndNames(t *testing.T) {
	all := uint32(0)
	for bit := 1; bit <= 14; bit++ {
		all |= 1 << (31 - bit)
	}
	if got := flagLetters(all); got != "FfPpDdiRIHATOa" {
		t.Errorf("flags %q", got)
	}
	if got := unparse(ccache.Principal{Components: []string{"alice@example.com"}, Realm: "EXAMPLE.COM"}); got != `alice\@example.com@EXAMPLE.COM` {
		t.Errorf("enterprise name %q", got)
	}
	if etypeName(18) != "aes256-cts-hmac-sha1-96" || etypeName(23) != "DEPRECATED:arcfour-hmac" || etypeName(99) != "etype 99" {
		t.Error("etype names")
	}
}

// FuzzTicketInfo: the ticket reader never panics and accepts nothing after
// the ticket.
func FuzzTicketInfo(f *testing.F) {
	f.Add([]byte{0x61, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		if _, ok := parseTicketInfo(der); ok {
			if _, ok := parseTicketInfo(append(der, 0)); ok {
				t.Fatal("trailing data accepted")
			}
		}
	})
}
