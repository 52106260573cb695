package ldif_test

import (
	"strings"
	"testing"

	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
	"github.com/sclogon/sclogon/mapping/ldif"
)

func TestMappingSuite(t *testing.T) {
	f := mappingtest.NewFixture(t)
	dir, err := ldif.Read(strings.NewReader(f.LDIF))
	if err != nil {
		t.Fatal(err)
	}
	mappingtest.Run(t, f, dir)
}
