package ccache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// cred makes a credential for client from server, valid for an hour from now
// (the kernel expires keyring keys at their end time).
func cred(client Principal, server string) Credential {
	now := time.Now().Truncate(time.Second)
	comps := strings.Split(server, "/")
	return Credential{
		Client: client, Server: Principal{NameType: 2, Components: comps, Realm: client.Realm},
		Key:      Key{EType: 18, Value: bytes.Repeat([]byte{0x42}, 32)},
		AuthTime: now, StartTime: now, EndTime: now.Add(time.Hour), RenewTill: now.Add(24 * time.Hour),
		Flags:  0x40e10000,
		Ticket: []byte{0x61, 0x03, 0x02, 0x01, 0x05},
	}
}

func cacheFor(user string) *CCache {
	p := Principal{NameType: 1, Components: []string{user}, Realm: "EXAMPLE.COM"}
	return &CCache{Principal: p, Credentials: []Credential{cred(p, "krbtgt/EXAMPLE.COM"), cred(p, "host/svc.example.com")}}
}

func mustOpen(t *testing.T, name string, env Env) Cache {
	t.Helper()
	c, err := Open(name, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip stores cc, loads it back and compares; then destroys it.
func roundTrip(t *testing.T, c Cache, cc *CCache) {
	t.Helper()
	if err := c.Store(cc); err != nil {
		t.Fatalf("%s: store: %v", c.Name(), err)
	}
	back, err := c.Load()
	if err != nil {
		t.Fatalf("%s: load: %v", c.Name(), err)
	}
	if !sameCache(back, cc) {
		t.Fatalf("%s: round trip:\n got %+v\nwant %+v", c.Name(), back, cc)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("%s: destroy: %v", c.Name(), err)
	}
	if _, err := c.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%s: load after destroy = %v, want ErrNotFound", c.Name(), err)
	}
}

// sameCache compares caches regardless of credential order: a keyring
// lists its keys in the kernel's order, not the order they were added.
func sameCache(a, b *CCache) bool {
	sorted := func(c *CCache) *CCache {
		cp := *c
		cp.Credentials = slices.Clone(c.Credentials)
		slices.SortFunc(cp.Credentials, func(x, y Credential) int { return strings.Compare(x.Server.String(), y.Server.String()) })
		return &cp
	}
	return reflect.DeepEqual(sorted(a), sorted(b))
}

func TestCCacheRoundTripFileAndMemory(t *testing.T) {
	env := Env{Memory: &Memory{}}
	roundTrip(t, mustOpen(t, "FILE:"+filepath.Join(t.TempDir(), "cc"), env), cacheFor("alice"))
	roundTrip(t, mustOpen(t, filepath.Join(t.TempDir(), "plain"), env), cacheFor("alice"))
	roundTrip(t, mustOpen(t, "MEMORY:x", env), cacheFor("alice"))
	if _, err := Open("MEMORY:x", Env{}); err == nil {
		t.Error("MEMORY: without a Memory opened")
	}
	if _, err := Open("API:x", env); !errors.Is(err, ErrUnsupported) {
		t.Errorf("API: = %v, want ErrUnsupported", err)
	}
}

func TestDIRCollection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cc") // missing: Store creates it 0700, as MIT
	coll := mustOpen(t, "DIR:"+dir, Env{})
	alice, bob := cacheFor("alice"), cacheFor("bob")

	if err := coll.Store(alice); err != nil {
		t.Fatal(err)
	}
	// The first cache takes MIT's initial primary name.
	if got := readPrimary(t, dir); got != "tkt" {
		t.Fatalf("primary %q after the first store, want tkt", got)
	}
	if err := coll.Store(bob); err != nil {
		t.Fatal(err)
	}
	bobFile := readPrimary(t, dir)
	if bobFile == "tkt" || !strings.HasPrefix(bobFile, "tkt") {
		t.Fatalf("a new principal went to %q, want a new tkt* file", bobFile)
	}
	// alice again: her cache is replaced in place and becomes primary.
	alice2 := cacheFor("alice")
	alice2.Credentials = alice2.Credentials[:1]
	if err := coll.Store(alice2); err != nil {
		t.Fatal(err)
	}
	if got := readPrimary(t, dir); got != "tkt" {
		t.Fatalf("primary %q, want tkt (alice's cache)", got)
	}
	if got, err := coll.Load(); err != nil || !reflect.DeepEqual(got, alice2) {
		t.Fatalf("collection load = %+v, %v", got, err)
	}
	list, err := coll.List()
	if err != nil || len(list) != 2 || list[0].Name() != "DIR::"+filepath.Join(dir, "tkt") {
		t.Fatalf("list = %v, %v", names(list), err)
	}
	if got, err := mustOpen(t, "DIR::"+filepath.Join(dir, bobFile), Env{}).Load(); err != nil || !reflect.DeepEqual(got, bob) {
		t.Fatalf("bob's cache = %+v, %v", got, err)
	}
	checkPrivate(t, dir)
	roundTrip(t, mustOpen(t, "DIR::"+filepath.Join(dir, "tktnamed"), Env{}), cacheFor("carol"))
}

