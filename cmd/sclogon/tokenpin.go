package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/kinit/identity"
)

// errPadChange: miekg/pkcs11 passes an empty PIN to C_SetPIN and C_InitPIN
// as a pointer, never the NULL a protected authentication path wants.
var errPadChange = errors.New("the token takes its PINs on its own PIN pad, and sclogon cannot pass it the NULL PIN C_SetPIN and C_InitPIN want there")

// tokenPIN is 'sclogon pin' for the PKCS #11 token an MIT PKCS11: identity
// names: the same three operations, with the token's flags for tries left
// and its own PIN length.
func tokenPIN(s stdio, spec, op string, pinStdin bool) int {
	sp, err := identity.ParsePKCS11(spec)
	if err != nil {
		return cardFail(s, usageError{err})
	}
	tok, err := pkcs11.Open(sp.Config())
	if err != nil {
		return cardFail(s, err)
	}
	defer tok.Close()
	fail := func(err error) int { return cardFail(s, &identity.TokenError{Token: tok.Label(), Err: err}) }
	n, err := tok.PINRetries()
	if err != nil {
		return fail(err)
	}
	if op == "status" {
		fmt.Fprintf(s.out, "%s: %s\n", tok.Reader(), tokenPINStatus(n, tok.ProtectedPath()))
		return exitOK
	}
	if tok.ProtectedPath() {
		return fail(errPadChange)
	}
	min, max := tok.PINLength()
	a := pinAsker{stdin: bufio.NewReader(s.in), fromStdin: pinStdin, newPIN: func(b []byte) (*card.PIN, error) { return card.NewTokenPIN(b, min, max) }}
	if op == "change" {
		err = changeTokenPIN(s, tok, a, n)
	} else {
		err = unblockTokenPIN(s, tok, a)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}

// tokenPINStatus says what the token's flags say of its user PIN.
func tokenPINStatus(n int, pad bool) string {
	var msg string
	switch {
	case n == 0:
		msg = "the PIN is locked; its security officer unlocks it with 'sclogon pin unblock' and the SO PIN"
	case n == -1:
		msg = "the token needs no PIN"
	case n == 1:
		msg = "final try: one more wrong PIN locks the token"
	case n == card.RetriesLow:
		msg = "tries left: low (the token does not say how many)"
	default:
		msg = "the PIN is not locked (the token does not count tries left)"
	}
	if pad {
		msg += "; the PIN is entered on the token's PIN pad or fingerprint reader"
	}
	return msg
}

func changeTokenPIN(s stdio, tok *pkcs11.Token, a pinAsker, n int) error {
	if n == 0 {
		return card.ErrPINBlocked
	}
	if n == 1 {
		fmt.Fprintln(s.errOut, "sclogon: warning: this is the final PIN try; a wrong PIN now locks the token")
	}
	old, err := a.ask(fmt.Sprintf("PIN for token %q (%s): ", tok.Label(), card.TriesLeft(n)))
	if err != nil {
		return err
	}
	defer old.Wipe()
	np, err := a.askNew("PIN")
	if err != nil {
		return err
	}
	defer np.Wipe()
	if err := tok.ChangePIN(old, np); err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the PIN of token %q is changed\n", tok.Label())
	return nil
}

func unblockTokenPIN(s stdio, tok *pkcs11.Token, a pinAsker) error {
	so, err := a.ask(fmt.Sprintf("SO PIN (security officer) for token %q: ", tok.Label()))
	if err != nil {
		return err
	}
	defer so.Wipe()
	np, err := a.askNew("PIN")
	if err != nil {
		return err
	}
	defer np.Wipe()
	if err := tok.UnblockPIN(so, np); err != nil {
		return err
	}
	fmt.Fprintf(s.errOut, "sclogon: the PIN of token %q is set and unlocked\n", tok.Label())
	return nil
}
