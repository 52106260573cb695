package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

// sidKDC is our KDC for EXAMPLE.COM with alice in its directory, mapped by
// the SID extension of certificates from its CA, as a domain controller does.
type sidKDC struct {
	ca  *pki.CA
	sid certs.SID
	kdc *kdc.Running
	mit *harness.MITClient
}

func startSIDKDC(t *testing.T) *sidKDC {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kdcKey, kdcCert := issueFor(t, ca, pki.KDCProfile, pki.KDC{Realm: "EXAMPLE.COM"})
	sid, err := certs.NewSID(5, 21, 1, 2, 3, 1104)
	if err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf("dn: cn=alice,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: alice\nsn: a\nsAMAccountName: alice\nuserPrincipalName: alice@EXAMPLE.COM\nobjectSid:: %s\nuserAccountControl: 512\n",
		base64.StdEncoding.EncodeToString(sid.Marshal()))
	directory, err := ldif.Read(strings.NewReader(entry))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(kdc.Config{
		Realm: "EXAMPLE.COM", StateDir: filepath.Join(dir, "kdc"),
		Certificate: []*x509.Certificate{kdcCert}, Key: kdcKey,
		Anchors: []*x509.Certificate{ca.Root()}, NTAuth: []*x509.Certificate{ca.Issuer()},
		Directory: directory, Mapping: mapping.Policy{SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP: kdc.OCSPOff,
	}, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &sidKDC{ca: ca, sid: sid}
	if e.kdc, err = kdc.Start(k, []string{"127.0.0.1:0"}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.kdc.Stop() })
	e.mit = harness.NewMITClient(t, harness.MITClientConfig{Realm: "EXAMPLE.COM", KDCs: []string{e.kdc.Addr()}, AnchorsPEM: pki.CertPEM(ca.Root())})
	t.Setenv("KRB5_CONFIG", e.mit.Config)
	t.Setenv("KRB5CCNAME", "FILE:"+e.mit.CCache)
	return e
}
