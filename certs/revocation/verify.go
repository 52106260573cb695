package revocation

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/sclogon/sclogon/certs/internal/ocspder"
)

// Status is a certificate's revocation status.
type Status int

// The statuses; the zero value is Unknown so that a zero Result never
// reads as good.
const (
	Unknown Status = iota
	Good
	Revoked
)

func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	}
	return "unknown"
}

// Result is what a verified response (or soft-fail) says about a certificate.
type Result struct {
	Status Status
	// RevokedAt and Reason (a CRLReason, RFC 5280 §5.3.1) are set when Revoked.
	RevokedAt time.Time
	Reason    int
	// ThisUpdate, NextUpdate and ProducedAt are the response's; NextUpdate
	// is zero when the responder left it out.
	ThisUpdate, NextUpdate, ProducedAt time.Time
	// Responder signed the response: the issuer or its delegate.
	Responder *x509.Certificate
	// Stapled is set for responses given to CheckStapled; Cached when the
	// answer came from the cache.
	Stapled, Cached bool
	// Cause says why the status is Unknown under soft-fail.
	Cause error
}

// Errors. Verification failures wrap one of these; Checker errors also
// wrap ErrStatusUnknown or ErrRevoked.
var (
	// ErrStatusUnknown: revocation status could not be established
	// (KDC_ERR_REVOCATION_STATUS_UNKNOWN, RFC 4556 §3.2.3).
	ErrStatusUnknown = errors.New("revocation: revocation status unknown")
	// ErrRevoked: the responder says the certificate is revoked
	// (KDC_ERR_CLIENT_REVOKED); see RevokedError for when and why.
	ErrRevoked = errors.New("revocation: certificate revoked")

	ErrMalformed             = errors.New("revocation: malformed OCSP response")
	ErrResponderError        = errors.New("revocation: OCSP responder returned an error status")
	ErrBadSignature          = errors.New("revocation: OCSP response signature does not verify")
	ErrUnauthorizedResponder = errors.New("revocation: OCSP response signed by a responder the issuer did not authorize")
	ErrResponderExpired      = errors.New("revocation: delegated OCSP responder certificate is not valid now")
	ErrStale                 = errors.New("revocation: OCSP response is stale")
	ErrNotYetValid           = errors.New("revocation: OCSP response thisUpdate is in the future")
	ErrNonceMismatch         = errors.New("revocation: OCSP response nonce does not match the request")
	ErrCertIDMismatch        = errors.New("revocation: OCSP response is not about this certificate")
	ErrNoResponder           = errors.New("revocation: certificate names no OCSP responder")
)

// RevokedError is the error for a revoked certificate; it matches ErrRevoked.
type RevokedError struct {
	Serial *big.Int
	At     time.Time
	Reason int
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("revocation: certificate %X revoked at %s (reason %d)", e.Serial, e.At.UTC().Format(time.RFC3339), e.Reason)
}

func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// VerifyOptions say what [Verify] demands.
type VerifyOptions struct {
	// Now is the time to check against.
	Now time.Time
	// MaxSkew tolerates clock difference with the responder.
	MaxSkew time.Duration
	// MaxAge bounds how old thisUpdate may be when nextUpdate is absent.
	MaxAge time.Duration
	// Nonce is the value of the request's nonce extension (the DER
	// extnValue). Nil means no nonce was sent (a stapled response).
	Nonce []byte
	// AllowMissingNonce accepts a response without a nonce even though one
	// was sent (RFC 5019 responders serve pre-signed responses). A present
	// but different nonce is always rejected.
	AllowMissingNonce bool
}

var (
	// OIDNonce is id-pkix-ocsp-nonce, RFC 6960 §4.4.1.
	OIDNonce = ocspder.OIDNonce
)

type parsed struct {
	data  ocspder.ResponseData
	certs [][]byte
	ids   []ocspder.CertID
}

