package pam

import (
	"errors"

	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/logon"
)

// Conversation is how a logon reaches the person. Under pam_exec the PIN
// was collected before the helper ran ([Authtok]); under pam_sclogon.so the
// helper asks through the module's PAM conversation ([Conv]).
type Conversation interface {
	// Secret asks for the PIN (or password) of the account named name,
	// with retries tries left (-1 when the card does not tell;
	// card.RetriesLow or card.RetriesUncounted for a token that does
	// not count). The caller owns and wipes the bytes.
	Secret(name string, retries int) ([]byte, error)
	// Info tells the person something: "Insert your smart card", "Enter
	// the PIN on the reader".
	Info(msg string)
	// Choose picks one of several usable certificates for the account
	// hint names and returns its index, or a [*logon.AmbiguousError].
	Choose(hint selection.Hint, choices []logon.Verdict) (int, error)
}

// The messages the person is shown while a logon waits on them.
const (
	InsertCard    = "Insert your smart card"
	EnterOnReader = "Enter the PIN on the reader"
)

// ErrAuthtokSpent: the logon wanted a second PIN (a key whose PIN policy
// is "always" asks for each use), and pam_exec collected one. The PIN is
// not presented again without the person having been asked.
var ErrAuthtokSpent = errors.New("pam: the key asks for its PIN at each use (PIN policy always) and pam_exec collects one PIN per logon; use pam_sclogon.so, which asks again")

// Secret hands out the collected authtok, once: a second request is
// [ErrAuthtokSpent], since nobody would be asked for it.
func (a *Authtok) Secret(string, int) ([]byte, error) {
	if a.spent {
		return nil, ErrAuthtokSpent
	}
	b := a.Bytes()
	if len(b) == 0 {
		return nil, ErrNoAuthtok
	}
	a.spent = true
	return b, nil
}

// Info is dropped: pam_exec gives the helper no way to the person.
func (a *Authtok) Info(string) {}

// Choose cannot ask: it takes the one certificate that names the account
// ([selection.PreferNamed]); the KDC still decides.
func (a *Authtok) Choose(hint selection.Hint, choices []logon.Verdict) (int, error) {
	return selection.PreferNamed(hint)(choices)
}
