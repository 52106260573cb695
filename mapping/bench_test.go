package mapping_test

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

// BenchmarkMapLDIF is one uncached Map over the in-memory LDIF directory,
// set up as the KDC runs it: no TTL cache, the client's name as the hint,
// and a text log at INFO, so that the "certificate mapped" line is written
// (and discarded). The cases are the two ways a strong mapping is found: a
// trusted SID extension with nested groups, and altSecurityIdentities by
// issuer and serial number.
//
//	go test -run '^$' -bench MapLDIF -benchmem -cpu 1 ./mapping
func BenchmarkMapLDIF(b *testing.B) {
	f := mappingtest.NewFixture(b)
	dir := f.Directory(b, "")
	m := mapping.New(dir, mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.CA}},
		mapping.Options{Now: func() time.Time { return mappingtest.Now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, tc := range []struct{ name, cert, hint, want string }{
		{"sid-extension", "alice-sid", "alice", "alice"},
		{"issuer-serial", "bob-sr", "bob", "bob"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := f.Certs[tc.cert]
			req := mapping.Request{Cert: c.Cert, Issuer: c.Issuer, Hint: mapping.Hint{Name: tc.hint, Realm: "EXAMPLE.COM"}}
			b.ReportAllocs()
			for b.Loop() {
				res, err := m.Map(context.Background(), req)
				if err != nil || res.Account.SAMAccountName != tc.want || !res.Strong {
					b.Fatalf("Map: %+v, %v", res, err)
				}
			}
		})
	}
}
