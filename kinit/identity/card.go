package identity

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/sclogon/sclogon/card"
)

// CardOptions are what a card identity needs from its caller.
type CardOptions struct {
	// Ask asks the person for the PIN req names (its role, purpose, the
	// tries left). ctx is [CardOptions.Context]: a prompt ends when it is
	// cancelled, and the identity then sends nothing to the card.
	Ask func(ctx context.Context, req card.PINRequest) (*card.PIN, error)
	// PIN is the older form of Ask: the PIN of the certificate labelled
	// label, with retries tries left (1: the last one). Ask wins when both
	// are set.
	PIN func(label string, retries int) (*card.PIN, error)
	// OnDevice tells the person to enter the PIN of the certificate
	// labelled label on the card's own PIN pad or fingerprint reader; it
	// is called instead of asking for a card with a protected
	// authentication path.
	OnDevice func(label string, retries int)
	// CachePolicy is the PIN cache policy of a cache of the identity's
	// own, wiped by Close; the zero value is [card.PINCacheNormal]. The
	// key's own PIN policy (see [card.KeyPolicy]) always wins over it.
	CachePolicy card.PINCachePolicy
	// Cache, if set, is used instead: a cache shared with other identities
	// (or with an injected clock), which its owner wipes.
	Cache *card.PINCache
	// Context cancels prompts and card work; nil is context.Background().
	Context context.Context
}

// deviceEntry is a card that takes its PIN itself (a PKCS #11 token with a
// protected authentication path): VerifyPIN(nil) waits for it.
type deviceEntry interface {
	ProtectedPath() bool
}

// Card is a PKINIT identity whose key stays on a card. Before each
// private-key operation it decides whether the person must be asked: never
// for a key whose PIN policy is "never"; every time for an "always" key;
// otherwise as the PIN cache policy says (normal: once per logon; timed: once
// per period; none and always-prompt: every operation). A refused PIN is
// never presented again, and a PIN is never re-sent because the card
// answered "security status not satisfied". On a card that offers it
// ([card.Transactor]) the exclusive use of the card is held only around
// card work, never across a prompt or a KDC round trip. Close wipes the
// PINs of its own cache and closes nothing else: the caller owns the card.
type Card struct {
	c     card.Card
	slot  card.Slot
	cert  *x509.Certificate
	label string
	opt   CardOptions
	cache *card.PINCache
	own   bool   // the cache is the identity's own
	key   string // the card's name in the cache

	known  bool // policy and role have been read from the card
	policy card.KeyPINPolicy
	role   card.PINRole

	purpose card.PINPurpose // of the operation under way
	opPIN   *card.PIN       // the PIN asked for the operation under way
	failed  error

	session bool // in a Session: the card is kept after an operation
	held    bool // the card's transaction is ours (a Transactor's)
	ran     bool // the operation under hold ran and succeeded

	verifies, prompts int
}

// NewCard makes the identity of the certificate cert in slot of c. When c
// is a [card.Transactor] its exclusive use is released at once: the
// selection is done, and the PIN prompt comes next.
func NewCard(c card.Card, slot card.Slot, cert *x509.Certificate, label string, opt CardOptions) *Card {
	k := &Card{c: c, slot: slot, cert: cert, label: label, opt: opt, cache: opt.Cache}
	if k.cache == nil {
		k.cache, k.own = card.NewPINCache(opt.CachePolicy, nil), true
	}
	k.key = "reader:" + c.Reader()
	if id, err := c.ID(); err == nil && !id.IsZero() {
		k.key = id.String()
	}
	if t, ok := card.As[card.Transactor](c); ok {
		_ = t.Release() // a card that cannot release keeps its transaction: slower for others, no less safe
	}
	return k
}

// Certificate returns the card's certificate.
func (k *Card) Certificate() *x509.Certificate { return k.cert }

// Chain is empty: PIV cards hold no intermediates in key slots.
func (k *Card) Chain() []*x509.Certificate { return nil }

// Label names the identity: "card slot 9a (alice@example.com)".
func (k *Card) Label() string { return fmt.Sprintf("card slot %s (%s)", k.slot, k.label) }

// Signer signs on the card.
func (k *Card) Signer() crypto.Signer { return cardSigner{k} }

// Decrypter decrypts on the card; only RSA keys decrypt.
func (k *Card) Decrypter() (crypto.Decrypter, bool) {
	if _, ok := k.cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, false
	}
	return cardSigner{k}, true
}

// Verifies counts the VERIFY commands sent with a PIN.
func (k *Card) Verifies() int { return k.verifies }

