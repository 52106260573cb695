package pkinit

import (
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/krberror"
)

// Rejections a caller branches on. Every error this package returns wraps one
// of these (test with errors.Is); [ErrorCode] turns them into the KRB-ERROR
// code a KDC answers with.
var (
	// ErrMalformed: the DER does not decode as the type it claims to be,
	// or has trailing data.
	ErrMalformed = errors.New("pkinit: malformed message")
	// ErrBadSignature: a CMS signature or message digest does not verify.
	ErrBadSignature = errors.New("pkinit: bad signature")
	// ErrUnknownSigner: no certificate in the SignedData matches the signer
	// identifier.
	ErrUnknownSigner = errors.New("pkinit: unknown signer")
	// ErrUnsupportedDigest: a digest or signature algorithm is unknown or not
	// allowed (SHA-1 when the policy forbids it, MD5).
	ErrUnsupportedDigest = errors.New("pkinit: unsupported digest algorithm")
	// ErrSHA1Signature: a SignedData's digest or signature algorithm is SHA-1
	// and VerifyOptions.AllowSHA1 is off. It also matches ErrUnsupportedDigest
	// (KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED).
	ErrSHA1Signature error = sha1Error{}
	// ErrUnexpectedContentType: the SignedData carries a different content type
	// than the caller expects.
	ErrUnexpectedContentType = errors.New("pkinit: unexpected content type")
	// ErrWeakGroup: the DH group is unknown, or known but too small for the policy.
	ErrWeakGroup = errors.New("pkinit: diffie-hellman group not accepted")
	// ErrBadPublicValue: a DH or ECDH public value fails validation.
	ErrBadPublicValue = errors.New("pkinit: bad public value")
	// ErrUnsupportedCurve: an EC public key on a curve this package does not offer.
	ErrUnsupportedCurve = errors.New("pkinit: unsupported elliptic curve")
	// ErrUnsupportedEType: no key size is known for the Kerberos enctype.
	ErrUnsupportedEType = errors.New("pkinit: unsupported encryption type")
	// ErrNoAcceptableKDF: none of the offered RFC 8636 KDFs is supported.
	ErrNoAcceptableKDF = errors.New("pkinit: no acceptable key derivation function")
	// ErrPAChecksumMissing: the PKAuthenticator has no paChecksum.
	ErrPAChecksumMissing = errors.New("pkinit: paChecksum missing")
	// ErrPAChecksumMismatch: paChecksum or paChecksum2 does not match the request body.
	ErrPAChecksumMismatch = errors.New("pkinit: paChecksum does not match the request body")
	// ErrNonceMismatch: the KDC's reply does not carry the client's nonce.
	ErrNonceMismatch = errors.New("pkinit: nonce mismatch")
	// ErrASChecksumMismatch: the ReplyKeyPack asChecksum does not match the AS-REQ.
	ErrASChecksumMismatch = errors.New("pkinit: asChecksum does not match the request")
	// ErrNoRecipient: the EnvelopedData has no recipient for the given certificate.
	ErrNoRecipient = errors.New("pkinit: no matching recipient")
	// ErrDecrypt: the content-encryption key or the content did not decrypt.
	ErrDecrypt = errors.New("pkinit: decryption failed")
	// ErrUnsupportedAlgorithm: a key-transport or content-encryption algorithm is unknown.
	ErrUnsupportedAlgorithm = errors.New("pkinit: unsupported algorithm")
	// ErrUnsupportedKey: the signer or recipient key type is not RSA or ECDSA.
	ErrUnsupportedKey = errors.New("pkinit: unsupported key type")
)

// ErrorCode maps an error from this package to the Kerberos error code a KDC
// puts in its KRB-ERROR (RFC 4556 §3.1.3). Errors it does not know map to
// KDC_ERR_PREAUTH_FAILED.
func ErrorCode(err error) krberror.Code {
	switch {
	case err == nil:
		return krberror.None
	case errors.Is(err, ErrBadSignature):
		return krberror.InvalidSig
	case errors.Is(err, ErrUnknownSigner):
		return krberror.CantVerifyCertificate
	case errors.Is(err, ErrUnsupportedDigest):
		return krberror.DigestInSignedDataNotAccepted
	case errors.Is(err, ErrWeakGroup), errors.Is(err, ErrBadPublicValue), errors.Is(err, ErrUnsupportedCurve):
		return krberror.DHKeyParametersNotAccepted
	case errors.Is(err, ErrUnsupportedEType):
		return krberror.ETypeNoSupp
	case errors.Is(err, ErrNoAcceptableKDF):
		return krberror.NoAcceptableKDF
	case errors.Is(err, ErrPAChecksumMissing):
		return krberror.PAChecksumMustBeIncluded
	case errors.Is(err, ErrPAChecksumMismatch), errors.Is(err, ErrASChecksumMismatch):
		return krberror.APModified
	case errors.Is(err, ErrUnsupportedAlgorithm), errors.Is(err, ErrUnsupportedKey):
		return krberror.PublicKeyEncryptionNotSupported
	}
	return krberror.PreauthFailed
}

type sha1Error struct{}

func (sha1Error) Error() string { return "pkinit: SHA-1 signature not accepted" }

func (sha1Error) Is(target error) bool { return target == ErrUnsupportedDigest }

func malformed(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
}
