package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
func tokenIdentity(s stdio, f *kinitFlags, idSpec string, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	spec, err := identity.ParsePKCS11(idSpec)
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
	opt, err := tokenPINOptions(s, tok, stdin, f, conf, realmOf(conf, principal))
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	id := identity.NewToken(tok, byFingerprint[v.Fingerprint], v.Label, opt)
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

// tokenPINOptions ask for a token's PIN as for a card's, with the token's
// own PIN length and under the same PIN cache policy (--pin-cache, else
// krb5.conf's); a key that wants a login per use (CKA_ALWAYS_AUTHENTICATE)
// is asked for again whatever the policy. A token with a PIN pad or a
// fingerprint reader is not asked, and the person is told to enter the PIN
// there (Windows' "external PIN").
func tokenPINOptions(s stdio, tok *pkcs11.Token, stdin *bufio.Reader, f *kinitFlags, conf *krb5conf.Config, realm string) (identity.CardOptions, error) {
	pol, err := pinCachePolicy(conf, realm, f.pinCache)
	if err != nil {
		return identity.CardOptions{}, err
	}
	min, max := tok.PINLength()
	newPIN := func(b []byte) (*card.PIN, error) { return card.NewTokenPIN(b, min, max) }
	return identity.CardOptions{
		// A token's PIN is its user PIN, not a PIV role: "PIN for
		// alice@EXAMPLE.COM to sign the logon request (tries left: not
		// counted): ".
		Ask: func(ctx context.Context, req card.PINRequest) (*card.PIN, error) {
			if req.Retries == 1 {
				fmt.Fprintln(s.errOut, "sclogon: warning: this is the last PIN try; a wrong PIN locks the token")
			}
			prompt := "PIN for " + req.For
			if p := req.Purpose.String(); p != "" {
				prompt += " " + p
			}
			a := pinAsker{ctx: ctx, stdin: stdin, fromStdin: f.pinStdin, newPIN: newPIN}
			return a.ask(fmt.Sprintf("%s (%s): ", prompt, card.TriesLeft(req.Retries)))
		},
		CachePolicy: pol,
		OnDevice: func(label string, retries int) {
			if retries == 1 {
				fmt.Fprintln(s.errOut, "sclogon: warning: this is the final PIN try; a wrong PIN locks the token")
			}
			fmt.Fprintf(s.errOut, "sclogon: enter the PIN for %s on the PIN pad or fingerprint reader of token %q; sclogon waits for the token\n", label, tok.Label())
		},
	}, nil
}

// configIdentities are krb5.conf's pkinit_identities for realm, looked up
// as MIT's client does ([realms] REALM, then [libdefaults] REALM, then
// [libdefaults]), with ENV:NAME replaced by the variable's value and
// dropped when it is unset, as MIT skips it. MIT's client reads no
// pkinit_identity: that one is the KDC's own identity, in kdc.conf.
func configIdentities(conf *krb5conf.Config, realm string) []string {
	var out []string
	for _, v := range conf.RealmValues(realm, "pkinit_identities") {
		for i := 0; i < 8 && strings.HasPrefix(v, "ENV:"); i++ {
			v = os.Getenv(strings.TrimPrefix(v, "ENV:"))
		}
		if v != "" && !strings.HasPrefix(v, "ENV:") {
			out = append(out, v)
		}
	}
	return out
}

// configIdentity is the first of krb5.conf's pkinit_identities that opens,
// tried in order as MIT does. MIT moves on only from a value it cannot
// parse; this also moves on from a token, module, certificate or file that
// is absent, so a list may name a token and a fallback.
func configIdentity(s stdio, f *kinitFlags, ids []string, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	var msgs []string
	var first error
	for _, spec := range ids {
		id, done, err := openIdentity(s, f, spec, conf, principal, stdin, trace)
		if err == nil {
			return id, done, nil
		}
		if trace != nil {
			trace("pkinit_identities %q: %v", spec, err)
		}
		if !absent(err) {
			return nil, nil, err
		}
		if first == nil {
			first = err
		}
		msgs = append(msgs, fmt.Sprintf("%s: %v", spec, err))
	}
	return nil, nil, fmt.Errorf("%w (none of krb5.conf's pkinit_identities is present: %s)", first, strings.Join(msgs, "; "))
}

// openIdentity opens a PKCS11: token or a software identity.
func openIdentity(s stdio, f *kinitFlags, spec string, conf *krb5conf.Config, principal string, stdin *bufio.Reader, trace func(string, ...any)) (kinit.Identity, func(), error) {
	if identity.IsPKCS11(spec) {
		return tokenIdentity(s, f, spec, conf, principal, stdin, trace)
	}
	id, err := identity.Parse(spec, identity.Options{Password: func(prompt string) ([]byte, error) {
		if f.pinStdin {
			return readSecretLine(stdin)
		}
		return promptTerminal(prompt)
	}})
	return id, func() {}, err
}

// absent reports whether err says an identity is not there (as opposed to
// refused, or ambiguous).
func absent(err error) bool {
	for _, e := range []error{pkcs11.ErrNoToken, pkcs11.ErrModule, identity.ErrNoTokenCertificate, identity.ErrSyntax, fs.ErrNotExist} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// scanTokens opens the PKCS #11 tokens of the PKCS11: identities among
// specs and checks the certificates each identity allows, as scanCards does
// for cards. An absent token is skipped when skipAbsent is set. The caller
// closes the tokens.
func scanTokens(specs []string, pol logon.Policy, skipAbsent bool) ([]*scannedCard, error) {
	var out []*scannedCard
	for _, spec := range specs {
		if !identity.IsPKCS11(spec) {
			continue
		}
		sc, err := scanToken(spec, pol)
		if err != nil && skipAbsent && absent(err) {
			continue
		}
		if err != nil {
			for _, o := range out {
				o.card.Close()
			}
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

func scanToken(spec string, pol logon.Policy) (*scannedCard, error) {
	sp, err := identity.ParsePKCS11(spec)
	if err != nil {
		return nil, err
	}
	tok, objs, err := identity.OpenPKCS11(sp)
	if err != nil {
		return nil, err
	}
	list := make([]card.Certificate, len(objs))
	for i, o := range objs {
		list[i] = card.Certificate{Slot: o.Slot, Cert: o.Cert}
	}
	id, _ := tok.ID()
	return &scannedCard{card: card.WithCache(tok, nil), id: id, verdicts: pol.CheckAll(list)}, nil
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
	case te != nil && errors.As(err, &pe) && pe.PUK:
		return tokenName + " refused the SO PIN (" + card.TriesLeft(pe.Retries) + ")", "the SO PIN is the security officer's, set when the token was initialized; it was not retried", true
	case te != nil && errors.As(err, &pe) && pe.Retries == 0:
		return tokenName + " refused the PIN, and its PIN is now locked", "its security officer unlocks it with the SO PIN: 'sclogon pin unblock --identity PKCS11:…'", true
	case te != nil && errors.As(err, &pe) && pe.Retries == 1:
		return tokenName + " refused the PIN (final try left)", "the PIN was not retried; one more wrong PIN locks the token", true
	case te != nil && errors.As(err, &pe) && pe.Retries == card.RetriesLow:
		return tokenName + " refused the PIN (tries left: low)", "the PIN was not retried; the token says few tries are left before it locks", true
	case te != nil && errors.As(err, &pe):
		return tokenName + " refused the PIN (" + card.TriesLeft(pe.Retries) + ")", "the PIN was not retried; a token locks after a number of wrong PINs it does not tell", true
	case te != nil && errors.Is(err, card.ErrPINBlocked):
		return tokenName + "'s PIN is locked (no PIN was sent to the token)", "its security officer unlocks it with the SO PIN: 'sclogon pin unblock --identity PKCS11:…'", true
	case errors.Is(err, errPadChange):
		return tokenName + ": " + errPadChange.Error(), "change or unlock its PIN with the device's own tool", true
	case errors.Is(err, pkcs11.ErrModule):
		return err.Error(), "name the module's path with PKCS11:module_name=/path/to/module.so (p11-kit-proxy.so from p11-kit-modules is the default)", true
	case errors.Is(err, pkcs11.ErrNoToken):
		return err.Error(), "check the token label (token=) and slot (slotid=); 'pkcs11-tool --module MODULE -L' lists them", true
	case errors.Is(err, identity.ErrNoTokenCertificate):
		return err.Error(), "check certid= and certlabel=; 'pkcs11-tool --module MODULE -O' lists the objects with their IDs and labels", true
	case errors.Is(err, pkcs11.ErrUnavailable):
		return err.Error(), "use a build of sclogon made with cgo", true
	case errors.As(err, &p11err):
		return err.Error(), "the token's module refused; its own logging may say why", true
	}
	return "", "", false
}
