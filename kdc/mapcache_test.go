package kdc_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kdc"
)

// TestMappingCacheTTLConfig: [mapping] cache_ttl reaches the mapping
// policy, absent it is off, and a bad value is refused naming the key.
func TestMappingCacheTTLConfig(t *testing.T) {
	dir := configDir(t, getFixture(t))
	base := "[kdc]\n realm = EXAMPLE.COM\n state_dir = state\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ntauth = issuing.pem\n ocsp = off\n" +
		"[directory]\n ldif = users.ldif\n"
	for _, tc := range []struct {
		mapping string
		want    time.Duration
		bad     bool
	}{
		{"", 0, false},
		{"[mapping]\n cache_ttl = 30s\n", 30 * time.Second, false},
		{"[mapping]\n cache_ttl = 0\n", 0, false},
		{"[mapping]\n cache_ttl = soon\n", 0, true},
	} {
		path := filepath.Join(dir, "kdc.conf")
		if err := os.WriteFile(path, []byte(base+tc.mapping), 0o600); err != nil {
			t.Fatal(err)
		}
		fc, err := kdc.LoadConfig(path)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "mapping.cache_ttl") {
				t.Errorf("%q: %v, want an error naming mapping.cache_ttl", tc.mapping, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.mapping, err)
		}
		if fc.Mapping.CacheTTL != tc.want {
			t.Errorf("%q: cache_ttl %v, want %v", tc.mapping, fc.Mapping.CacheTTL, tc.want)
		}
	}
}