func readPrimary(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "primary"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// checkPrivate: the directory is 0700, every file 0600, no temporary left.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, mode %v", err, st.Mode())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		if strings.HasPrefix(e.Name(), ".") || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (a leftover or a public file)", e.Name(), info.Mode().Perm())
		}
	}
}

func names(cs []Cache) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name())
	}
	return out
}

func TestOpenRefusesBadNames(t *testing.T) {
	for _, name := range []string{"FILE:", "DIR:", "DIR::/tmp/x/notkt", "DIR::tkt", "KEYRING:bogus:x", "KEYRING:session:", "MEMORY:"} {
		if c, err := Open(name, Env{Memory: &Memory{}}); err == nil {
			t.Errorf("Open(%q) = %s", name, c.Name())
		}
	}
}

func TestParseKeyringResidual(t *testing.T) {
	cases := map[string]keyringName{
		"krbcc":                 {anchor: "legacy", collection: "krbcc"},
		"session:foo":           {anchor: "session", collection: "foo"},
		"user:foo:krb_ccache_x": {anchor: "user", collection: "foo", subsidiary: "krb_ccache_x"},
		"persistent:1000":       {anchor: "persistent", collection: "1000"},
		"persistent:":           {anchor: "persistent"},
		"persistent:0:tkt":      {anchor: "persistent", collection: "0", subsidiary: "tkt"},
	}
	for in, want := range cases {
		got, err := parseKeyringResidual(in)
		if err != nil || got != want {
			t.Errorf("%q = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestDefaultName(t *testing.T) {
	base := Env{UID: 1000, EUID: 1001, Username: "alice", TempDir: "/var/tmp"}
	cases := []struct {
		env  func(Env) Env
		want string
	}{
		{func(e Env) Env { return e }, "FILE:/tmp/krb5cc_1000"},
		{func(e Env) Env { e.CCName = "KCM:"; e.DefaultCCacheName = "DIR:/x"; return e }, "KCM:"},
		{func(e Env) Env { e.DefaultCCacheName = "KEYRING:persistent:%{uid}"; return e }, "KEYRING:persistent:1000"},
		{func(e Env) Env {
			e.DefaultCCacheName = "DIR:%{TEMP}/%{username}-%{euid}-%{USERID}%{null}"
			return e
		}, "DIR:/var/tmp/alice-1001-1000"},
	}
	for _, c := range cases {
		got, err := DefaultName(c.env(base))
		if err != nil || got != c.want {
			t.Errorf("DefaultName = %q, %v; want %q", got, err, c.want)
		}
	}
	for _, bad := range []string{"FILE:/tmp/%{uid", "FILE:/tmp/%{nope}", "FILE:%{LIBDIR}/x"} {
		if got, err := ExpandPath(bad, base); err == nil {
			t.Errorf("ExpandPath(%q) = %q", bad, got)
		}
	}
}

func TestKCMReplies(t *testing.T) {
	frame := func(status, code uint32, payload []byte) []byte {
		var w writer
		w.u32(uint32(4 + len(payload)))
		w.u32(status)
		w.u32(code)
		return append(w.buf, payload...)
	}
	p, err := readKCMReply(bytes.NewReader(frame(0, 0, []byte("0\x00"))))
	if err != nil {
		t.Fatal(err)
	}
	if name, err := parseKCMName(p); err != nil || name != "0" {
		t.Fatalf("name %q, %v", name, err)
	}
	_, err = readKCMReply(bytes.NewReader(frame(0, uint32(0xFFFFFFFF&kcmCodeFCCNoFile), nil)))
	var ke *KCMError
	if !errors.As(err, &ke) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("NOFILE reply = %v, want a KCMError matching ErrNotFound", err)
	}
	for name, bad := range map[string][]byte{
		"short":       {0, 0, 0, 8, 0, 0, 0, 0, 0, 0},
		"huge":        {0x7f, 0, 0, 0, 0, 0, 0, 0},
		"no code":     {0, 0, 0, 0, 0, 0, 0, 0},
		"status only": {0, 0, 0, 4, 0, 0, 0, 1},
	} {
		if _, err := readKCMReply(bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseKCMUUIDs(make([]byte, 17)); err == nil {
		t.Error("17-byte UUID list accepted")
	}
	if _, err := parseKCMCredList([]byte{0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("a cred list claiming 4G entries accepted")
	}
}

func TestKeyringPayloads(t *testing.T) {
	if got, err := parseKeyringPrimary(marshalKeyringPrimary("krb_ccache_abc")); err != nil || got != "krb_ccache_abc" {
		t.Fatalf("primary = %q, %v", got, err)
	}
	bad := append(marshalKeyringPrimary("x"), 0)
	if _, err := parseKeyringPrimary(bad); err == nil {
		t.Error("trailing byte accepted")
	}
	d := -3*time.Second - 250*time.Microsecond
	if got, err := parseKeyringOffsets(marshalKeyringOffsets(d)); err != nil || got != d {
		t.Fatalf("offsets = %v, %v", got, err)
	}
	if got := unparsePrincipal(Principal{Components: []string{"a/b", "c@d"}, Realm: "R"}); got != `a\/b/c\@d@R` {
		t.Errorf("unparse = %q", got)
	}
}

func FuzzKCMReply(f *testing.F) {
	rec, _ := marshalCredential(cacheFor("alice").Credentials[0])
	var w writer
	w.u32(1)
	w.bytes(rec)
	list := w.buf
	for _, payload := range [][]byte{[]byte("0\x00"), list, make([]byte, 32), {0, 0, 0, 5}} {
		var fr writer
		fr.u32(uint32(4 + len(payload)))
		fr.u32(0)
		fr.u32(0)
		f.Add(append(fr.buf, payload...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readKCMReply(bytes.NewReader(data))
		if err != nil {
			return
		}
		parseKCMName(p)
		parseKCMUUIDs(p)
		parseKCMPrincipal(p)
		parseKCMOffset(p)
		if creds, err := parseKCMCredList(p); err == nil {
			for _, cr := range creds {
				if _, err := marshalCredential(cr); err != nil {
					return
				}
			}
		}
	})
}

func FuzzKeyringPayload(f *testing.F) {
	rec, _ := marshalCredential(cacheFor("alice").Credentials[0])
	pr, _ := marshalPrincipal(cacheFor("alice").Principal)
	f.Add(rec)
	f.Add(pr)
	f.Add(marshalKeyringPrimary("krb_ccache_x"))
	f.Add(marshalKeyringOffsets(time.Second))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseKeyringPrimary(data)
		parseKeyringOffsets(data)
		if p, err := parsePrincipal(data); err == nil {
			// A principal record is canonical: it re-encodes to the same bytes.
			if out, _ := marshalPrincipal(p); !bytes.Equal(out, data) {
				t.Fatalf("principal re-encodes differently")
			}
		}
		if cr, err := parseCredential(data); err == nil {
			if out, err := marshalCredential(cr); err == nil && !bytes.Equal(out, data) {
				t.Fatalf("credential re-encodes differently")
			}
		}
	})
}