func parseRaw(raw []byte) (parsed, error) {
	var p parsed
	var r ocspder.Response
	if rest, err := asn1.Unmarshal(raw, &r); err != nil || len(rest) > 0 {
		return p, fmt.Errorf("%w: bad OCSPResponse", ErrMalformed)
	}
	if r.Status != asn1.Enumerated(ocsp.Success) {
		return p, fmt.Errorf("%w: %v", ErrResponderError, ocsp.ResponseStatus(r.Status))
	}
	if !r.ResponseBytes.ResponseType.Equal(ocspder.OIDBasic) {
		return p, fmt.Errorf("%w: response type is not id-pkix-ocsp-basic", ErrMalformed)
	}
	var b ocspder.BasicResponse
	if rest, err := asn1.Unmarshal(r.ResponseBytes.Response, &b); err != nil || len(rest) > 0 {
		return p, fmt.Errorf("%w: bad BasicOCSPResponse", ErrMalformed)
	}
	if rest, err := asn1.Unmarshal(b.TBSResponseData.FullBytes, &p.data); err != nil || len(rest) > 0 {
		return p, fmt.Errorf("%w: bad ResponseData", ErrMalformed)
	}
	for _, c := range b.Certificates {
		p.certs = append(p.certs, c.FullBytes)
	}
	for _, s := range p.data.Responses {
		// Only the leading CertID is read here; x/crypto/ocsp parses the rest.
		var id ocspder.CertID
		if s.Class != asn1.ClassUniversal || s.Tag != asn1.TagSequence || !s.IsCompound {
			return p, fmt.Errorf("%w: bad SingleResponse", ErrMalformed)
		}
		if _, err := asn1.Unmarshal(s.Bytes, &id); err != nil {
			return p, fmt.Errorf("%w: bad SingleResponse", ErrMalformed)
		}
		p.ids = append(p.ids, id)
	}
	return p, nil
}

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:   {1, 3, 14, 3, 2, 26},
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

func publicKeyBits(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	return spki.Key.RightAlign(), nil
}

// issuerHashes returns the CertID hashes of issuer under h.
func issuerHashes(issuer *x509.Certificate, h crypto.Hash) (name, key []byte, err error) {
	bits, err := publicKeyBits(issuer)
	if err != nil {
		return nil, nil, err
	}
	nh, kh := h.New(), h.New()
	nh.Write(issuer.RawSubject)
	kh.Write(bits)
	return nh.Sum(nil), kh.Sum(nil), nil
}

// Verify checks a DER OCSP response about cert, issued by issuer, and
// returns what it says. It is the whole verifier: a fetched and a stapled
// response go through it alike. A delegated responder must be the first
// certificate embedded in the response (x/crypto/ocsp checks only that one),
// as OpenSSL, AD CS and certs/pki send it.
func Verify(raw []byte, cert, issuer *x509.Certificate, o VerifyOptions) (Result, error) {
	p, err := parseRaw(raw)
	if err != nil {
		return Result{}, err
	}
	if err := matchCertID(&p, cert, issuer); err != nil {
		return Result{}, err
	}
	resp, err := parseForCert(raw, cert, &p)
	if err != nil {
		return Result{}, err
	}
	signer, err := authorizeResponder(resp, p, issuer, o)
	if err != nil {
		return Result{}, err
	}
	if err := resp.CheckSignatureFrom(signer); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if err := checkFreshness(resp, o); err != nil {
		return Result{}, err
	}
	if err := checkNonce(&p, o); err != nil {
		return Result{}, err
	}
	r := Result{
		ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate, ProducedAt: resp.ProducedAt,
		Responder: signer,
	}
	switch resp.Status {
	case ocsp.Good:
		r.Status = Good
	case ocsp.Revoked:
		r.Status, r.RevokedAt, r.Reason = Revoked, resp.RevokedAt, resp.RevocationReason
	default:
		r.Status = Unknown
	}
	return r, nil
}

// matchCertID finds the single response for cert: it must name this serial
// under this issuer's name and key; x/crypto/ocsp checks the serial only.
func matchCertID(p *parsed, cert, issuer *x509.Certificate) error {
	for _, id := range p.ids {
		if id.SerialNumber == nil || id.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		var h crypto.Hash
		for k, oid := range hashOIDs {
			if id.HashAlgorithm.Algorithm.Equal(oid) {
				h = k
			}
		}
		if h == 0 || !h.Available() {
			return fmt.Errorf("%w: CertID hash %v unsupported", ErrMalformed, id.HashAlgorithm.Algorithm)
		}
		nh, kh, err := issuerHashes(issuer, h)
		if err != nil {
			return fmt.Errorf("%w: issuer key: %v", ErrCertIDMismatch, err)
		}
		if !bytes.Equal(nh, id.IssuerNameHash) || !bytes.Equal(kh, id.IssuerKeyHash) {
			return fmt.Errorf("%w: serial %X matches but the issuer name or key hash does not", ErrCertIDMismatch, cert.SerialNumber)
		}
		return nil
	}
	return fmt.Errorf("%w: no status for serial %X", ErrCertIDMismatch, cert.SerialNumber)
}

