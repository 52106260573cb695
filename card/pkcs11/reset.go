//go:build cgo

package pkcs11

import (
	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/card"
)

// ResetRole logs the user out (C_Logout), so that the next C_Login checks
// the PIN again instead of answering CKR_USER_ALREADY_LOGGED_IN: what a
// PIN cache policy that keeps no PIN needs. A token has one user PIN;
// role is not consulted.
func (t *Token) ResetRole(card.PINRole) error {
	if !t.loggedIn {
		return nil
	}
	t.calls++
	if err := t.ctx.Logout(t.session); err != nil && code(err) != p11.CKR_USER_NOT_LOGGED_IN {
		return wrap("C_Logout", err)
	}
	t.loggedIn = false
	t.keys, t.always = nil, nil // private objects are found again after the next login
	return nil
}
