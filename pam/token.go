package pam

import (
	"context"
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
)

// TokenSource is a PKCS #11 token named by an MIT PKCS11: identity
// (identity = PKCS11:… in [pam]): SoftHSM, a TPM through tpm2-pkcs11, a
// card through OpenSC. The PIN is of the length the token takes; a token
// with a PIN pad takes it there and none is asked for.
type TokenSource struct {
	Spec string // MIT X509_user_identity syntax, PKCS11:…
	// Policy is the client's certificate selection rules (Windows'
	// defaults when zero); Open sets its UserHint.
	Policy logon.Policy
	// PINCache is how long the PIN typed is kept ([pam] pin_cache).
	PINCache card.PINCachePolicy
}

// Open opens the token and chooses among the certificates the identity
// allows as [CardSource] does: by the logon rules, and through conv when
// several may log on; the KDC decides whose it is.
func (s TokenSource) Open(ctx context.Context, hint selection.Hint, conv Conversation) (kinit.Identity, func(), error) {
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
	pol := s.Policy
	pol.UserHint = hint.Text
	chosen, err := logon.Choose(logon.Usable(pol.CheckAll(all)), "", func(vs []logon.Verdict) (int, error) { return conv.Choose(hint, vs) })
	if errors.Is(err, logon.ErrNoUsable) {
		tok.Close()
		return nil, nil, fmt.Errorf("%w: token %q holds %d certificate(s) the identity allows, none usable for logon", ErrNoCertificate, tok.Label(), len(all))
	}
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	min, max := tok.PINLength()
	id := identity.NewToken(tok, bySlot[chosen.Slot], chosen.Label, pinOptions(ctx, conv, hint, s.PINCache, func(b []byte) (*card.PIN, error) {
		return card.NewTokenPIN(b, min, max)
	}))
	return id, func() { id.Close() }, nil
}
