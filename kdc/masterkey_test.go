package kdc

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testMasterKey(t testing.TB, fill byte) *MasterKey {
	t.Helper()
	mk, err := NewMasterKey(bytes.Repeat([]byte{fill}, masterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func testVersion(kvno uint32, notAfter time.Time) []Key {
	return []Key{
		{EType: 18, KVNO: kvno, Value: bytes.Repeat([]byte{byte(kvno)}, 32), NotAfter: notAfter},
		{EType: 17, KVNO: kvno, Value: bytes.Repeat([]byte{byte(kvno) + 1}, 16), NotAfter: notAfter},
	}
}

// TestMasterKeySealOpen: a sealed key version opens to the same keys, kvno
// and retirement time, for its principal only; a wrong master key is told
// apart from tampering, and every byte of the value is covered.
func TestMasterKeySealOpen(t *testing.T) {
	mk := testMasterKey(t, 1)
	const principal = "krbtgt/EXAMPLE.COM@EXAMPLE.COM"
	retired := time.Unix(1_900_000_000, 0)
	keys := testVersion(3, retired)
	sealed, err := mk.seal(principal, keys, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := mk.open(principal, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if v.kvno != 3 || !v.notAfter.Equal(retired) || !sameKeys(v.keys, keys) {
		t.Fatalf("opened kvno %d notAfter %v keys %v, want kvno 3 %v %v", v.kvno, v.notAfter, v.keys, retired, keys)
	}
	if bytes.Contains(sealed, keys[0].Value) {
		t.Fatal("the sealed value holds the key in the clear")
	}

	t.Run("other-principal", func(t *testing.T) {
		if _, err := mk.open("host/ws1.example.com@EXAMPLE.COM", sealed); !errors.Is(err, ErrKeysTampered) {
			t.Fatalf("krbtgt's value opened for another principal: %v", err)
		}
	})
	t.Run("wrong-master-key", func(t *testing.T) {
		_, err := testMasterKey(t, 2).open(principal, sealed)
		if !errors.Is(err, ErrWrongMasterKey) || errors.Is(err, ErrKeysTampered) {
			t.Fatalf("another master key: %v", err)
		}
		if !strings.Contains(err.Error(), mk.ID()) {
			t.Errorf("the error does not name the master key the value was sealed under (%s): %v", mk.ID(), err)
		}
	})
	t.Run("every-byte", func(t *testing.T) {
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x01
			_, err := mk.open(principal, bad)
			idByte := i >= len(sealMagic) && i < len(sealMagic)+8
			switch {
			case idByte && !errors.Is(err, ErrWrongMasterKey):
				t.Fatalf("byte %d (key ID) flipped: %v", i, err)
			case !idByte && !errors.Is(err, ErrKeysTampered):
				t.Fatalf("byte %d flipped: %v", i, err)
			}
		}
		for n := range len(sealed) {
			if _, err := mk.open(principal, sealed[:n]); err == nil {
				t.Fatalf("truncated to %d bytes: opened", n)
			}
		}
	})
	t.Run("current", func(t *testing.T) {
		s, err := mk.seal(principal, testVersion(4, time.Time{}), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := mk.open(principal, s); err != nil || !v.notAfter.IsZero() || v.kvno != 4 {
			t.Fatalf("current version: %+v %v", v, err)
		}
	})
	t.Run("mixed-versions", func(t *testing.T) {
		mixed := append(testVersion(1, time.Time{}), testVersion(2, time.Time{})...)
		if _, err := mk.seal(principal, mixed, rand.Reader); err == nil {
			t.Fatal("sealed two kvnos as one value")
		}
	})
	if s := fmt.Sprintf("%v %+v %s %x %q", mk, mk, mk, mk, mk); strings.Contains(s, strings.Repeat("01", 8)) {
		t.Fatalf("a master key prints its bytes: %s", s)
	}
}

// TestReadMasterKey: the file written reads back to the same key; a file
// others can read, or one that is not 64 hex digits, is refused.
func TestReadMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := WriteMasterKey(path, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := WriteMasterKey(path, rand.Reader); err == nil {
		t.Fatal("WriteMasterKey replaced an existing master key")
	}
	a, err := ReadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.seal("p@R", testVersion(1, time.Time{}), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.open("p@R", s); err != nil {
		t.Fatalf("the same file read twice gives another key: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMasterKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable master key: %v", err)
	}
	for name, content := range map[string]string{
		"short":  strings.Repeat("ab", 31) + "\n",
		"long":   strings.Repeat("ab", 33),
		"nothex": strings.Repeat("zz", 32),
		"raw":    strings.Repeat("\x01", 32),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadMasterKey(p); err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzOpenSealedKey: opening never panics, and what opens was sealed.
func FuzzOpenSealedKey(f *testing.F) {
	mk := testMasterKey(f, 7)
	for kvno := range uint32(3) {
		s, err := mk.seal("krbtgt/R@R", testVersion(kvno+1, time.Time{}), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte("sck\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := mk.open("krbtgt/R@R", b)
		if err != nil {
			return
		}
		if len(v.keys) == 0 {
			t.Fatal("opened to no keys")
		}
		again, err := mk.seal("krbtgt/R@R", v.keys, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if w, err := mk.open("krbtgt/R@R", again); err != nil || !sameKeys(w.keys, v.keys) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
