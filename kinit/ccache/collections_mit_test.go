package ccache_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// tgtCache is a cache for user with a TGT and a service ticket. The tickets
// are dummies: klist lists what it cannot decrypt.
func tgtCache(user string) *ccache.CCache {
	p := ccache.Principal{NameType: 1, Components: []string{user}, Realm: "EXAMPLE.COM"}
	now := time.Now().Truncate(time.Second)
	mk := func(server ...string) ccache.Credential {
		return ccache.Credential{
			Client: p, Server: ccache.Principal{NameType: 2, Components: server, Realm: "EXAMPLE.COM"},
			Key:      ccache.Key{EType: 18, Value: bytes.Repeat([]byte{7}, 32)},
			AuthTime: now, StartTime: now, EndTime: now.Add(10 * time.Hour), RenewTill: now.Add(7 * 24 * time.Hour),
			Flags:  0x40e10000,
			Ticket: []byte{0x61, 0x03, 0x02, 0x01, 0x05},
		}
	}
	return &ccache.CCache{Principal: p, Credentials: []ccache.Credential{mk("krbtgt", "EXAMPLE.COM"), mk("host", "svc.example.com")}}
}

// mitTool runs an MIT client tool with KRB5CCNAME set to ccname, or unset
// when ccname is empty (so krb5.conf's default_ccache_name applies).
func mitTool(t *testing.T, c *harness.MITClient, ccname, program string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := c.Command(t, program, args...)
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "KRB5CCNAME=") {
			env = append(env, kv)
		}
	}
	if ccname != "" {
		env = append(env, "KRB5CCNAME="+ccname)
	}
	cmd.Env = env
	return cmd
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// TestKCMWithSSSD: against a real sssd-kcm, MIT klist lists the cache our
// Store wrote to KCM:, and our Load reads the cache MIT kinit wrote there.
func TestKCMWithSSSD(t *testing.T) {
	kcm := harness.StartKCM(t)
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{Realm: "EXAMPLE.COM", Principals: []string{"-pw correct-horse bob"}})
	c := kdc.Client(t, harness.MITClientConfig{Libdefaults: kcm.Libdefaults()})
	cc, err := ccache.Open("KCM:", ccache.Env{KCMSocket: kcm.Socket})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Store(tgtCache("alice")); err != nil {
		t.Fatal(err)
	}
	out := harness.Run(t, mitTool(t, c, "KCM:", "klist"))
	mustContain(t, "MIT klist of our KCM: cache", out, "Default principal: alice@EXAMPLE.COM", "krbtgt/EXAMPLE.COM@EXAMPLE.COM", "host/svc.example.com@EXAMPLE.COM")

	kinit := mitTool(t, c, "KCM:", "kinit", "bob")
	kinit.Stdin = strings.NewReader("correct-horse\n")
	harness.Run(t, kinit)
	got, err := cc.Load()
	if err != nil {
		t.Fatalf("load MIT's KCM cache: %v", err)
	}
	if got.Principal.String() != "bob@EXAMPLE.COM" || !hasServer(got, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("MIT's cache read as %+v", got)
	}
	list, err := cc.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}
	// Storing alice again replaces her cache and makes it the default:
	// klist -l still shows two caches.
	if err := cc.Store(tgtCache("alice")); err != nil {
		t.Fatal(err)
	}
	out = harness.Run(t, mitTool(t, c, "KCM:", "klist", "-l"))
	if strings.Count(out, "@EXAMPLE.COM") != 2 {
		t.Fatalf("klist -l after alice's second store:\n%s", out)
	}
	mustContain(t, "klist", harness.Run(t, mitTool(t, c, "KCM:", "klist")), "Default principal: alice@EXAMPLE.COM")

	// A named cache is written whole (REPLACE) and reads back the same.
	named, _ := ccache.Open("KCM:0:sclogon", ccache.Env{KCMSocket: kcm.Socket})
	want := tgtCache("carol")
	want.KDCOffset = -5 * time.Second
	if err := named.Store(want); err != nil {
		t.Fatal(err)
	}
	if back, err := named.Load(); err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("KCM:0:sclogon read back as %+v, %v", back, err)
	}
	mustContain(t, "klist -c KCM:0:sclogon", harness.Run(t, mitTool(t, c, "", "klist", "-c", "KCM:0:sclogon")), "Default principal: carol@EXAMPLE.COM")
}

