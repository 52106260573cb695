//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unsafe"

	p11 "github.com/miekg/pkcs11"

	"github.com/sclogon/sclogon/card"
)

// maxObjects keeps a certificate's number below the PIV slots (0x82…).
const maxObjects = int(card.SlotRetiredFirst) - 1

// Token is an open session on one token. It is not safe for concurrent
// use; Close logs out and closes the session.
type Token struct {
	ctx      *p11.Ctx
	finalize bool // this Token initialized the module, so it finalizes it
	module   string
	slot     uint
	info     p11.TokenInfo
	session  p11.SessionHandle
	open     bool
	loggedIn bool
	objects  []Object
	keys     map[card.Slot]p11.ObjectHandle
	always   map[p11.ObjectHandle]bool // CKA_ALWAYS_AUTHENTICATE of each key
	calls    int

	contextPIN func() (*card.PIN, error)
}

var _ card.Card = (*Token)(nil)

// Open loads the module, finds the first token that fits c (in the
// module's slot order, as MIT's client takes it) and opens a read-only
// session on it.
func Open(c Config) (*Token, error) {
	module := c.Module
	if module == "" {
		module = DefaultModule
	}
	if strings.ContainsRune(module, '/') {
		if _, err := os.Stat(module); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrModule, module, err)
		}
	}
	ctx := p11.New(module)
	if ctx == nil {
		return nil, fmt.Errorf("%w %s: not a PKCS #11 module, or one its loader cannot find", ErrModule, module)
	}
	t := &Token{ctx: ctx, module: module}
	if err := t.start(c); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// start initializes the module, chooses the slot and opens the session.
func (t *Token) start(c Config) error {
	t.calls++
	switch err := t.ctx.Initialize(); {
	case err == nil:
		t.finalize = true
	case code(err) != p11.CKR_CRYPTOKI_ALREADY_INITIALIZED: // another user in this process keeps it
		return wrap("C_Initialize", err)
	}
	slot, info, err := t.choose(c)
	if err != nil {
		return err
	}
	t.slot, t.info = slot, info
	t.calls++
	if t.session, err = t.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION); err != nil {
		return wrap("C_OpenSession", err)
	}
	t.open = true
	return nil
}

// choose is the first slot with a token that fits c.
func (t *Token) choose(c Config) (uint, p11.TokenInfo, error) {
	t.calls++
	slots, err := t.ctx.GetSlotList(true)
	if err != nil {
		return 0, p11.TokenInfo{}, wrap("C_GetSlotList", err)
	}
	for _, s := range slots {
		if c.Slot != nil && *c.Slot != s {
			continue
		}
		t.calls++
		info, err := t.ctx.GetTokenInfo(s)
		if err != nil {
			return 0, p11.TokenInfo{}, wrap("C_GetTokenInfo", err)
		}
		info.Label = trim(info.Label)
		if c.Token == "" || c.Token == info.Label {
			return s, info, nil
		}
	}
	return 0, p11.TokenInfo{}, fmt.Errorf("%w in %s%s", ErrNoToken, t.module, describe(c))
}

func describe(c Config) string {
	var s []string
	if c.Slot != nil {
		s = append(s, fmt.Sprintf("slot %d", *c.Slot))
	}
	if c.Token != "" {
		s = append(s, fmt.Sprintf("label %q", c.Token))
	}
	if len(s) == 0 {
		return ""
	}
	return " with " + strings.Join(s, " and ")
}

// Label is the token's label (CKA_LABEL of the token, trimmed).
func (t *Token) Label() string { return t.info.Label }

// SlotID is the PKCS #11 slot the token is in.
func (t *Token) SlotID() uint { return t.slot }

// Calls counts the PKCS #11 functions called so far, C_Initialize included.
func (t *Token) Calls() int { return t.calls }

// Reader names the token: "alice-token (PKCS #11 slot 3)".
func (t *Token) Reader() string { return slotName(t.info.Label, t.slot) }

func slotName(label string, slot uint) string {
	return fmt.Sprintf("%s (PKCS #11 slot %d)", label, slot)
}

// ID is Kind "pkcs11" with the token's manufacturer, model and serial
// number, which PKCS #11 says identify a token.
func (t *Token) ID() (card.ID, error) {
	v := strings.Join([]string{trim(t.info.ManufacturerID), trim(t.info.Model), trim(t.info.SerialNumber)}, "/")
	return card.ID{Kind: "pkcs11", Value: v}, nil
}

