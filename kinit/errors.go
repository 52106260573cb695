package kinit

import (
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/pkinit"
)

// KDCError is a KRB-ERROR the KDC answered with (RFC 4120 §5.9.1). Code is
// the error-code; Text the e-text, if the KDC sent one; EData the raw e-data.
type KDCError struct {
	Code  int32
	Text  string
	EData []byte
	// Realm and KDC say who answered.
	Realm string
	KDC   string
}

func (e *KDCError) Error() string {
	name := ErrorName(e.Code)
	if e.Text != "" {
		return fmt.Sprintf("kinit: KDC %s answered %s (%d): %s", e.KDC, name, e.Code, e.Text)
	}
	return fmt.Sprintf("kinit: KDC %s answered %s (%d)", e.KDC, name, e.Code)
}

// Rejections of the KDC's reply. Every reply-verification failure wraps one of
// these (test with errors.Is); pkinit's own errors (pkinit.ErrBadSignature,
// pkinit.ErrNonceMismatch, pkinit.ErrASChecksumMismatch …) are wrapped as well.
var (
	// ErrKDCNotTrusted: the KDC's certificate does not chain to the anchors.
	ErrKDCNotTrusted = errors.New("kinit: the KDC's certificate is not trusted")
	// ErrKDCEKU: the KDC's certificate lacks the EKU the policy requires.
	ErrKDCEKU = errors.New("kinit: the KDC's certificate is not a KDC certificate")
	// ErrKDCName: the KDC's certificate does not name krbtgt/REALM nor a
	// configured KDC host name.
	ErrKDCName = errors.New("kinit: the KDC's certificate names another KDC")
	// ErrKDCRevoked: the KDC's certificate is revoked, or its status could not
	// be established when the policy requires it.
	ErrKDCRevoked = errors.New("kinit: the KDC's certificate failed its revocation check")
	// ErrReplyMismatch: the AS-REP or TGS-REP does not answer our request
	// (nonce, names, times), or does not decrypt with the reply key.
	ErrReplyMismatch = errors.New("kinit: the KDC's reply does not match the request")
	// ErrSkew: the KDC's clock and ours differ by more than the allowed skew.
	ErrSkew = errors.New("kinit: clock skew too great")
	// ErrNoPKINIT: the KDC did not answer with a PA-PK-AS-REP.
	ErrNoPKINIT = errors.New("kinit: the KDC did not use PKINIT")
	// ErrPolicy: the request or the KDC's demand goes against local policy
	// (a DH group below pkinit_dh_min_bits, a certificate pkinit_cert_match refuses).
	ErrPolicy = errors.New("kinit: refused by local policy")
	// ErrMalformed: a message from the KDC does not decode.
	ErrMalformed = errors.New("kinit: malformed reply from the KDC")
)

// ErrorName returns the RFC name of a Kerberos error code, or "error CODE".
func ErrorName(code int32) string {
	if n, ok := errorNames[code]; ok {
		return n
	}
	return fmt.Sprintf("error %d", code)
}

// Error codes a client meets, beyond the PKINIT ones in package pkinit.
const (
	KDCErrCPrincipalUnknown int32 = 6  // KDC_ERR_C_PRINCIPAL_UNKNOWN, RFC 4120
	KDCErrSPrincipalUnknown int32 = 7  // KDC_ERR_S_PRINCIPAL_UNKNOWN, RFC 4120
	KDCErrClientRevoked     int32 = 18 // KDC_ERR_CLIENT_REVOKED, RFC 4120
	KDCErrKeyExpired        int32 = 23 // KDC_ERR_KEY_EXPIRED, RFC 4120
	KDCErrPreauthRequired   int32 = 25 // KDC_ERR_PREAUTH_REQUIRED, RFC 4120
	KDCErrPolicy            int32 = 12 // KDC_ERR_POLICY, RFC 4120
	KDCErrBadOption         int32 = 13 // KDC_ERR_BADOPTION, RFC 4120
	KDCErrWrongRealm        int32 = 68 // KDC_ERR_WRONG_REALM, RFC 6806
	KRBErrResponseTooBig    int32 = 52 // KRB_ERR_RESPONSE_TOO_BIG, RFC 4120
)

var errorNames = map[int32]string{
	KDCErrCPrincipalUnknown:                      "KDC_ERR_C_PRINCIPAL_UNKNOWN",
	KDCErrSPrincipalUnknown:                      "KDC_ERR_S_PRINCIPAL_UNKNOWN",
	KDCErrPolicy:                                 "KDC_ERR_POLICY",
	KDCErrBadOption:                              "KDC_ERR_BADOPTION",
	pkinit.KDCErrETypeNoSupp:                     "KDC_ERR_ETYPE_NOSUPP",
	KDCErrClientRevoked:                          "KDC_ERR_CLIENT_REVOKED",
	KDCErrKeyExpired:                             "KDC_ERR_KEY_EXPIRED",
	pkinit.KDCErrPreauthFailed:                   "KDC_ERR_PREAUTH_FAILED",
	KDCErrPreauthRequired:                        "KDC_ERR_PREAUTH_REQUIRED",
	pkinit.KRBAPErrSkew:                          "KRB_AP_ERR_SKEW",
	pkinit.KRBAPErrModified:                      "KRB_AP_ERR_MODIFIED",
	KRBErrResponseTooBig:                         "KRB_ERR_RESPONSE_TOO_BIG",
	pkinit.KRBErrGeneric:                         "KRB_ERR_GENERIC",
	pkinit.KDCErrClientNotTrusted:                "KDC_ERR_CLIENT_NOT_TRUSTED",
	pkinit.KDCErrKDCNotTrusted:                   "KDC_ERR_KDC_NOT_TRUSTED",
	pkinit.KDCErrInvalidSig:                      "KDC_ERR_INVALID_SIG",
	pkinit.KDCErrDHKeyParametersNotAccepted:      "KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED",
	KDCErrWrongRealm:                             "KDC_ERR_WRONG_REALM",
	pkinit.KDCErrCantVerifyCertificate:           "KDC_ERR_CANT_VERIFY_CERTIFICATE",
	pkinit.KDCErrInvalidCertificate:              "KDC_ERR_INVALID_CERTIFICATE",
	pkinit.KDCErrRevokedCertificate:              "KDC_ERR_REVOKED_CERTIFICATE",
	pkinit.KDCErrRevocationStatusUnknown:         "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
	pkinit.KDCErrRevocationStatusUnavailable:     "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
	pkinit.KDCErrClientNameMismatch:              "KDC_ERR_CLIENT_NAME_MISMATCH",
	pkinit.KDCErrKDCNameMismatch:                 "KDC_ERR_KDC_NAME_MISMATCH",
	pkinit.KDCErrInconsistentKeyPurpose:          "KDC_ERR_INCONSISTENT_KEY_PURPOSE",
	pkinit.KDCErrDigestInCertNotAccepted:         "KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED",
	pkinit.KDCErrPAChecksumMustBeIncluded:        "KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED",
	pkinit.KDCErrDigestInSignedDataNotAccepted:   "KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED",
	pkinit.KDCErrPublicKeyEncryptionNotSupported: "KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED",
	pkinit.KDCErrPreauthExpired:                  "KDC_ERR_PREAUTH_EXPIRED",
	pkinit.KDCErrMorePreauthDataRequired:         "KDC_ERR_MORE_PREAUTH_DATA_REQUIRED",
	pkinit.KDCErrNoAcceptableKDF:                 "KDC_ERR_NO_ACCEPTABLE_KDF",
}
