package pam

import (
	"context"
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
)

// ErrNoCertificate: no certificate on the card may log on (the logon rules
// of package certs/logon rejected them all); no PIN try was spent.
var ErrNoCertificate = errors.New("pam: no certificate on the card may log on")

// ErrReader: the card readers cannot be reached (no PC/SC daemon, no
// PC/SC support in this build), or the card cannot be opened.
var ErrReader = errors.New("pam: card reader")

// CardSource is the card in a reader: the production identity. It does not
// guess whose certificate it is: the KDC maps the certificate and refuses
// one that does not belong to the account the user name hints at.
type CardSource struct {
	Provider card.Provider
	// Reader picks the reader whose name is or contains it; empty means
	// every reader that holds a card.
	Reader string
	// Cache holds the certificates of cards seen before; nil reads the
	// card in full each time.
	Cache *card.Cache
	// Policy is the client's certificate selection rules (Windows'
	// defaults when zero); Open sets its UserHint.
	Policy logon.Policy
	// PINCache is how long the PIN typed is kept ([pam] pin_cache); the
	// zero value is the normal policy: asked once for the logon.
	PINCache card.PINCachePolicy
}

// Open chooses the logon certificate with [selection.Select] (several
// usable ones are offered through conv) and returns an identity that asks
// conv for the PIN once, when the card first signs, unless the card is
// blocked.
func (s CardSource) Open(ctx context.Context, hint selection.Hint, conv Conversation) (kinit.Identity, func(), error) {
	pol := s.Policy
	pol.UserHint = hint.Text
	sel, err := selection.Select(selection.Request{Provider: s.Provider, Reader: s.Reader, Cache: s.Cache, Policy: pol, Choose: func(vs []logon.Verdict) (int, error) { return conv.Choose(hint, vs) }})
	var nu *selection.NoUsableError
	switch {
	case errors.Is(err, card.ErrNoCard):
		return nil, nil, err
	case selection.Absent(err):
		return nil, nil, fmt.Errorf("%w: %w", ErrReader, err)
	case errors.As(err, &nu):
		return nil, nil, fmt.Errorf("%w: %w", ErrNoCertificate, err)
	case err != nil:
		return nil, nil, err
	}
	v := sel.Verdict
	// The PIN is asked for when the AuthPack is signed: a KDC that does
	// not answer costs no try. A blocked card sends no VERIFY.
	id := identity.NewCard(sel.Card, v.Slot, v.Cert, fmt.Sprintf("%s in %q", v.Label, sel.Reader()), pinOptions(ctx, conv, hint, s.PINCache, card.NewPIN))
	return id, func() { id.Close(); sel.Close() }, nil
}

// pinOptions ask for the PIN through conv, in the name the user logs on
// as, kept under policy: by default (normal) the PIN typed is the one PIN
// of the logon, asked once and kept until the logon ends; timed, none and
// always-prompt ask again as `sclogon kinit --pin-cache` does. A key whose
// own PIN policy is "always" is asked for again, through conv, for each
// use, and a key whose policy is "never" is not asked for. A card in a PIN-pad reader
// takes the PIN there: the person is told to enter it on the reader.
func pinOptions(ctx context.Context, conv Conversation, hint selection.Hint, policy card.PINCachePolicy, newPIN func([]byte) (*card.PIN, error)) identity.CardOptions {
	return identity.CardOptions{
		Ask: func(ctx context.Context, req card.PINRequest) (*card.PIN, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b, err := conv.Secret(hint.Principal.String(), req.Retries)
			if err != nil {
				return nil, err
			}
			return newPIN(b)
		},
		CachePolicy: policy,
		OnDevice:    func(string, int) { conv.Info(EnterOnReader) },
		Context:     ctx,
	}
}
