package kdc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

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
	dir, err := ldap.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("kdc: ntauth: %w", err)
	}
	defer dir.Close()
	e, err := dir.Entry(ctx, dn, []string{"cACertificate", "cACertificate;binary"})
	if errors.Is(err, ldap.ErrNoSuchEntry) {
		return nil, fmt.Errorf("kdc: ntauth: no NTAuth object at %s", dn)
	}
	if err != nil {
		return nil, fmt.Errorf("kdc: ntauth: read %s: %w", dn, err)
	}
	var out []*x509.Certificate
	for _, v := range append(e.Get("cACertificate"), e.Get("cACertificate;binary")...) {
		cert, err := x509.ParseCertificate(v)
		if err != nil {
			return nil, fmt.Errorf("kdc: ntauth: a cACertificate of %s: %w", dn, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kdc: ntauth: %s has no cACertificate", dn)
	}
	return out, nil
}