// Objects lists the token's X.509 certificates that have a CKA_ID, read
// once per session. A value that does not parse as a certificate is skipped.
func (t *Token) Objects() ([]Object, error) {
	if t.objects != nil {
		return t.objects, nil
	}
	handles, err := t.find([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
	})
	if err != nil {
		return nil, err
	}
	list := []Object{}
	for _, h := range handles {
		o, ok, err := t.object(h)
		if err != nil {
			return nil, err
		}
		if ok {
			list = append(list, o)
		}
	}
	slices.SortStableFunc(list, func(a, b Object) int {
		if c := bytes.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Label, b.Label)
	})
	if len(list) > maxObjects {
		list = list[:maxObjects]
	}
	for i := range list {
		list[i].Slot = card.Slot(i + 1)
	}
	t.objects = list
	return list, nil
}

// object reads one certificate object; ok is false for one without a
// CKA_ID (no key can be paired with it) or a value that does not parse.
func (t *Token) object(h p11.ObjectHandle) (Object, bool, error) {
	t.calls++
	attrs, err := t.ctx.GetAttributeValue(t.session, h, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_ID, nil),
		p11.NewAttribute(p11.CKA_LABEL, nil),
		p11.NewAttribute(p11.CKA_VALUE, nil),
	})
	if err != nil {
		return Object{}, false, wrap("C_GetAttributeValue", err)
	}
	o := Object{ID: attrs[0].Value, Label: string(attrs[1].Value)}
	if len(o.ID) == 0 {
		return Object{}, false, nil
	}
	if o.Cert, err = x509.ParseCertificate(attrs[2].Value); err != nil {
		return Object{}, false, nil
	}
	return o, true, nil
}

// find runs one C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal search.
func (t *Token) find(template []*p11.Attribute) ([]p11.ObjectHandle, error) {
	t.calls++
	if err := t.ctx.FindObjectsInit(t.session, template); err != nil {
		return nil, wrap("C_FindObjectsInit", err)
	}
	var all []p11.ObjectHandle
	var ferr error
	for {
		t.calls++
		hs, _, err := t.ctx.FindObjects(t.session, 64)
		if err != nil {
			ferr = wrap("C_FindObjects", err)
			break
		}
		all = append(all, hs...)
		if len(hs) < 64 {
			break
		}
	}
	t.calls++
	if err := t.ctx.FindObjectsFinal(t.session); err != nil && ferr == nil {
		ferr = wrap("C_FindObjectsFinal", err)
	}
	return all, ferr
}

// Certificates lists the certificates of [Token.Objects] for the card seam.
func (t *Token) Certificates() ([]card.Certificate, error) {
	objs, err := t.Objects()
	if err != nil {
		return nil, err
	}
	out := make([]card.Certificate, len(objs))
	for i, o := range objs {
		out[i] = card.Certificate{Slot: o.Slot, Cert: o.Cert}
	}
	return out, nil
}

// Certificate is the certificate numbered slot; [card.ErrNotFound] when
// there is none.
func (t *Token) Certificate(slot card.Slot) (*x509.Certificate, error) {
	o, err := t.lookup(slot)
	if err != nil {
		return nil, err
	}
	return o.Cert, nil
}

func (t *Token) lookup(slot card.Slot) (Object, error) {
	objs, err := t.Objects()
	if err != nil {
		return Object{}, err
	}
	for _, o := range objs {
		if o.Slot == slot {
			return o, nil
		}
	}
	return Object{}, fmt.Errorf("%w: no certificate numbered %d on token %q", card.ErrNotFound, slot, t.info.Label)
}

// PINRetries reads the token's flags (see the package doc): 0 when locked,
// -1 when logged in or when the token needs no login, else 1,
// [card.RetriesLow] or [card.RetriesUncounted].
func (t *Token) PINRetries() (int, error) {
	flags, err := t.flags()
	if err != nil {
		return 0, err
	}
	switch {
	case flags&p11.CKF_USER_PIN_LOCKED != 0:
		return 0, nil
	case t.loggedIn, flags&p11.CKF_LOGIN_REQUIRED == 0:
		return -1, nil
	}
	return userRetries(flags), nil
}

// ProtectedPath reports whether the token takes its PIN itself, on a PIN
// pad or a fingerprint reader (CKF_PROTECTED_AUTHENTICATION_PATH): then
// [Token.VerifyPIN] takes a nil PIN and the person enters it on the device.
func (t *Token) ProtectedPath() bool {
	return t.info.Flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0
}

