package kdc

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/sclogon/sclogon/mapping/ldap"
)

// loadKeys reads where the realm's keys live: keys = file (state_dir,
// the default) or keys = ldap (the [directory], sealed under master_key).
func (l *loader) loadKeys(c *Config) error {
	kind, _, err := l.one("kdc", "keys")
	if err != nil {
		return err
	}
	if c.KeyRefresh, err = l.duration("kdc", "keys_refresh", 0); err != nil {
		return err
	}
	switch kind {
	case "", "file":
		for _, key := range []string{"master_key", "keys_dn"} {
			if len(l.prof.Values("kdc", key)) > 0 {
				return l.errf("kdc."+key, "only with keys = ldap")
			}
		}
		if c.StateDir == "" {
			return l.errf("kdc.state_dir", "required (the keys are in state_dir/keys.json unless keys = ldap)")
		}
		return nil
	case "ldap":
		return l.loadLDAPKeys(c)
	}
	return l.errf("kdc.keys", "%q is not file or ldap", kind)
}

func (l *loader) loadLDAPKeys(c *Config) error {
	dir, ok := c.Directory.(*ldap.Directory)
	if !ok {
		return l.errf("kdc.keys", "ldap needs an LDAP directory (url under [directory]), not an LDIF file")
	}
	mkPath, ok, err := l.one("kdc", "master_key")
	if err != nil || !ok {
		return errors.Join(err, l.errf("kdc.master_key", "required with keys = ldap (make one with: openssl rand -hex 32 > master.key; chmod 600 master.key)"))
	}
	mk, err := ReadMasterKey(l.path(mkPath))
	if err != nil {
		return l.errf("kdc.master_key", "%v", err)
	}
	dn, _, err := l.one("kdc", "keys_dn")
	if err != nil {
		return err
	}
	if c.KeyBackend, err = NewLDAPKeys(dir, dn, mk, rand.Reader); err != nil {
		return l.errf("kdc.keys_dn", "%v", err)
	}
	return nil
}

// OpenKeys opens the realm's keys as [New] does: c.KeyBackend, or
// StateDir/keys.json. A key version replaced by a rollover is kept for the
// longest a ticket issued under it can live: the ticket lifetime, the
// renewable lifetime and the clock skew.
func (c *Config) OpenKeys(ctx context.Context, rand io.Reader, now func() time.Time, log *slog.Logger) (*KeyStore, error) {
	retain := orDefault(c.TicketLifetime, 10*time.Hour) + max(orDefault(c.RenewLifetime, 7*24*time.Hour), 0) +
		orDefault(c.MaxSkew, 5*time.Minute)
	opts := KeyStoreOptions{Rand: rand, Now: now, Log: log, Retain: retain, Refresh: c.KeyRefresh}
	if c.KeyBackend != nil {
		return NewKeyStore(ctx, c.KeyBackend, opts)
	}
	b, err := OpenFileKeys(c.StateDir)
	if err != nil {
		return nil, err
	}
	opts.MissReload = -1 // a stat of keys.json, as cheap as the lookup
	return NewKeyStore(ctx, b, opts)
}
