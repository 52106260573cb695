package ldif_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

// locator is the LDIF directory as a mapping.Locator, its Locate the union
// of the three lookups it stands for, counting what the mapper asks.
type locator struct {
	*mappingtest.Counting
	locates atomic.Int32
}

func (d *locator) Locate(ctx context.Context, q mapping.LocateQuery) ([]mapping.Entry, error) {
	d.locates.Add(1)
	var all []mapping.Entry
	add := func(es []mapping.Entry, err error) error {
		all = append(all, es...)
		return err
	}
	if q.SID != nil {
		if err := add(d.Directory.FindBySID(ctx, *q.SID)); err != nil {
			return nil, err
		}
	}
	if err := add(d.Directory.FindByAltSecID(ctx, q.AltSecIDs)); err != nil {
		return nil, err
	}
	for _, u := range q.UPNs {
		if err := add(d.Directory.FindByUPN(ctx, u)); err != nil {
			return nil, err
		}
	}
	for _, n := range q.SAMAccountNames {
		if err := add(d.Directory.FindBySAMAccountName(ctx, n)); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	var out []mapping.Entry
	for _, e := range all {
		if !seen[e.DN] {
			seen[e.DN] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// TestMappingSuiteThroughLocate: the whole mapping suite through a
// directory that is a mapping.Locator gives every answer it gives through
// the methods' own lookups, with one Locate per mapping and none of the
// per-method or name-hint lookups.
func TestMappingSuiteThroughLocate(t *testing.T) {
	f := mappingtest.NewFixture(t)
	dir := f.Directory(t, "")
	loc := &locator{Counting: &mappingtest.Counting{Directory: dir}}
	mappingtest.Run(t, f, loc)
	if loc.locates.Load() == 0 || loc.Finds.Load() != 0 {
		t.Fatalf("%d Locate calls and %d per-method lookups; want Locate only", loc.locates.Load(), loc.Finds.Load())
	}
}