// Prompts counts the times the person was asked for a PIN.
func (k *Card) Prompts() int { return k.prompts }

// KeyPolicy is the key's PIN policy as the card told it (or the slot's
// default); the default until the first operation has read it.
func (k *Card) KeyPolicy() card.KeyPINPolicy { return k.policy }

// Session keeps the card for a run of operations that belong together:
// RSA key transport's signature and, once the KDC has answered, its
// decryption. From the first operation that succeeds until end, the card
// stays in this identity's transaction, so the PIN verified for it serves
// the next operation where the key's and the cache's policies let a
// verified PIN stand: the person enters it once, on a PIN pad too, where
// a kept PIN cannot be presented again. A prompt before the first
// operation still comes with the card released. end releases the card,
// resetting the verified PIN as the end of every operation does.
func (k *Card) Session() (end func() error) {
	k.session = true
	return func() error {
		k.session = false
		return k.release()
	}
}

// Close ends a session still open and wipes the PINs of the identity's own
// cache.
func (k *Card) Close() error {
	k.session = false
	_ = k.release()
	k.opPIN.Wipe()
	k.opPIN = nil
	if k.own {
		k.cache.Wipe()
	}
	return nil
}

func (k *Card) ctx() context.Context {
	if k.opt.Context != nil {
		return k.opt.Context
	}
	return context.Background()
}

// do runs op, a private-key operation for purpose, with the PIN the
// policies want: presented from the cache where they allow it, else asked
// with the card released, then verified right before op.
func (k *Card) do(purpose card.PINPurpose, op func() ([]byte, error)) ([]byte, error) {
	if err := k.ctx().Err(); err != nil {
		return nil, err
	}
	if k.failed != nil {
		return nil, k.failed
	}
	k.purpose = purpose
	defer func() { k.opPIN.Wipe(); k.opPIN = nil }()
	var out []byte
	var ask bool
	var tries int
	err := k.hold(func() error {
		var err error
		if ask, tries, err = k.ready(); err != nil || ask {
			return err
		}
		out, err = k.run(op)
		return err
	})
	if err != nil || !ask {
		return out, k.settle(err)
	}
	pin, err := k.ask(tries)
	if err != nil {
		return nil, err
	}
	k.opPIN = pin
	err = k.hold(func() error {
		if err := k.verify(pin); err != nil {
			return err
		}
		out, err = k.run(op)
		return err
	})
	if err == nil && k.policy != card.KeyPINAlways && pin != nil {
		k.cache.Put(k.key, k.role, pin) // the cache's policy decides whether it stays
		k.opPIN = nil
	}
	return out, k.settle(err)
}

// ready reads what the policies need and, where a cached PIN serves,
// presents it. ask is true when the person must be asked; tries is the
// count to show them.
func (k *Card) ready() (ask bool, tries int, err error) {
	if !k.known {
		k.policy, k.role, k.known = card.KeyPolicy(k.c, k.slot), card.LogonRole(k.c), true
	}
	if k.policy == card.KeyPINNever {
		return false, 0, nil
	}
	n, err := card.Retries(k.c, k.role)
	if err != nil {
		return false, 0, err
	}
	if n == 0 {
		return false, 0, card.ErrPINBlocked
	}
	mode := k.cache.Policy().Mode
	if k.policy == card.KeyPINAlways || !k.cache.Policy().Keeps() {
		return k.askFresh(n)
	}
	found, err := k.cache.Use(k.key, k.role, func(p *card.PIN) error {
		if n == -1 {
			return nil // still verified in this session
		}
		k.verifies++
		return card.Verify(k.c, k.role, p)
	})
	if found {
		return false, n, err
	}
	if n == -1 && mode == card.PINCacheNormal {
		return false, n, nil // verified before the identity was made
	}
	return k.askFresh(n)
}

// askFresh is ready's answer when the person must be asked: a card still
// verified is reset first where it can be, so that the PIN typed is checked
// (a PKCS #11 token would take any PIN while logged in) and the prompt shows
// the true tries left.
func (k *Card) askFresh(n int) (bool, int, error) {
	if n != -1 {
		return true, n, nil
	}
	ok, err := card.ResetPIN(k.c, k.role)
	if err != nil || !ok {
		return true, n, err
	}
	if n, err = card.Retries(k.c, k.role); err == nil && n == 0 {
		err = card.ErrPINBlocked
	}
	return true, n, err
}

// verify presents a PIN just asked for.
func (k *Card) verify(pin *card.PIN) error {
	k.verifies++
	return card.Verify(k.c, k.role, pin)
}

