package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pkcs11"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/krb5conf"
)

// tokenIdentity opens the PKCS #11 token an MIT PKCS11: identity names,
// applies the logon-certificate rules and the choice (--cert, the only
// usable one, or a numbered choice on the terminal) to the certificates it
// allows, and returns an identity that asks for the PIN when the token first
// signs, through the same prompt as a card.
func tokenIdentity(s stdio, f *kinitFlags, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	spec, err := identity.ParsePKCS11(f.identity)
	if err != nil {
		return nil, nil, err
	}
	pol, err := f.card.logonPolicy(conf, realmOf(conf, principal), principal)
	if err != nil {
		return nil, nil, err
	}
	tok, objs, err := identity.OpenPKCS11(spec)
	if err != nil {
		return nil, nil, err
	}
	byFingerprint := map[string]pkcs11.Object{}
	var usable []logon.Verdict
	for _, o := range objs {
		v := pol.Check(card.Certificate{Slot: o.Slot, Cert: o.Cert})
		if trace != nil {
			trace("token %q certificate %X %q: usable %v %v", tok.Label(), o.ID, v.Label, v.Usable(), v.Rejections)
		}
		if v.Usable() {
			usable = append(usable, v)
			byFingerprint[v.Fingerprint] = o
		}
	}
	v, err := logon.Choose(usable, f.card.cert, askChoice(!f.pinStdin))
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	id := identity.NewToken(tok, byFingerprint[v.Fingerprint], v.Label, identity.CardOptions{PIN: cardPINPrompt(s, stdin, f.pinStdin)})
	if trace != nil {
		trace("logon certificate: %s", id.Label())
	}
	return id, func() {
		if trace != nil {
			trace("PKCS #11 calls: %d", id.Calls())
		}
		id.Close()
	}, nil
}

// realmOf is the principal's realm, or the default realm.
func realmOf(conf *krb5conf.Config, principal string) string {
	if i := strings.LastIndexByte(principal, '@'); i >= 0 && !strings.Contains(principal[i:], "\\") {
		return principal[i+1:]
	}
	return conf.DefaultRealm()
}

// explainToken explains the errors of PKCS #11 tokens; ok is false for
// other errors.
func explainToken(err error) (msg, hint string, ok bool) {
	var te *identity.TokenError
	var pe *card.PINError
	var p11err *pkcs11.Error
	tokenName := "the token"
	if errors.As(err, &te) {
		tokenName = fmt.Sprintf("token %q", te.Token)
	}
	switch {
	case te != nil && errors.As(err, &pe) && pe.Retries == 0:
		return tokenName + " refused the PIN, and its PIN is now locked", "its security officer unlocks it with the SO PIN (C_InitPIN: 'pkcs11-tool --init-pin --login --login-type so')", true
	case te != nil && errors.As(err, &pe) && pe.Retries == 1:
		return tokenName + " refused the PIN (final try left)", "the PIN was not retried; one more wrong PIN locks the token", true
	case te != nil && errors.As(err, &pe) && pe.Retries == card.RetriesLow:
		return tokenName + " refused the PIN (tries left: low)", "the PIN was not retried; the token says few tries are left before it locks", true
	case te != nil && errors.As(err, &pe):
		return tokenName + " refused the PIN (" + card.TriesLeft(pe.Retries) + ")", "the PIN was not retried; a token locks after a number of wrong PINs it does not tell", true
	case te != nil && errors.Is(err, card.ErrPINBlocked):
		return tokenName + "'s PIN is locked (no PIN was sent to the token)", "its security officer unlocks it with the SO PIN (C_InitPIN: 'pkcs11-tool --init-pin --login --login-type so')", true
	case errors.Is(err, pkcs11.ErrProtectedPath):
		return strings.TrimPrefix(err.Error(), "identity: "), "use MIT kinit for this token for now", true
	case errors.Is(err, pkcs11.ErrModule):
		return strings.TrimPrefix(err.Error(), "pkcs11: "), "name the module's path with PKCS11:module_name=/path/to/module.so (p11-kit-proxy.so from p11-kit-modules is the default)", true
	case errors.Is(err, pkcs11.ErrNoToken):
		return strings.TrimPrefix(err.Error(), "pkcs11: "), "check the token label (token=) and slot (slotid=); 'pkcs11-tool --module MODULE -L' lists them", true
	case errors.Is(err, identity.ErrNoTokenCertificate):
		return strings.TrimPrefix(err.Error(), "identity: "), "check certid= and certlabel=; 'pkcs11-tool --module MODULE -O' lists the objects with their IDs and labels", true
	case errors.Is(err, pkcs11.ErrUnavailable):
		return err.Error(), "use a build of sclogon made with cgo", true
	case errors.As(err, &p11err):
		return err.Error(), "the token's module refused; its own logging may say why", true
	}
	return "", "", false
}
