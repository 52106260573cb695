package identity

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/pkcs11"
)

// PKCS11Spec is MIT's PKCS11: identity (krb5.conf(5), pkinit_identities):
// PKCS11:module_name=/path/lib.so:slotid=N:token=LABEL:certid=HEX:certlabel=LABEL.
type PKCS11Spec struct {
	Module    string // module_name=, or a field without "="; empty for [pkcs11.DefaultModule]
	Slot      *uint  // slotid=, decimal
	Token     string // token=, the token label
	CertID    []byte // certid=, hex; nil for any
	CertLabel string // certlabel=
}

// IsPKCS11 reports whether spec is a PKCS11: identity.
func IsPKCS11(spec string) bool {
	typ, _, ok := strings.Cut(spec, ":")
	return ok && strings.EqualFold(typ, "PKCS11")
}

// ParsePKCS11 reads "PKCS11:…" by MIT's rules: fields separated by ":"
// (empty ones skipped), each attr=value with the value running to the next
// ":", a field without "=" naming the module, a later field overriding an
// earlier one. certid is a hex number: like MIT, its leading zero bytes
// are dropped before it is compared with CKA_ID. MIT ignores unknown
// attributes; they are refused here, since a misspelt one would silently
// choose another certificate.
func ParsePKCS11(spec string) (PKCS11Spec, error) {
	var s PKCS11Spec
	if !IsPKCS11(spec) {
		return s, fmt.Errorf("%w %q: not a PKCS11: identity", ErrSyntax, spec)
	}
	_, rest, _ := strings.Cut(spec, ":")
	for _, field := range strings.Split(rest, ":") {
		if err := s.set(field); err != nil {
			return PKCS11Spec{}, fmt.Errorf("%w %q: %w", ErrSyntax, spec, err)
		}
	}
	return s, nil
}

func (s *PKCS11Spec) set(field string) error {
	if field == "" {
		return nil
	}
	k, v, ok := strings.Cut(field, "=")
	if !ok {
		s.Module = field
		return nil
	}
	switch k {
	case "module_name":
		s.Module = v
	case "slotid":
		n, err := strconv.ParseUint(v, 10, 31) // MIT keeps it in an int
		if err != nil {
			return fmt.Errorf("slotid %q is not a slot number", v)
		}
		slot := uint(n)
		s.Slot = &slot
	case "token":
		s.Token = v
	case "certid":
		id, err := parseCertID(v)
		if err != nil {
			return err
		}
		s.CertID = id
	case "certlabel":
		s.CertLabel = v
	default:
		return fmt.Errorf("unknown attribute %q; want module_name, slotid, token, certid or certlabel", k)
	}
	return nil
}

// parseCertID reads a hex number as MIT does (OpenSSL's BN_hex2bn), odd
// length allowed, leading zero bytes dropped.
func parseCertID(v string) ([]byte, error) {
	if len(v)%2 == 1 {
		v = "0" + v
	}
	id, err := hex.DecodeString(v)
	if err != nil || len(v) == 0 {
		return nil, fmt.Errorf("certid %q is not hexadecimal", v)
	}
	return bytes.TrimLeft(id, "\x00"), nil
}

// Config is the token the spec names.
func (s PKCS11Spec) Config() pkcs11.Config {
	return pkcs11.Config{Module: s.Module, Slot: s.Slot, Token: s.Token}
}

// Matches reports whether the token object o is one the spec allows.
func (s PKCS11Spec) Matches(o pkcs11.Object) bool {
	if s.CertID != nil && !bytes.Equal(o.ID, s.CertID) {
		return false
	}
	return s.CertLabel == "" || o.Label == s.CertLabel
}

// ErrNoTokenCertificate: the token holds no certificate the spec allows.
var ErrNoTokenCertificate = errors.New("identity: no certificate on the token matches the identity")

// OpenPKCS11 opens the token spec names and lists the certificates it
// allows; the caller chooses one, makes a [Token] of it, and closes the
// token when no [Token] takes it.
func OpenPKCS11(spec PKCS11Spec) (*pkcs11.Token, []pkcs11.Object, error) {
	tok, err := pkcs11.Open(spec.Config())
	if err != nil {
		return nil, nil, err
	}
	objs, err := tok.Objects()
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	var out []pkcs11.Object
	for _, o := range objs {
		if spec.Matches(o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		tok.Close()
		return nil, nil, fmt.Errorf("%w (token %q holds %d certificates)", ErrNoTokenCertificate, tok.Label(), len(objs))
	}
	return tok, out, nil
}

// Token is a PKINIT identity whose key stays on a PKCS #11 token: a [Card]
// identity over the token (the PIN asked on first use, one C_Login), named
// after the token. Close wipes the PIN, logs out and closes the token.
type Token struct {
	*Card
	tok *pkcs11.Token
	obj pkcs11.Object
}

// NewToken makes the identity of the certificate o on tok; label names the
// certificate to the person asked for the PIN. The user logs in as the PIN
// cache policy says; a key with CKA_ALWAYS_AUTHENTICATE (the "always" PIN
// policy) also logs in right before each use, with the PIN the person types
// for that use: the first use takes the one just typed for the user login,
// a later one asks again. The Token owns tok.
func NewToken(tok *pkcs11.Token, o pkcs11.Object, label string, opt CardOptions) *Token {
	t := &Token{Card: NewCard(tok, o.Slot, o.Cert, label, opt), tok: tok, obj: o}
	// The object's slot is a number Token gives it, not a PIV slot whose
	// default policy would apply; the per-use login is the token's.
	t.Card.policy, t.Card.known = card.KeyPINOnce, true
	tok.ContextPIN(t.Card.contextPIN)
	return t
}

// Label names the identity: `PKCS #11 token "alice-token" certificate 01 (alice@EXAMPLE.COM)`.
func (t *Token) Label() string {
	return fmt.Sprintf("PKCS #11 token %q certificate %X (%s)", t.tok.Label(), t.obj.ID, t.Card.label)
}

// Calls counts the PKCS #11 functions called on the token so far.
func (t *Token) Calls() int { return t.tok.Calls() }

// Close wipes the PIN and closes the token.
func (t *Token) Close() error {
	t.Card.Close()
	return t.tok.Close()
}

// TokenError is an error of a PKCS #11 identity's token, so that callers
// can tell it from a PIV card's: a locked token is unlocked by its security
// officer, not with a PUK.
type TokenError struct {
	Token string // the token label
	Err   error
}

func (e *TokenError) Error() string { return fmt.Sprintf("identity: token %q: %v", e.Token, e.Err) }

func (e *TokenError) Unwrap() error { return e.Err }

// tokenErr marks err as the token's.
func (t *Token) tokenErr(err error) error {
	if err == nil {
		return nil
	}
	return &TokenError{Token: t.tok.Label(), Err: err}
}

// Signer signs on the token.
func (t *Token) Signer() crypto.Signer { return tokenSigner{t} }

// Decrypter decrypts on the token; only RSA keys decrypt.
func (t *Token) Decrypter() (crypto.Decrypter, bool) {
	if _, ok := t.Card.Decrypter(); !ok {
		return nil, false
	}
	return tokenSigner{t}, true
}

type tokenSigner struct{ t *Token }

func (s tokenSigner) Public() crypto.PublicKey { return s.t.obj.Cert.PublicKey }

func (s tokenSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.t.Card.Signer().Sign(r, digest, opts)
	return sig, s.t.tokenErr(err)
}

func (s tokenSigner) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d, _ := s.t.Card.Decrypter()
	out, err := d.Decrypt(r, msg, opts)
	return out, s.t.tokenErr(err)
}
