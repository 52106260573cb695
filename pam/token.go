package pam

import (
	"context"
	"fmt"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/krb5conf"
)

// TokenSource is a PKCS #11 token named by an MIT PKCS11: identity
// (identity = PKCS11:… in [pam]): SoftHSM, a TPM through tpm2-pkcs11, a
// card through OpenSC. The authtok is the token's PIN, of the length the
// token takes; a token with a PIN pad takes it there and the authtok is
// not sent.
type TokenSource struct {
	Spec string // MIT X509_user_identity syntax, PKCS11:…
	// Profile maps UPN suffixes to realms ([domain_realm]); may be nil.
	Profile *krb5conf.Config
	// Policy is the client's certificate selection rules (Windows'
	// defaults when zero).
	Policy logon.Policy
}

// Open opens the token and chooses, among the certificates the identity
// allows, the first one that names client, as [CardSource] does.
func (s TokenSource) Open(_ context.Context, client ccache.Principal, authtok *Authtok) (kinit.Identity, func(), error) {
	spec, err := identity.ParsePKCS11(s.Spec)
	if err != nil {
		return nil, nil, err
	}
	tok, objs, err := identity.OpenPKCS11(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrReader, err)
	}
	all := make([]card.Certificate, len(objs))
	bySlot := map[card.Slot]pkcs11.Object{}
	for i, o := range objs {
		all[i] = card.Certificate{Slot: o.Slot, Cert: o.Cert}
		bySlot[o.Slot] = o
	}
	chosen, found := chooseCertificate(all, client, s.Profile, s.Policy)
	if !found {
		tok.Close()
		return nil, nil, fmt.Errorf("%w: token %q holds %d certificate(s) the identity allows, none usable for logon names %s", ErrNoCertificate, tok.Label(), len(all), client)
	}
	min, max := tok.PINLength()
	id := identity.NewToken(tok, bySlot[chosen.Slot], chosen.Label, identity.CardOptions{
		PIN: func(string, int) (*card.PIN, error) { return card.NewTokenPIN(authtok.Bytes(), min, max) },
	})
	return id, func() { id.Close() }, nil
}