// run is op; under always-prompt the card's verified state ends with it.
// It records whether op succeeded, for hold.
func (k *Card) run(op func() ([]byte, error)) (out []byte, err error) {
	defer func() { k.ran = err == nil }()
	out, err = op()
	if k.cache.Policy().Mode == card.PINCacheAlwaysPrompt && k.policy != card.KeyPINNever {
		if _, rerr := card.ResetPIN(k.c, k.role); err == nil && rerr != nil {
			clear(out)
			return nil, rerr
		}
	}
	return out, err
}

// settle remembers a refused PIN (never presented again) and says why a
// key still wanted the PIN.
func (k *Card) settle(err error) error {
	var pe *card.PINError
	switch {
	case err == nil:
	case errors.As(err, &pe), errors.Is(err, card.ErrPINBlocked):
		k.cache.Forget(k.key, k.role)
		k.failed = err
	case errors.Is(err, card.ErrSecurityStatus):
		err = fmt.Errorf("identity: the key in slot %s (PIN policy %s) refused to work although the %s was presented as its policy asks; no PIN was re-sent: %w", k.slot, k.policy, k.role, err)
	}
	return err
}

// hold runs f with the exclusive use of the card when the card is a
// [card.Transactor]: taken for f alone, or, in a Session, kept after f when
// f's operation ran and succeeded, for the session's next operation.
func (k *Card) hold(f func() error) error {
	t, ok := card.As[card.Transactor](k.c)
	if !ok {
		return f()
	}
	if !k.held {
		if err := t.Acquire(); err != nil {
			return err
		}
		k.held = true
	}
	k.ran = false
	err := f()
	if err == nil && k.ran && k.session {
		return nil
	}
	if rerr := k.release(); err == nil {
		err = rerr
	}
	return err
}

// release ends the transaction hold took, if it is still ours.
func (k *Card) release() error {
	t, ok := card.As[card.Transactor](k.c)
	if !ok || !k.held {
		return nil
	}
	k.held = false
	return t.Release()
}

// ask asks the person for the PIN of the operation under way; on a card
// that takes it on the device it tells them to enter it there and is nil.
func (k *Card) ask(tries int) (*card.PIN, error) {
	if tries == -1 {
		tries = card.RetriesUncounted
	}
	if d, ok := card.As[deviceEntry](k.c); ok && d.ProtectedPath() {
		if k.opt.OnDevice != nil {
			k.opt.OnDevice(k.label, tries)
		}
		return nil, nil
	}
	if err := k.ctx().Err(); err != nil {
		return nil, err
	}
	k.prompts++
	switch {
	case k.opt.Ask != nil:
		return k.opt.Ask(k.ctx(), card.PINRequest{Role: k.role, Purpose: k.purpose, For: k.label, Retries: tries})
	case k.opt.PIN != nil:
		return k.opt.PIN(k.label, tries)
	}
	return nil, errors.New("identity: the card needs a PIN and there is no way to ask for it")
}

// contextPIN is the PIN of a PKCS #11 context-specific login right before
// an operation (a key with CKA_ALWAYS_AUTHENTICATE: the "always" policy):
// the one the person typed for this operation, else asked now. A kept PIN
// never serves.
func (k *Card) contextPIN() (*card.PIN, error) {
	if k.failed != nil {
		return nil, k.failed
	}
	if k.opPIN != nil {
		return k.opPIN, nil
	}
	pin, err := k.ask(card.RetriesUncounted)
	if err != nil {
		return nil, err
	}
	k.opPIN = pin
	return pin, nil
}

type cardSigner struct{ k *Card }

func (s cardSigner) Public() crypto.PublicKey { return s.k.cert.PublicKey }

func (s cardSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.k.do(card.PurposeSignLogon, func() ([]byte, error) { return s.k.c.Sign(s.k.slot, s.k.cert.PublicKey, digest, opts) })
	if err != nil {
		return nil, err
	}
	if !card.KeyMatches(s.k.cert.PublicKey, digest, sig, opts) {
		return nil, fmt.Errorf("%w: the key in slot %s", ErrKeyMismatch, s.k.slot)
	}
	return sig, nil
}

func (s cardSigner) Decrypt(_ io.Reader, msg []byte, _ crypto.DecrypterOpts) ([]byte, error) {
	return s.k.do(card.PurposeDecryptReply, func() ([]byte, error) { return s.k.c.Decrypt(s.k.slot, s.k.cert.PublicKey, msg) })
}
