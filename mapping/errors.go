package mapping

import (
	"errors"

	"github.com/sclogon/sclogon/krberror"
)

// Errors [Mapper.Map] returns, each wrapped with the detail an operator
// needs. The KDC turns them into KRB-ERROR codes with [ErrorCode].
var (
	// ErrNoMapping: no method located an account for the certificate, or
	// the hint names no account.
	ErrNoMapping = errors.New("mapping: certificate maps to no account")
	// ErrNameMismatch: the certificate maps to accounts, but not to the
	// one the client named in its hint.
	ErrNameMismatch = errors.New("mapping: certificate does not map to the requested account")
	// ErrAmbiguous: the certificate maps to several accounts and no hint
	// chose one, or two methods locate different accounts, or a certificate
	// with a UPN maps to several accounts. A directory configuration error.
	ErrAmbiguous = errors.New("mapping: certificate maps to several accounts")
	// ErrWeakMapping: KB5014754 enforcement refuses a mapping that is only
	// weak (full enforcement, or compatibility mode with a certificate that
	// predates the account).
	ErrWeakMapping = errors.New("mapping: weak certificate mapping refused")
	// ErrCertPredatesAccount wraps ErrWeakMapping in compatibility mode.
	ErrCertPredatesAccount = errors.New("mapping: certificate is older than the account")
	// ErrSIDMismatch: the certificate's SID extension names another
	// account than the one the certificate maps to.
	ErrSIDMismatch = errors.New("mapping: certificate SID does not match the account")
	// ErrAccountDisabled: userAccountControl has UF_ACCOUNTDISABLE.
	ErrAccountDisabled = errors.New("mapping: account is disabled")
	// ErrAccountExpired: accountExpires has passed.
	ErrAccountExpired = errors.New("mapping: account has expired")
	// ErrDirectoryUnavailable: the directory could not be reached in time.
	ErrDirectoryUnavailable = errors.New("mapping: directory unavailable")
)

// ErrorCode returns the KRB-ERROR code a KDC answers for err, following
// what Windows domain controllers answer:
//
//	ErrNoMapping              6  KDC_ERR_C_PRINCIPAL_UNKNOWN
//	ErrNameMismatch          75  KDC_ERR_CLIENT_NAME_MISMATCH
//	ErrAmbiguous             75  KDC_ERR_CLIENT_NAME_MISMATCH (configuration error, logged)
//	ErrWeakMapping           75  KDC_ERR_CLIENT_NAME_MISMATCH (a DC in full enforcement
//	                             answers a certificate without a strong mapping so)
//	ErrSIDMismatch           66  KDC_ERR_CERTIFICATE_MISMATCH (what a DC answers when the
//	                             SID extension names another account)
//	ErrAccountDisabled       18  KDC_ERR_CLIENT_REVOKED
//	ErrAccountExpired        18  KDC_ERR_CLIENT_REVOKED
//	ErrDirectoryUnavailable  29  KDC_ERR_SVC_UNAVAILABLE
//	anything else            60  KRB_ERR_GENERIC
func ErrorCode(err error) krberror.Code {
	switch {
	case err == nil:
		return krberror.None
	case errors.Is(err, ErrAccountDisabled), errors.Is(err, ErrAccountExpired):
		return krberror.ClientRevoked
	case errors.Is(err, ErrSIDMismatch):
		return krberror.CertificateMismatch
	case errors.Is(err, ErrNameMismatch), errors.Is(err, ErrAmbiguous), errors.Is(err, ErrWeakMapping):
		return krberror.ClientNameMismatch
	case errors.Is(err, ErrNoMapping):
		return krberror.CPrincipalUnknown
	case errors.Is(err, ErrDirectoryUnavailable):
		return krberror.SvcUnavailable
	}
	return krberror.Generic
}