// parseForCert decodes status, times and the signature with x/crypto/ocsp;
// it picks the first response with a matching serial, the one matchCertID
// checked. A nil issuer stops it from checking the signature against
// anything we did not choose: the responder is authorized after.
func parseForCert(raw []byte, cert *x509.Certificate, p *parsed) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(raw, cert, nil)
	if err == nil {
		return resp, nil
	}
	var re ocsp.ResponseError
	if errors.As(err, &re) {
		return nil, fmt.Errorf("%w: %v", ErrResponderError, re.Status)
	}
	if len(p.certs) > 0 {
		// Its only signature check: against the embedded certificate.
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
}

// checkFreshness checks thisUpdate and nextUpdate against o.Now, with
// o.MaxSkew either way; without nextUpdate, o.MaxAge bounds the age.
func checkFreshness(resp *ocsp.Response, o VerifyOptions) error {
	now := o.Now
	if resp.ThisUpdate.After(now.Add(o.MaxSkew)) {
		return fmt.Errorf("%w: thisUpdate %s, now %s", ErrNotYetValid, resp.ThisUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() {
		if resp.NextUpdate.Before(resp.ThisUpdate) {
			return fmt.Errorf("%w: nextUpdate before thisUpdate", ErrMalformed)
		}
		if now.Add(-o.MaxSkew).After(resp.NextUpdate) {
			return fmt.Errorf("%w: nextUpdate %s passed (now %s)", ErrStale, resp.NextUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	} else if now.Add(-o.MaxSkew).After(resp.ThisUpdate.Add(o.MaxAge)) {
		return fmt.Errorf("%w: no nextUpdate and thisUpdate %s is older than %v", ErrStale, resp.ThisUpdate.Format(time.RFC3339), o.MaxAge)
	}
	return nil
}

// checkNonce checks the nonce (RFC 6960 §4.4.1), echoed byte for byte, and
// refuses any other critical response extension.
func checkNonce(p *parsed, o VerifyOptions) error {
	var got []byte
	for _, e := range p.data.Extensions {
		if e.Id.Equal(OIDNonce) {
			got = e.Value
		}
		if e.Critical && !e.Id.Equal(OIDNonce) {
			return fmt.Errorf("%w: unsupported critical response extension %v", ErrMalformed, e.Id)
		}
	}
	switch {
	case o.Nonce == nil:
	case got == nil && o.AllowMissingNonce:
	case got == nil:
		return fmt.Errorf("%w: the response carries no nonce", ErrNonceMismatch)
	case !bytes.Equal(got, o.Nonce):
		return ErrNonceMismatch
	}
	return nil
}

// authorizeResponder returns the certificate whose key must have signed
// the response: the issuer itself, or a delegate (RFC 6960 §4.2.2.2)
// embedded in the response that the issuer signed, that carries
// id-kp-OCSPSigning and that is valid now.
func authorizeResponder(resp *ocsp.Response, p parsed, issuer *x509.Certificate, o VerifyOptions) (*x509.Certificate, error) {
	matchesID := func(c *x509.Certificate) bool {
		if resp.RawResponderName != nil {
			return bytes.Equal(resp.RawResponderName, c.RawSubject)
		}
		bits, err := publicKeyBits(c)
		if err != nil {
			return false
		}
		h := sha1.Sum(bits)
		return bytes.Equal(resp.ResponderKeyHash, h[:])
	}
	if matchesID(issuer) {
		return issuer, nil
	}
	var delegate *x509.Certificate
	for _, der := range p.certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: embedded certificate: %v", ErrMalformed, err)
		}
		if matchesID(c) {
			delegate = c
			break
		}
	}
	if delegate == nil {
		return nil, fmt.Errorf("%w: the responder ID names neither the issuer nor an embedded certificate", ErrUnauthorizedResponder)
	}
	if !bytes.Equal(delegate.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("%w: responder %q was issued by %q, not by the certificate's issuer", ErrUnauthorizedResponder, delegate.Subject, delegate.Issuer)
	}
	if err := delegate.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: responder %q is not signed by the issuer: %v", ErrUnauthorizedResponder, delegate.Subject, err)
	}
	ok := false
	for _, u := range delegate.ExtKeyUsage {
		if u == x509.ExtKeyUsageOCSPSigning {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: responder %q lacks id-kp-OCSPSigning", ErrUnauthorizedResponder, delegate.Subject)
	}
	if o.Now.Add(o.MaxSkew).Before(delegate.NotBefore) || o.Now.Add(-o.MaxSkew).After(delegate.NotAfter) {
		return nil, fmt.Errorf("%w: responder %q valid %s to %s", ErrResponderExpired, delegate.Subject,
			delegate.NotBefore.Format(time.RFC3339), delegate.NotAfter.Format(time.RFC3339))
	}
	return delegate, nil
}
