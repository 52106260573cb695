package pam

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/krb5conf"
)

// ErrNoCertificate: no certificate on the card is for the PAM user; no PIN
// try was spent.
var ErrNoCertificate = errors.New("pam: no certificate on the card is for this user")

// ErrReader: the card readers cannot be reached (no PC/SC daemon, no
// PC/SC support in this build), or the card cannot be opened.
var ErrReader = errors.New("pam: card reader")

// CardSource is the card in a reader: the production identity.
type CardSource struct {
	Provider card.Provider
	// Reader picks the reader whose name contains it; empty means the only
	// reader that holds a card.
	Reader string
	// Profile maps UPN suffixes to realms ([domain_realm]); may be nil.
	Profile *krb5conf.Config
	// Policy is the client's certificate selection rules (Windows'
	// defaults when zero).
	Policy logon.Policy
}

// Open finds the card and chooses a certificate that names client; the
// identity presents the PIN once, on first use, unless the card is blocked.
func (s CardSource) Open(_ context.Context, client ccache.Principal, authtok *Authtok) (kinit.Identity, func(), error) {
	readers, err := card.List(s.Provider)
	if errors.Is(err, card.ErrNoCard) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrReader, err)
	}
	reader, err := pickReader(readers, s.Reader)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.Provider.Open(reader)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrReader, err)
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	all, err := c.Certificates()
	if err != nil {
		return nil, nil, err
	}
	chosen, found := chooseCertificate(all, client, s.Profile, s.Policy)
	if !found {
		return nil, nil, fmt.Errorf("%w: the card in %q holds %d certificate(s), none usable for logon names %s", ErrNoCertificate, reader, len(all), client)
	}
	// The PIN is presented once, when the AuthPack is signed: a KDC that
	// does not answer costs no try. A blocked card sends no VERIFY.
	id := identity.NewCard(c, chosen.Slot, chosen.Cert, fmt.Sprintf("%s in %q", chosen.Label, reader), identity.CardOptions{
		PIN: func(string, int) (*card.PIN, error) { return card.NewPIN(authtok.Bytes()) },
	})
	ok = true
	return id, func() { id.Close(); c.Close() }, nil
}

func pickReader(readers []string, want string) (string, error) {
	if want == "" {
		if len(readers) > 1 {
			return "", fmt.Errorf("pam: %d readers hold a card (%s); set reader in [pam]", len(readers), strings.Join(readers, ", "))
		}
		return readers[0], nil
	}
	for _, r := range readers {
		if strings.Contains(r, want) {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w in a reader named like %q (readers with a card: %s)", card.ErrNoCard, want, strings.Join(readers, ", "))
}

// chooseCertificate takes the first certificate, in slot order (9A
// first), that the logon rules of package certs/logon accept and that names
// client: by id-pkinit-san, or by a UPN whose user part is client's name and
// whose suffix is client's realm (directly or through [domain_realm]).
func chooseCertificate(all []card.Certificate, client ccache.Principal, conf *krb5conf.Config, pol logon.Policy) (logon.Verdict, bool) {
	pol.UserHint = client.Components[0]
	for _, c := range all {
		if v := pol.Check(c); v.Usable() && namesClient(c.Cert, client, conf) {
			return v, true
		}
	}
	return logon.Verdict{}, false
}

func namesClient(cert *x509.Certificate, client ccache.Principal, conf *krb5conf.Config) bool {
	if sans, err := certs.PKINITSANs(cert); err == nil {
		for _, p := range sans {
			if p.Realm == client.Realm && slices.Equal(p.Name, client.Components) {
				return true
			}
		}
	}
	upns, _ := certs.UPNs(cert)
	for _, u := range upns {
		user, suffix, ok := strings.Cut(u, "@")
		if !ok || len(client.Components) != 1 || !strings.EqualFold(user, client.Components[0]) {
			continue
		}
		if strings.EqualFold(suffix, client.Realm) || (conf != nil && conf.HostRealm(suffix) == client.Realm) {
			return true
		}
	}
	return false
}