// PINLength is the token's ulMinPinLen and ulMaxPinLen, for
// [card.NewTokenPIN].
func (t *Token) PINLength() (min, max uint) { return t.info.MinPinLen, t.info.MaxPinLen }

// userRetries maps the user PIN's flags to a tries-left value.
func userRetries(flags uint) int {
	return retries(flags, p11.CKF_USER_PIN_LOCKED, p11.CKF_USER_PIN_FINAL_TRY, p11.CKF_USER_PIN_COUNT_LOW)
}

// soRetries maps the SO PIN's flags to a tries-left value.
func soRetries(flags uint) int {
	return retries(flags, p11.CKF_SO_PIN_LOCKED, p11.CKF_SO_PIN_FINAL_TRY, p11.CKF_SO_PIN_COUNT_LOW)
}

// retries reads a PIN's tries-left from the token flags PKCS #11 gives
// instead of a count (§6.7.1 CK_TOKEN_INFO).
func retries(flags, locked, finalTry, countLow uint) int {
	switch {
	case flags&locked != 0:
		return 0
	case flags&finalTry != 0:
		return 1
	case flags&countLow != 0:
		return card.RetriesLow
	}
	return card.RetriesUncounted
}

func (t *Token) flags() (uint, error) {
	t.calls++
	info, err := t.ctx.GetTokenInfo(t.slot)
	if err != nil {
		return 0, wrap("C_GetTokenInfo", err)
	}
	return info.Flags, nil
}

// VerifyPIN logs the user in with one C_Login. A locked token gets none
// ([card.ErrPINBlocked]); a wrong PIN is a [*card.PINError] with the tries
// the token's flags say are left. On a token with a protected
// authentication path a nil pin logs in with a NULL PIN, which the person
// enters on the device while C_Login waits.
func (t *Token) VerifyPIN(pin *card.PIN) error {
	flags, err := t.flags()
	if err != nil {
		return err
	}
	if flags&p11.CKF_USER_PIN_LOCKED != 0 {
		return card.ErrPINBlocked
	}
	if pin == nil && flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH == 0 {
		return fmt.Errorf("pkcs11: token %q has no PIN pad: it needs a PIN", t.info.Label)
	}
	err = t.login(t.session, p11.CKU_USER, pin)
	switch code(err) {
	case p11.CKR_OK, p11.CKR_USER_ALREADY_LOGGED_IN:
		t.loggedIn = true
		return nil
	}
	return t.pinFailure("C_Login", err, false)
}

// login calls C_Login with the PIN's own bytes (see the package doc); a
// nil pin is a NULL PIN, for a protected authentication path.
func (t *Token) login(s p11.SessionHandle, user uint, pin *card.PIN) error {
	t.calls++
	if pin == nil {
		return t.ctx.Login(s, user, "") // the binding passes "" as NULL
	}
	return pin.Use(func(b []byte) error {
		return t.ctx.Login(s, user, unsafe.String(unsafe.SliceData(b), len(b)))
	})
}

// pinFailure turns a refused PIN into the card seam's errors.
func (t *Token) pinFailure(op string, err error, so bool) error {
	switch code(err) {
	case p11.CKR_PIN_INCORRECT:
		flags, ferr := t.flags()
		if ferr != nil {
			return ferr
		}
		n := userRetries(flags)
		if so {
			n = soRetries(flags)
		}
		return &card.PINError{PUK: so, Retries: n}
	case p11.CKR_PIN_LOCKED:
		if so {
			return card.ErrPUKBlocked
		}
		return card.ErrPINBlocked
	case p11.CKR_PIN_LEN_RANGE, p11.CKR_PIN_INVALID:
		return fmt.Errorf("pkcs11: token %q takes PINs of %d to %d characters: %w", t.info.Label, t.info.MinPinLen, t.info.MaxPinLen, wrap(op, err))
	}
	return wrap(op, err)
}

// ChangePIN replaces the user PIN with C_SetPIN in a read-write session of
// its own; a wrong old PIN costs a try.
func (t *Token) ChangePIN(old, new *card.PIN) error {
	return t.rw(func(s p11.SessionHandle) error {
		t.calls++
		err := old.Use(func(o []byte) error {
			return new.Use(func(n []byte) error {
				return t.ctx.SetPIN(s, unsafe.String(unsafe.SliceData(o), len(o)), unsafe.String(unsafe.SliceData(n), len(n)))
			})
		})
		if err != nil {
			return t.pinFailure("C_SetPIN", err, false)
		}
		return nil
	})
}

