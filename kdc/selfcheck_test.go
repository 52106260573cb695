package kdc_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
)

// TestKDCSendsItsChain: a KDC whose certificate file holds the leaf alone (as
// `sclogon pki issue kdc` writes it) sends its issuing CA from the
// intermediates setting, so a client that trusts only the root and knows no
// intermediate verifies the reply.
func TestKDCSendsItsChain(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.Certificate = cfg.Certificate[:1]
	k := startKDC(t, cfg, kdc.Options{})
	alice := f.users["alice"]
	id, err := identity.Parse("FILE:"+alice.certPath+","+alice.keyPath, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.ca.Root())
	req := kinit.Request{
		Client:   ccache.Principal{NameType: 1, Components: []string{"alice"}, Realm: realm},
		Identity: id,
		Policy:   kinit.Policy{Anchors: roots, OCSP: kinit.OCSPOff},
		KDCs:     []transport.KDC{{Addr: k.addr}},
	}
	c := &kinit.Client{Transport: &transport.Client{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Run(ctx, req); err != nil {
		t.Fatalf("a client that trusts only the root: %v", err)
	}
}

// TestKDCChecksItsCertificate: the KDC refuses to start with a certificate
// that is expired or not yet valid, and warns of one that expires within a
// day, that names no krbtgt/REALM, or that has no path to the anchors.
func TestKDCChecksItsCertificate(t *testing.T) {
	f := getFixture(t)
	leaf := f.kdcCert
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"expired", leaf.NotAfter.Add(time.Minute)},
		{"not-yet-valid", leaf.NotBefore.Add(-time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kdc.New(f.config(t), kdc.Options{Rand: rand.Reader, Now: func() time.Time { return tc.now }})
			if !errors.Is(err, kdc.ErrOwnCertificate) {
				t.Fatalf("New: %v, want ErrOwnCertificate", err)
			}
		})
	}
	t.Run("warnings", func(t *testing.T) {
		// A certificate from another CA, for another realm, with a day
		// to live.
		key, err := pki.GenerateKey(pki.P256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		prof, err := pki.KDCProfile(pki.KDC{Realm: "OTHER.COM", DNSNames: []string{"kdc.other.com"}})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := f.other.Issue(key.Public(), prof)
		if err != nil {
			t.Fatal(err)
		}
		cfg := f.config(t)
		cfg.Certificate, cfg.Key = []*x509.Certificate{cert}, key
		cfg.Anchors = []*x509.Certificate{f.ca.Root()}
		var log harness.Buffer
		now := cert.NotAfter.Add(-time.Hour)
		if _, err := kdc.New(cfg, kdc.Options{Rand: rand.Reader, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(&log, nil))}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"expires within a day", "does not name krbtgt/EXAMPLE.COM@EXAMPLE.COM", "no path to the anchors"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
	})
}

// TestKDCCertificateIsAnAnchor: a KDC whose own certificate is one of its
// anchors (a self-signed KDC certificate that clients are given directly)
// starts, with nothing between its certificate and the anchor, where the
// path check used to slice past the end of a one-certificate path.
func TestKDCCertificateIsAnAnchor(t *testing.T) {
	f := getFixture(t)
	cfg := f.config(t)
	cfg.Certificate = cfg.Certificate[:1]
	cfg.Anchors = append(cfg.Anchors, f.kdcCert)
	k, err := kdc.New(cfg, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("a KDC whose certificate is an anchor: %v", err)
	}
	if k.Realm() != realm {
		t.Fatalf("realm %q", k.Realm())
	}
}
