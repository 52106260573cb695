package ccache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func sample() *CCache {
	alice := Principal{NameType: 1, Components: []string{"alice"}, Realm: "EXAMPLE.COM"}
	t0 := time.Unix(1_800_000_000, 0)
	return &CCache{
		Principal: alice,
		KDCOffset: -3*time.Second - 250*time.Microsecond,
		Credentials: []Credential{{
			Client:    alice,
			Server:    Principal{NameType: 2, Components: []string{"krbtgt", "EXAMPLE.COM"}, Realm: "EXAMPLE.COM"},
			Key:       Key{EType: 18, Value: bytes.Repeat([]byte{0xAB}, 32)},
			AuthTime:  t0,
			StartTime: t0,
			EndTime:   t0.Add(10 * time.Hour),
			RenewTill: t0.Add(7 * 24 * time.Hour),
			Flags:     0x40e10000,
			Addresses: []Address{{Type: 2, Data: []byte{127, 0, 0, 1}}},
			AuthData:  []AuthData{{Type: 1, Data: []byte{0x30, 0x00}}},
			Ticket:    []byte{0x61, 0x03, 0x02, 0x01, 0x05},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	c := sample()
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := data[:2]; !bytes.Equal(got, []byte{0x05, 0x04}) {
		t.Fatalf("version bytes %x, want 0504", got)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, c)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatal("re-marshal differs")
	}
}

func TestParseRejectsEveryTruncation(t *testing.T) {
	data, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Every proper prefix that ends inside the principal or a credential is an
	// error; a prefix ending exactly after the default principal is a valid
	// empty cache.
	empty, _ := (&CCache{Principal: sample().Principal, KDCOffset: sample().KDCOffset}).Marshal()
	for n := 0; n < len(data); n++ {
		_, err := Parse(data[:n])
		if n == len(empty) {
			if err != nil {
				t.Errorf("prefix %d (an empty cache): %v", n, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("prefix of %d bytes parsed", n)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := sample().Marshal()
	cases := map[string][]byte{
		"version 0x0502":   {0x05, 0x02, 0, 0},
		"not a ccache":     []byte("hello"),
		"huge count":       append(append([]byte{}, good[:len(good)-1]...), 0xFF),
		"principal bombs":  {0x05, 0x04, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF},
		"header overflows": {0x05, 0x04, 0, 20, 0, 1},
	}
	for name, data := range cases {
		if _, err := Parse(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := Parse([]byte{0x05, 0x02}); !errors.Is(err, ErrVersion) {
		t.Errorf("version error = %v, want ErrVersion", err)
	}
}

func TestWriteFileIsPrivateAndAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cc")
	if err := WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	before, _ := os.ReadFile(path)

	// A cache that cannot be encoded leaves the old file as it was.
	bad := sample()
	bad.Credentials[0].EndTime = time.Unix(1<<33, 0)
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("writing an unencodable cache succeeded")
	}
	// A rename that fails (the target is a non-empty directory) leaves no
	// temporary file behind.
	target := filepath.Join(dir, "adir")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, sample()); err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the existing cache changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v; a temporary file was left behind", names)
	}
}

func TestLocate(t *testing.T) {
	cases := []struct {
		name, want string
		err        bool
	}{
		{"", "/tmp/krb5cc_1000", false},
		{"FILE:/tmp/x", "/tmp/x", false},
		{"/tmp/y", "/tmp/y", false},
		{"relative", "relative", false},
		{"KEYRING:persistent:1000", "", true},
		{"FILE:", "", true},
	}
	for _, c := range cases {
		got, err := Locate(c.name, 1000)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("Locate(%q) = %q, %v", c.name, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := sample().Marshal()
	f.Add(good)
	f.Add([]byte{0x05, 0x03, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		// What parses re-encodes and parses to the same cache.
		out, err := c.Marshal()
		if err != nil {
			return
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatal("round trip changed the cache")
		}
	})
}

func TestWriteFileOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		// Only root can give a file away; everyone can keep their own.
		path := filepath.Join(t.TempDir(), "cc")
		if err := WriteFileOwned(path, sample(), os.Getuid(), os.Getgid()); err != nil {
			t.Fatal(err)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "cc")
	if err := WriteFileOwned(path, sample(), 4242, 4343); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 4242 || sys.Gid != 4343 || st.Mode().Perm() != 0o600 {
		t.Fatalf("owner %d:%d mode %v, want 4242:4343 0600", sys.Uid, sys.Gid, st.Mode().Perm())
	}
	if err := WriteFileOwned(path, sample(), -1, 0); err == nil {
		t.Fatal("a negative owner was accepted")
	}
}