// UnblockPIN logs the security officer in with puk (the SO PIN) and sets a
// new user PIN with C_InitPIN, which unlocks it; a wrong SO PIN costs one
// of its tries. The SO cannot log in beside a read-only session, so the
// Token's own session is closed first and opened again afterwards; the
// user must log in again.
func (t *Token) UnblockPIN(puk, new *card.PIN) error {
	if err := t.closeSession(); err != nil {
		return err
	}
	err := t.unblock(puk, new)
	t.calls++
	s, oerr := t.ctx.OpenSession(t.slot, p11.CKF_SERIAL_SESSION)
	if oerr != nil {
		return errors.Join(err, wrap("C_OpenSession", oerr))
	}
	t.session, t.open = s, true
	return err
}

func (t *Token) unblock(puk, new *card.PIN) error {
	return t.rw(func(s p11.SessionHandle) error {
		if err := t.login(s, p11.CKU_SO, puk); err != nil {
			return t.pinFailure("C_Login", err, true)
		}
		t.calls++
		err := new.Use(func(n []byte) error { return t.ctx.InitPIN(s, unsafe.String(unsafe.SliceData(n), len(n))) })
		t.calls++
		lerr := t.ctx.Logout(s)
		if err != nil {
			return t.pinFailure("C_InitPIN", err, false)
		}
		return wrap("C_Logout", lerr)
	})
}

// rw runs f in a read-write session that it closes afterwards.
func (t *Token) rw(f func(p11.SessionHandle) error) error {
	t.calls++
	s, err := t.ctx.OpenSession(t.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return wrap("C_OpenSession", err)
	}
	ferr := f(s)
	t.calls++
	cerr := t.ctx.CloseSession(s)
	if ferr != nil {
		return ferr
	}
	return wrap("C_CloseSession", cerr)
}

// key is the private key paired with the certificate numbered slot.
func (t *Token) key(slot card.Slot) (p11.ObjectHandle, error) {
	if h, ok := t.keys[slot]; ok {
		return h, nil
	}
	o, err := t.lookup(slot)
	if err != nil {
		return 0, err
	}
	hs, err := t.find([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, o.ID),
	})
	if err != nil {
		return 0, err
	}
	if len(hs) == 0 {
		if !t.loggedIn {
			return 0, card.ErrSecurityStatus // private keys show after C_Login
		}
		return 0, fmt.Errorf("%w: no private key with the CKA_ID %X of certificate %d on token %q", card.ErrNotFound, o.ID, slot, t.info.Label)
	}
	if t.keys == nil {
		t.keys = map[card.Slot]p11.ObjectHandle{}
	}
	t.keys[slot] = hs[0]
	return hs[0], nil
}

// Sign signs digest with the private key of the certificate numbered slot:
// CKM_RSA_PKCS over the DigestInfo, or CKM_ECDSA re-encoded as ASN.1.
func (t *Token) Sign(slot card.Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var mech uint
	var data []byte
	var err error
	switch pub.(type) {
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, errors.New("pkcs11: RSA-PSS signatures are not supported")
		}
		mech = p11.CKM_RSA_PKCS
		if data, err = digestInfo(opts.HashFunc(), digest); err != nil {
			return nil, err
		}
	case *ecdsa.PublicKey:
		mech, data = p11.CKM_ECDSA, digest
	default:
		return nil, fmt.Errorf("pkcs11: cannot sign with a %T key", pub)
	}
	sig, err := t.run(slot, mech, data, "C_SignInit", "C_Sign", t.ctx.SignInit, t.ctx.Sign)
	if err != nil {
		return nil, err
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return ecdsaASN1(sig, (k.Curve.Params().N.BitLen()+7)/8)
	}
	return sig, nil
}

// Decrypt opens a PKCS #1 v1.5 ciphertext with CKM_RSA_PKCS.
func (t *Token) Decrypt(slot card.Slot, pub crypto.PublicKey, ciphertext []byte) ([]byte, error) {
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("pkcs11: cannot decrypt with a %T key", pub)
	}
	return t.run(slot, p11.CKM_RSA_PKCS, ciphertext, "C_DecryptInit", "C_Decrypt", t.ctx.DecryptInit, t.ctx.Decrypt)
}

