package mapping_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

// lister is a counted directory that is also a mapping.GroupLister, its
// GroupsOfAny answered from GroupsOf and counted in batched.
type lister struct {
	*mappingtest.Counting
	batched *atomic.Int64
}

func (d lister) GroupsOfAny(ctx context.Context, dns []string) ([]mapping.Entry, error) {
	d.batched.Add(1)
	var all []mapping.Entry
	for _, dn := range dns {
		e, err := d.Directory.GroupsOf(ctx, dn)
		if err != nil {
			return nil, err
		}
		all = append(all, e...)
	}
	return all, nil
}

// TestGroupsOnePerLevel: a directory that lists the groups of several
// members at once is asked once per level of nesting (4 requests here),
// not once per group (10), and the account gets the same group SIDs.
func TestGroupsOnePerLevel(t *testing.T) {
	f := mappingtest.NewFixture(t)
	var extra strings.Builder
	group := func(cn string, rid uint32, members ...string) {
		fmt.Fprintf(&extra, "dn: cn=%s,%s\nobjectClass: group\ncn: %s\nobjectSid:: %s\n", cn, mappingtest.Suffix, cn,
			base64.StdEncoding.EncodeToString(mappingtest.SID(rid).Marshal()))
		for _, m := range members {
			fmt.Fprintf(&extra, "member: cn=%s,%s\n", m, mappingtest.Suffix)
		}
		extra.WriteString("\n")
	}
	// alice is in staff (→ everyone → loop) and in a1–a3; a1 and a2 are in
	// b1, a3 in b2, b1 and b2 in c1: levels of 1, 4, 3 and 2 members.
	group("a1", 2101, "alice")
	group("a2", 2102, "alice")
	group("a3", 2103, "alice")
	group("b1", 2104, "a1", "a2")
	group("b2", 2105, "a3")
	group("c1", 2106, "b1", "b2")
	base := f.Directory(t, extra.String())
	groupsOf := func(dir mapping.Directory) []certs.SID {
		t.Helper()
		m := mapping.New(dir, mapping.Policy{SIDTrustedCAs: []*x509.Certificate{f.CA}}, mapping.Options{Now: func() time.Time { return mappingtest.Now }})
		c := f.Certs["alice-sid"]
		res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
		if err != nil {
			t.Fatal(err)
		}
		sids := slices.Clone(res.Account.GroupSIDs)
		slices.SortFunc(sids, func(a, b certs.SID) int { return strings.Compare(a.String(), b.String()) })
		return sids
	}
	plain := &mappingtest.Counting{Directory: base}
	want := groupsOf(plain)
	if len(want) != 9 || plain.Groups.Load() != 10 {
		t.Fatalf("without GroupsOfAny: %d groups in %d requests, want 9 in 10", len(want), plain.Groups.Load())
	}
	batching := lister{&mappingtest.Counting{Directory: base}, new(atomic.Int64)}
	got := groupsOf(batching)
	if !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if n, b := batching.Groups.Load(), batching.batched.Load(); n != 1 || b != 3 {
		t.Errorf("%d GroupsOf and %d GroupsOfAny requests, want 1 and 3", n, b)
	}
}
