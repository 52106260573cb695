package mapping_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// TestAmbiguityIsLogged: a configuration error reaches the operator's log,
// not only the client's KRB-ERROR.
func TestAmbiguityIsLogged(t *testing.T) {
	f := mappingtest.NewFixture(t)
	dir, err := ldif.Read(strings.NewReader(f.LDIF))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := mapping.New(dir, mapping.Policy{Enforcement: mapping.EnforcementOff, SIDTrustedCAs: []*x509.Certificate{f.CA}},
		mapping.Options{Now: func() time.Time { return mappingtest.Now }, Log: slog.New(slog.NewTextHandler(&buf, nil))})
	c := f.Certs["conflict"]
	_, err = m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
	if !errors.Is(err, mapping.ErrAmbiguous) || mapping.ErrorCode(err) != 75 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(buf.String(), "level=ERROR") || !strings.Contains(buf.String(), "configuration error") ||
		!strings.Contains(buf.String(), "cn=frank") || !strings.Contains(buf.String(), "cn=erin") {
		t.Fatalf("log = %s", buf.String())
	}
}

// TestMethodOrder: the first method in the policy's order names the result.
func TestMethodOrder(t *testing.T) {
	f := mappingtest.NewFixture(t)
	dir, _ := ldif.Read(strings.NewReader(f.LDIF))
	c := f.Certs["alice-sid"]
	for _, order := range [][]mapping.Method{
		{mapping.MethodUPN, mapping.MethodSIDExtension},
		{mapping.MethodSIDExtension, mapping.MethodUPN},
	} {
		m := mapping.New(dir, mapping.Policy{Order: order, SIDTrustedCAs: []*x509.Certificate{f.CA}},
			mapping.Options{Now: func() time.Time { return mappingtest.Now }})
		res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
		if err != nil {
			t.Fatal(err)
		}
		if res.Method != order[0] || len(res.Methods) != 2 || !res.Strong {
			t.Errorf("order %v: method %v, methods %v, strong %v", order, res.Method, res.Methods, res.Strong)
		}
	}
}
