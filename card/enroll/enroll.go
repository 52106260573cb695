// Package enroll puts a logon identity on a PIV card: a key pair generated
// on the card, a PKCS #10 request signed by that key on the card, a
// certificate from the CA for it, written into the key's slot.
//
// Call [Enroll] with an open [card.Enroller] (package
// [github.com/sclogon/sclogon/card/apdu] for any PIV card) and a [Request].
//
// # Order of the steps
//
// The steps that can be refused come before the one that changes the card:
// the management key is authenticated, then the PIN is verified (once: a
// wrong PIN costs exactly one try), and only then is the slot's key
// replaced. A failure names its [Step] in an [*Error]; [Error.KeyReplaced]
// tells whether the slot's old key was already gone.
package enroll

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/certs/pki"
)

// Issuer issues a certificate for a request's key with the content of a
// profile; [*pki.CA] is one.
type Issuer interface {
	IssueFromCSR(csr *x509.CertificateRequest, p pki.Profile) (*x509.Certificate, error)
}

// Request is what to enroll.
type Request struct {
	// Slot receives the key and the certificate (usually 9A).
	Slot card.Slot
	// Key is the algorithm of the key generated on the card.
	Key card.KeyAlgorithm
	// ManagementKey authenticates to the card; Enroll does not wipe it.
	ManagementKey *card.ManagementKey
	// PIN is asked once the management key is accepted, with the tries
	// left; Enroll wipes the PIN it returns. It is not called when the
	// PIN is already verified in this session.
	PIN func(retries int) (*card.PIN, error)
	// CA issues the certificate with Profile (from [pki.UserProfile]);
	// Profile.Subject is also the request's subject.
	CA      Issuer
	Profile pki.Profile
	// Progress, if set, is told each step as it starts.
	Progress func(Step)
}

// Result is what was enrolled.
type Result struct {
	Reader      string
	Slot        card.Slot
	Key         card.KeyAlgorithm
	PublicKey   crypto.PublicKey
	Request     *x509.CertificateRequest
	Certificate *x509.Certificate
}

// Step names a step of the enrollment.
type Step string

// The steps, in order.
const (
	StepManagementKey Step = "management key authentication"
	StepPIN           Step = "PIN verification"
	StepGenerate      Step = "key generation on the card"
	StepRequest       Step = "certificate request signed on the card"
	StepIssue         Step = "issuance by the CA"
	StepWrite         Step = "certificate write (PUT DATA)"
	StepReadBack      Step = "certificate read-back"
)

// Error is a failed step.
type Error struct {
	Step Step
	// KeyReplaced: the slot already holds the new key, so its old
	// certificate (if any) no longer matches it.
	KeyReplaced bool
	Err         error
}

func (e *Error) Error() string { return fmt.Sprintf("enroll: %s: %v", e.Step, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Enroll runs the steps in order and stops at the first that fails.
func Enroll(c card.Enroller, r Request) (*Result, error) {
	if _, ok := r.Slot.Object(); !ok {
		return nil, fmt.Errorf("enroll: %02x is no key slot", byte(r.Slot))
	}
	if r.CA == nil || r.ManagementKey == nil || r.PIN == nil {
		return nil, errors.New("enroll: a request needs a CA, a management key and a PIN prompt")
	}
	progress := func(s Step) {
		if r.Progress != nil {
			r.Progress(s)
		}
	}
	progress(StepManagementKey)
	if err := c.AuthenticateManagementKey(r.ManagementKey); err != nil {
		return nil, &Error{Step: StepManagementKey, Err: err}
	}
	progress(StepPIN)
	if err := verifyPIN(c, r.PIN); err != nil {
		return nil, &Error{Step: StepPIN, Err: err}
	}
	progress(StepGenerate)
	pub, err := c.GenerateKey(r.Slot, r.Key)
	if err != nil {
		// A card refuses GENERATE before it touches the slot.
		return nil, &Error{Step: StepGenerate, Err: err}
	}
	fail := func(s Step, err error) (*Result, error) {
		return nil, &Error{Step: s, KeyReplaced: true, Err: err}
	}
	progress(StepRequest)
	signer := cardSigner{c: c, slot: r.Slot, pub: pub}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: r.Profile.Subject}, signer)
	if err != nil {
		return fail(StepRequest, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fail(StepRequest, err)
	}
	if !samePublicKey(csr.PublicKey, pub) {
		return fail(StepRequest, errors.New("the request's public key is not the key the card generated"))
	}
	if err := csr.CheckSignature(); err != nil {
		return fail(StepRequest, fmt.Errorf("the card's signature does not verify with the generated key: %w", err))
	}
	progress(StepIssue)
	cert, err := r.CA.IssueFromCSR(csr, r.Profile)
	if err != nil {
		return fail(StepIssue, err)
	}
	if !samePublicKey(cert.PublicKey, pub) {
		return fail(StepIssue, errors.New("the CA certified another key than the card's"))
	}
	progress(StepWrite)
	if err := c.PutCertificate(r.Slot, cert); err != nil {
		return fail(StepWrite, err)
	}
	progress(StepReadBack)
	back, err := c.Certificate(r.Slot)
	if err != nil {
		return fail(StepReadBack, err)
	}
	if !bytes.Equal(back.Raw, cert.Raw) {
		return fail(StepReadBack, fmt.Errorf("slot %s holds another certificate than the one written", r.Slot))
	}
	return &Result{Reader: c.Reader(), Slot: r.Slot, Key: r.Key, PublicKey: pub, Request: csr, Certificate: cert}, nil
}

// verifyPIN asks for the PIN only when the card has tries left and presents
// it once.
func verifyPIN(c card.Card, ask func(int) (*card.PIN, error)) error {
	n, err := c.PINRetries()
	if err != nil {
		return err
	}
	switch n {
	case -1:
		return nil // verified in this session already
	case 0:
		return card.ErrPINBlocked
	}
	pin, err := ask(n)
	if err != nil {
		return err
	}
	defer pin.Wipe()
	return c.VerifyPIN(pin)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// cardSigner signs with the slot's key on the card.
type cardSigner struct {
	c    card.Card
	slot card.Slot
	pub  crypto.PublicKey
}

func (s cardSigner) Public() crypto.PublicKey { return s.pub }

func (s cardSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.c.Sign(s.slot, s.pub, digest, opts)
}
