package ldif_test

import (
	"testing"

	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
)

func TestMappingSuite(t *testing.T) {
	f := mappingtest.NewFixture(t)
	dir := f.Directory(t, "")
	mappingtest.Run(t, f, dir)
}