// hasServer reports a ticket for server among the cache's credentials (MIT
// kinit also stores configuration entries, realm X-CACHECONF:).
func hasServer(c *ccache.CCache, server string) bool {
	for _, cr := range c.Credentials {
		if cr.Server.String() == server {
			return true
		}
	}
	return false
}

// TestKeyringWithMIT: MIT klist lists what our Store wrote to
// KEYRING:persistent:UID and KEYRING:session:NAME, and we read what MIT
// kinit wrote to a session collection.
func TestKeyringWithMIT(t *testing.T) {
	if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); err != nil {
		harness.Missing(t, fmt.Sprintf("the kernel refuses keyrings here: %v", err))
	}
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{Realm: "EXAMPLE.COM", Principals: []string{"-pw correct-horse bob"}})
	c := kdc.Client(t, harness.MITClientConfig{})
	// A uid nobody uses keeps the test out of real users' persistent keyrings.
	uid := 200000 + rand.IntN(100000)
	session := fmt.Sprintf("sclogon-test-%d", rand.Uint32())
	t.Cleanup(func() { cleanKeyrings(uid, session) })

	for _, name := range []string{fmt.Sprintf("KEYRING:persistent:%d", uid), "KEYRING:session:" + session} {
		cc, err := ccache.Open(name, ccache.Env{EUID: 0})
		if err != nil {
			t.Fatal(err)
		}
		if err := cc.Store(tgtCache("alice")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := harness.Run(t, mitTool(t, c, "", "klist", "-c", name))
		mustContain(t, "MIT klist -c "+name, out, "Default principal: alice@EXAMPLE.COM", "krbtgt/EXAMPLE.COM@EXAMPLE.COM")
	}

	name := "KEYRING:session:" + session
	kinit := mitTool(t, c, name, "kinit", "bob")
	kinit.Stdin = strings.NewReader("correct-horse\n")
	harness.Run(t, kinit)
	cc, _ := ccache.Open(name, ccache.Env{})
	got, err := cc.Load()
	if err != nil || got.Principal.String() != "bob@EXAMPLE.COM" || !hasServer(got, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("MIT's keyring cache read as %+v, %v", got, err)
	}
}

// cleanKeyrings removes the test's collections from the kernel.
func cleanKeyrings(uid int, session string) {
	if p, err := unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, uid, unix.KEY_SPEC_SESSION_KEYRING, 0, 0); err == nil {
		if id, err := unix.KeyctlSearch(p, "keyring", "_krb", 0); err == nil {
			unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
		}
		unix.KeyctlInt(unix.KEYCTL_UNLINK, p, unix.KEY_SPEC_SESSION_KEYRING, 0, 0)
	}
	for _, anchor := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_SESSION_KEYRING} {
		if id, err := unix.KeyctlSearch(anchor, "keyring", "_krb_"+session, 0); err == nil {
			unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, anchor, 0, 0)
		}
	}
}

// TestDIRWithMIT: MIT klist -A lists both principals our Stores put into a
// DIR: collection, and with only default_ccache_name = DIR:… in krb5.conf,
// plain klist finds our primary cache.
func TestDIRWithMIT(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cc")
	c := harness.NewMITClient(t, harness.MITClientConfig{Realm: "EXAMPLE.COM", Libdefaults: []string{"default_ccache_name = DIR:" + dir}})
	cc, err := ccache.Open("DIR:"+dir, ccache.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := cc.Store(tgtCache(u)); err != nil {
			t.Fatal(err)
		}
	}
	out := harness.Run(t, mitTool(t, c, "DIR:"+dir, "klist", "-A"))
	mustContain(t, "klist -A", out, "Default principal: alice@EXAMPLE.COM", "Default principal: bob@EXAMPLE.COM")
	out = harness.Run(t, mitTool(t, c, "", "klist"))
	mustContain(t, "plain klist", out, "Ticket cache: DIR::"+dir+"/tkt", "Default principal: bob@EXAMPLE.COM", "krbtgt/EXAMPLE.COM@EXAMPLE.COM")
}