// run is one single-part operation: init with the key of slot, then call.
func (t *Token) run(slot card.Slot, mech uint, data []byte, initName, opName string,
	init func(p11.SessionHandle, []*p11.Mechanism, p11.ObjectHandle) error,
	op func(p11.SessionHandle, []byte) ([]byte, error)) ([]byte, error) {
	key, err := t.key(slot)
	if err != nil {
		return nil, err
	}
	t.calls++
	if err := init(t.session, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, key); err != nil {
		return nil, t.opFailure(initName, err)
	}
	if err := t.contextLogin(key); err != nil {
		return nil, err
	}
	t.calls++
	out, err := op(t.session, data)
	if err != nil {
		return nil, t.opFailure(opName, err)
	}
	return out, nil
}

// ContextPIN sets where the PIN of a context-specific login comes from: a
// key with CKA_ALWAYS_AUTHENTICATE wants C_Login with CKU_CONTEXT_SPECIFIC
// between each C_SignInit or C_DecryptInit and its operation. pin may
// return a nil PIN on a token with a protected authentication path. Without
// it, such a key fails with [card.ErrSecurityStatus].
func (t *Token) ContextPIN(pin func() (*card.PIN, error)) { t.contextPIN = pin }

// contextLogin logs in for one operation with key when the key says so;
// a wrong PIN is one C_Login and is not retried.
func (t *Token) contextLogin(key p11.ObjectHandle) error {
	always, err := t.alwaysAuthenticate(key)
	if err != nil || !always {
		return err
	}
	if t.contextPIN == nil {
		return card.ErrSecurityStatus
	}
	pin, err := t.contextPIN()
	if err != nil {
		return err
	}
	if err := t.login(t.session, p11.CKU_CONTEXT_SPECIFIC, pin); err != nil {
		return t.pinFailure("C_Login", err, false)
	}
	return nil
}

// alwaysAuthenticate reads the key's CKA_ALWAYS_AUTHENTICATE once; a token
// that does not know the attribute has none.
func (t *Token) alwaysAuthenticate(key p11.ObjectHandle) (bool, error) {
	if v, ok := t.always[key]; ok {
		return v, nil
	}
	t.calls++
	attrs, err := t.ctx.GetAttributeValue(t.session, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, nil)})
	v := false
	switch code(err) {
	case p11.CKR_OK:
		v = len(attrs) == 1 && len(attrs[0].Value) == 1 && attrs[0].Value[0] != 0
	case p11.CKR_ATTRIBUTE_TYPE_INVALID:
	default:
		return false, wrap("C_GetAttributeValue", err)
	}
	if t.always == nil {
		t.always = map[p11.ObjectHandle]bool{}
	}
	t.always[key] = v
	return v, nil
}

func (t *Token) opFailure(op string, err error) error {
	if code(err) == p11.CKR_USER_NOT_LOGGED_IN {
		return card.ErrSecurityStatus
	}
	return wrap(op, err)
}

// Close logs out, closes the session and, when Open initialized the
// module, finalizes it; then it unloads the module. It may be called more
// than once.
func (t *Token) Close() error {
	if t.ctx == nil {
		return nil
	}
	errs := []error{t.closeSession()}
	if t.finalize {
		t.calls++
		errs = append(errs, wrap("C_Finalize", t.ctx.Finalize()))
	}
	t.ctx.Destroy()
	t.ctx = nil
	return errors.Join(errs...)
}

// closeSession logs out and closes the Token's session; the private key
// handles go with it.
func (t *Token) closeSession() error {
	var errs []error
	if t.loggedIn {
		t.calls++
		if err := t.ctx.Logout(t.session); err != nil && code(err) != p11.CKR_USER_NOT_LOGGED_IN {
			errs = append(errs, wrap("C_Logout", err))
		}
		t.loggedIn = false
	}
	if t.open {
		t.calls++
		errs = append(errs, wrap("C_CloseSession", t.ctx.CloseSession(t.session)))
		t.open = false
	}
	t.keys, t.always = nil, nil
	return errors.Join(errs...)
}

// code is the CK_RV of err; CKR_OK for nil, CKR_GENERAL_ERROR for an error
// that is none.
func code(err error) uint {
	if err == nil {
		return p11.CKR_OK
	}
	var e p11.Error
	if errors.As(err, &e) {
		return uint(e)
	}
	return p11.CKR_GENERAL_ERROR
}

// wrap makes a PKCS #11 failure an [*Error]; nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	c := code(err)
	return &Error{Op: op, Code: c, Name: ckrName(c)}
}

func trim(s string) string { return strings.TrimRight(s, " \x00") }
