package kdc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/mapping/ldap"
)

// NTAuthDN is where Active Directory keeps the NTAuth store, below the
// forest's root naming context.
const NTAuthDN = "CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration"

// ReadNTAuthLDAP reads the NTAuth store as a domain controller does: the
// cACertificate values of the certificationAuthority object at dn (by
// default [NTAuthDN] below cfg.BaseDN), over the directory connection cfg
// describes.
func ReadNTAuthLDAP(ctx context.Context, cfg ldap.Config, dn string) ([]*x509.Certificate, error) {
	if dn == "" {
		dn = NTAuthDN + "," + cfg.BaseDN
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = ldap.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConf, err := ntauthTLS(cfg)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: timeout}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	c, err := goldap.DialURL(cfg.URL, goldap.DialWithDialer(dialer), goldap.DialWithTLSConfig(tlsConf))
	if err != nil {
		return nil, fmt.Errorf("kdc: ntauth: %w", err)
	}
	defer c.Close()
	c.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if cfg.StartTLS {
		if err := c.StartTLS(tlsConf); err != nil {
			return nil, fmt.Errorf("kdc: ntauth: StartTLS: %w", err)
		}
	}
	if cfg.BindDN != "" {
		if err := c.Bind(cfg.BindDN, cfg.Password); err != nil {
			return nil, fmt.Errorf("kdc: ntauth: bind as %s: %w", cfg.BindDN, err)
		}
	}
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, int(timeout/time.Second),
		false, "(objectClass=*)", []string{"cACertificate", "cACertificate;binary"}, nil))
	if err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("kdc: ntauth: no NTAuth object at %s", dn)
		}
		return nil, fmt.Errorf("kdc: ntauth: read %s: %w", dn, err)
	}
	var out []*x509.Certificate
	for _, e := range res.Entries {
		for _, a := range e.Attributes {
			if !strings.EqualFold(a.Name, "cACertificate") && !strings.EqualFold(a.Name, "cACertificate;binary") {
				continue
			}
			for _, v := range a.ByteValues {
				cert, err := x509.ParseCertificate(v)
				if err != nil {
					return nil, fmt.Errorf("kdc: ntauth: a cACertificate of %s: %w", dn, err)
				}
				out = append(out, cert)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kdc: ntauth: %s has no cACertificate", dn)
	}
	return out, nil
}

func ntauthTLS(cfg ldap.Config) (*tls.Config, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("kdc: ntauth: %w", err)
	}
	t := &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12}
	if t.ServerName == "" {
		t.ServerName = u.Hostname()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kdc: ntauth: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("kdc: ntauth: no certificate in " + cfg.CAFile)
		}
	}
	return t, nil
}
