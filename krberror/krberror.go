// Package krberror names every Kerberos error code, in one place, for the
// client's messages, the KDC's replies and the KDC's audit log.
//
// Call [Code.Name] for the RFC's name ("KDC_ERR_PREAUTH_FAILED"), [Code.Reason]
// for what it means in words a person reads, and [Code.String] for both with
// the number. The codes are those of RFC 4120 §7.5.9, RFC 4556 §3.1.3 (PKINIT),
// RFC 6113 §5.5 (FAST and pre-authentication framework), RFC 6806 §7 (referrals)
// and RFC 8636 §5 (PKINIT key derivation). A code none of them defines still
// prints, as "error N".
package krberror

import "fmt"

// Code is a KRB-ERROR error-code, RFC 4120 §5.9.1.
type Code int32

// The error codes, each with the name its RFC gives it. Where RFC 4556
// renamed a code that RFC 4120 reserved for PKINIT, the PKINIT name is used
// (and the RFC 4120 one given in the comment).
const (
	None                            Code = 0   // KDC_ERR_NONE, RFC 4120
	NameExp                         Code = 1   // KDC_ERR_NAME_EXP, RFC 4120
	ServiceExp                      Code = 2   // KDC_ERR_SERVICE_EXP, RFC 4120
	BadPVNO                         Code = 3   // KDC_ERR_BAD_PVNO, RFC 4120
	COldMastKVNO                    Code = 4   // KDC_ERR_C_OLD_MAST_KVNO, RFC 4120
	SOldMastKVNO                    Code = 5   // KDC_ERR_S_OLD_MAST_KVNO, RFC 4120
	CPrincipalUnknown               Code = 6   // KDC_ERR_C_PRINCIPAL_UNKNOWN, RFC 4120
	SPrincipalUnknown               Code = 7   // KDC_ERR_S_PRINCIPAL_UNKNOWN, RFC 4120
	PrincipalNotUnique              Code = 8   // KDC_ERR_PRINCIPAL_NOT_UNIQUE, RFC 4120
	NullKey                         Code = 9   // KDC_ERR_NULL_KEY, RFC 4120
	CannotPostdate                  Code = 10  // KDC_ERR_CANNOT_POSTDATE, RFC 4120
	NeverValid                      Code = 11  // KDC_ERR_NEVER_VALID, RFC 4120
	Policy                          Code = 12  // KDC_ERR_POLICY, RFC 4120
	BadOption                       Code = 13  // KDC_ERR_BADOPTION, RFC 4120
	ETypeNoSupp                     Code = 14  // KDC_ERR_ETYPE_NOSUPP, RFC 4120
	SumTypeNoSupp                   Code = 15  // KDC_ERR_SUMTYPE_NOSUPP, RFC 4120
	PADataTypeNoSupp                Code = 16  // KDC_ERR_PADATA_TYPE_NOSUPP, RFC 4120
	TrTypeNoSupp                    Code = 17  // KDC_ERR_TRTYPE_NOSUPP, RFC 4120
	ClientRevoked                   Code = 18  // KDC_ERR_CLIENT_REVOKED, RFC 4120
	ServiceRevoked                  Code = 19  // KDC_ERR_SERVICE_REVOKED, RFC 4120
	TGTRevoked                      Code = 20  // KDC_ERR_TGT_REVOKED, RFC 4120
	ClientNotYet                    Code = 21  // KDC_ERR_CLIENT_NOTYET, RFC 4120
	ServiceNotYet                   Code = 22  // KDC_ERR_SERVICE_NOTYET, RFC 4120
	KeyExpired                      Code = 23  // KDC_ERR_KEY_EXPIRED, RFC 4120
	PreauthFailed                   Code = 24  // KDC_ERR_PREAUTH_FAILED, RFC 4120
	PreauthRequired                 Code = 25  // KDC_ERR_PREAUTH_REQUIRED, RFC 4120
	ServerNoMatch                   Code = 26  // KDC_ERR_SERVER_NOMATCH, RFC 4120
	MustUseUser2User                Code = 27  // KDC_ERR_MUST_USE_USER2USER, RFC 4120
	PathNotAccepted                 Code = 28  // KDC_ERR_PATH_NOT_ACCEPTED, RFC 4120
	SvcUnavailable                  Code = 29  // KDC_ERR_SVC_UNAVAILABLE, RFC 4120
	APBadIntegrity                  Code = 31  // KRB_AP_ERR_BAD_INTEGRITY, RFC 4120
	APTktExpired                    Code = 32  // KRB_AP_ERR_TKT_EXPIRED, RFC 4120
	APTktNYV                        Code = 33  // KRB_AP_ERR_TKT_NYV, RFC 4120
	APRepeat                        Code = 34  // KRB_AP_ERR_REPEAT, RFC 4120
	APNotUs                         Code = 35  // KRB_AP_ERR_NOT_US, RFC 4120
	APBadMatch                      Code = 36  // KRB_AP_ERR_BADMATCH, RFC 4120
	APSkew                          Code = 37  // KRB_AP_ERR_SKEW, RFC 4120
	APBadAddr                       Code = 38  // KRB_AP_ERR_BADADDR, RFC 4120
	APBadVersion                    Code = 39  // KRB_AP_ERR_BADVERSION, RFC 4120
	APMsgType                       Code = 40  // KRB_AP_ERR_MSG_TYPE, RFC 4120
	APModified                      Code = 41  // KRB_AP_ERR_MODIFIED, RFC 4120
	APBadOrder                      Code = 42  // KRB_AP_ERR_BADORDER, RFC 4120
	APBadKeyVer                     Code = 44  // KRB_AP_ERR_BADKEYVER, RFC 4120
	APNoKey                         Code = 45  // KRB_AP_ERR_NOKEY, RFC 4120
	APMutFail                       Code = 46  // KRB_AP_ERR_MUT_FAIL, RFC 4120
	APBadDirection                  Code = 47  // KRB_AP_ERR_BADDIRECTION, RFC 4120
	APMethod                        Code = 48  // KRB_AP_ERR_METHOD, RFC 4120
	APBadSeq                        Code = 49  // KRB_AP_ERR_BADSEQ, RFC 4120
	APInappCksum                    Code = 50  // KRB_AP_ERR_INAPP_CKSUM, RFC 4120
	APPathNotAccepted               Code = 51  // KRB_AP_PATH_NOT_ACCEPTED, RFC 4120
	ResponseTooBig                  Code = 52  // KRB_ERR_RESPONSE_TOO_BIG, RFC 4120
	Generic                         Code = 60  // KRB_ERR_GENERIC, RFC 4120
	FieldTooLong                    Code = 61  // KRB_ERR_FIELD_TOOLONG, RFC 4120
	ClientNotTrusted                Code = 62  // KDC_ERR_CLIENT_NOT_TRUSTED, RFC 4556
	KDCNotTrusted                   Code = 63  // KDC_ERR_KDC_NOT_TRUSTED, RFC 4120
	InvalidSig                      Code = 64  // KDC_ERR_INVALID_SIG, RFC 4556
	DHKeyParametersNotAccepted      Code = 65  // KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED, RFC 4556 (KDC_ERR_KEY_TOO_WEAK in RFC 4120)
	CertificateMismatch             Code = 66  // KDC_ERR_CERTIFICATE_MISMATCH, RFC 4120
	APNoTGT                         Code = 67  // KRB_AP_ERR_NO_TGT, RFC 4120
	WrongRealm                      Code = 68  // KDC_ERR_WRONG_REALM, RFC 4120, RFC 6806
	APUserToUserRequired            Code = 69  // KRB_AP_ERR_USER_TO_USER_REQUIRED, RFC 4120
	CantVerifyCertificate           Code = 70  // KDC_ERR_CANT_VERIFY_CERTIFICATE, RFC 4556
	InvalidCertificate              Code = 71  // KDC_ERR_INVALID_CERTIFICATE, RFC 4556
	RevokedCertificate              Code = 72  // KDC_ERR_REVOKED_CERTIFICATE, RFC 4556
	RevocationStatusUnknown         Code = 73  // KDC_ERR_REVOCATION_STATUS_UNKNOWN, RFC 4556
	RevocationStatusUnavailable     Code = 74  // KDC_ERR_REVOCATION_STATUS_UNAVAILABLE, RFC 4120
	ClientNameMismatch              Code = 75  // KDC_ERR_CLIENT_NAME_MISMATCH, RFC 4556
	KDCNameMismatch                 Code = 76  // KDC_ERR_KDC_NAME_MISMATCH, RFC 4120
	InconsistentKeyPurpose          Code = 77  // KDC_ERR_INCONSISTENT_KEY_PURPOSE, RFC 4556
	DigestInCertNotAccepted         Code = 78  // KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED, RFC 4556
	PAChecksumMustBeIncluded        Code = 79  // KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED, RFC 4556
	DigestInSignedDataNotAccepted   Code = 80  // KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED, RFC 4556
	PublicKeyEncryptionNotSupported Code = 81  // KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED, RFC 4556
	PreauthExpired                  Code = 90  // KDC_ERR_PREAUTH_EXPIRED, RFC 6113 (a stale freshness token, RFC 8070)
	MorePreauthDataRequired         Code = 91  // KDC_ERR_MORE_PREAUTH_DATA_REQUIRED, RFC 6113
	PreauthBadAuthenticationSet     Code = 92  // KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET, RFC 6113
	UnknownCriticalFASTOptions      Code = 93  // KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS, RFC 6113
	NoAcceptableKDF                 Code = 100 // KDC_ERR_NO_ACCEPTABLE_KDF, RFC 8636 §5
)

// entry is a code's RFC name and its meaning in plain words.
type entry struct{ name, reason string }

var table = map[Code]entry{
	None:                            {"KDC_ERR_NONE", "no error"},
	NameExp:                         {"KDC_ERR_NAME_EXP", "the client's entry in the database has expired"},
	ServiceExp:                      {"KDC_ERR_SERVICE_EXP", "the server's entry in the database has expired"},
	BadPVNO:                         {"KDC_ERR_BAD_PVNO", "the requested protocol version is not supported"},
	COldMastKVNO:                    {"KDC_ERR_C_OLD_MAST_KVNO", "the client's key is encrypted in an old master key"},
	SOldMastKVNO:                    {"KDC_ERR_S_OLD_MAST_KVNO", "the server's key is encrypted in an old master key"},
	CPrincipalUnknown:               {"KDC_ERR_C_PRINCIPAL_UNKNOWN", "the client is not in the KDC's database"},
	SPrincipalUnknown:               {"KDC_ERR_S_PRINCIPAL_UNKNOWN", "the server is not in the KDC's database"},
	PrincipalNotUnique:              {"KDC_ERR_PRINCIPAL_NOT_UNIQUE", "several database entries have this name"},
	NullKey:                         {"KDC_ERR_NULL_KEY", "the client or server has a null key"},
	CannotPostdate:                  {"KDC_ERR_CANNOT_POSTDATE", "the ticket may not be postdated"},
	NeverValid:                      {"KDC_ERR_NEVER_VALID", "the requested start time is later than the end time"},
	Policy:                          {"KDC_ERR_POLICY", "the KDC's policy rejects the request"},
	BadOption:                       {"KDC_ERR_BADOPTION", "the KDC cannot do a requested option"},
	ETypeNoSupp:                     {"KDC_ERR_ETYPE_NOSUPP", "the KDC supports none of the encryption types offered"},
	SumTypeNoSupp:                   {"KDC_ERR_SUMTYPE_NOSUPP", "the KDC does not support the checksum type"},
	PADataTypeNoSupp:                {"KDC_ERR_PADATA_TYPE_NOSUPP", "the KDC does not support the pre-authentication type"},
	TrTypeNoSupp:                    {"KDC_ERR_TRTYPE_NOSUPP", "the KDC does not support the transited type"},
	ClientRevoked:                   {"KDC_ERR_CLIENT_REVOKED", "the client's credentials have been revoked (account disabled, locked or expired)"},
	ServiceRevoked:                  {"KDC_ERR_SERVICE_REVOKED", "the server's credentials have been revoked"},
	TGTRevoked:                      {"KDC_ERR_TGT_REVOKED", "the ticket-granting ticket has been revoked"},
	ClientNotYet:                    {"KDC_ERR_CLIENT_NOTYET", "the client is not yet valid"},
	ServiceNotYet:                   {"KDC_ERR_SERVICE_NOTYET", "the server is not yet valid"},
	KeyExpired:                      {"KDC_ERR_KEY_EXPIRED", "the password has expired"},
	PreauthFailed:                   {"KDC_ERR_PREAUTH_FAILED", "the pre-authentication was not accepted"},
	PreauthRequired:                 {"KDC_ERR_PREAUTH_REQUIRED", "pre-authentication is required"},
	ServerNoMatch:                   {"KDC_ERR_SERVER_NOMATCH", "the requested server and the ticket do not match"},
	MustUseUser2User:                {"KDC_ERR_MUST_USE_USER2USER", "the server is valid for user-to-user only"},
	PathNotAccepted:                 {"KDC_ERR_PATH_NOT_ACCEPTED", "the KDC's policy rejects the transited path"},
	SvcUnavailable:                  {"KDC_ERR_SVC_UNAVAILABLE", "a service is not available"},
	APBadIntegrity:                  {"KRB_AP_ERR_BAD_INTEGRITY", "an integrity check on a decrypted field failed"},
	APTktExpired:                    {"KRB_AP_ERR_TKT_EXPIRED", "the ticket has expired"},
	APTktNYV:                        {"KRB_AP_ERR_TKT_NYV", "the ticket is not yet valid"},
	APRepeat:                        {"KRB_AP_ERR_REPEAT", "the request is a replay"},
	APNotUs:                         {"KRB_AP_ERR_NOT_US", "the ticket is not for this server"},
	APBadMatch:                      {"KRB_AP_ERR_BADMATCH", "the ticket and the authenticator do not match"},
	APSkew:                          {"KRB_AP_ERR_SKEW", "the clocks differ too much"},
	APBadAddr:                       {"KRB_AP_ERR_BADADDR", "the network address is wrong"},
	APBadVersion:                    {"KRB_AP_ERR_BADVERSION", "the protocol versions do not match"},
	APMsgType:                       {"KRB_AP_ERR_MSG_TYPE", "the message type is invalid"},
	APModified:                      {"KRB_AP_ERR_MODIFIED", "the message was modified on the way"},
	APBadOrder:                      {"KRB_AP_ERR_BADORDER", "the message is out of order"},
	APBadKeyVer:                     {"KRB_AP_ERR_BADKEYVER", "that version of the key is not available"},
	APNoKey:                         {"KRB_AP_ERR_NOKEY", "the service key is not available"},
	APMutFail:                       {"KRB_AP_ERR_MUT_FAIL", "mutual authentication failed"},
	APBadDirection:                  {"KRB_AP_ERR_BADDIRECTION", "the message goes the wrong direction"},
	APMethod:                        {"KRB_AP_ERR_METHOD", "another authentication method is required"},
	APBadSeq:                        {"KRB_AP_ERR_BADSEQ", "the sequence number is wrong"},
	APInappCksum:                    {"KRB_AP_ERR_INAPP_CKSUM", "the checksum type is inappropriate"},
	APPathNotAccepted:               {"KRB_AP_PATH_NOT_ACCEPTED", "the policy rejects the transited path"},
	ResponseTooBig:                  {"KRB_ERR_RESPONSE_TOO_BIG", "the response is too big for UDP; retry with TCP"},
	Generic:                         {"KRB_ERR_GENERIC", "a generic error (the e-text says more)"},
	FieldTooLong:                    {"KRB_ERR_FIELD_TOOLONG", "a field is too long for the KDC"},
	ClientNotTrusted:                {"KDC_ERR_CLIENT_NOT_TRUSTED", "the KDC does not trust the client's certificate"},
	KDCNotTrusted:                   {"KDC_ERR_KDC_NOT_TRUSTED", "the client does not trust the KDC's certificate"},
	InvalidSig:                      {"KDC_ERR_INVALID_SIG", "the request's signature does not verify"},
	DHKeyParametersNotAccepted:      {"KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED", "the key-agreement parameters are not accepted"},
	CertificateMismatch:             {"KDC_ERR_CERTIFICATE_MISMATCH", "the certificates do not match"},
	APNoTGT:                         {"KRB_AP_ERR_NO_TGT", "no ticket-granting ticket is available for user-to-user"},
	WrongRealm:                      {"KDC_ERR_WRONG_REALM", "the request is for another realm"},
	APUserToUserRequired:            {"KRB_AP_ERR_USER_TO_USER_REQUIRED", "the ticket must be for user-to-user"},
	CantVerifyCertificate:           {"KDC_ERR_CANT_VERIFY_CERTIFICATE", "the certificate's path could not be verified"},
	InvalidCertificate:              {"KDC_ERR_INVALID_CERTIFICATE", "the certificate is invalid"},
	RevokedCertificate:              {"KDC_ERR_REVOKED_CERTIFICATE", "the certificate is revoked"},
	RevocationStatusUnknown:         {"KDC_ERR_REVOCATION_STATUS_UNKNOWN", "the certificate's revocation status is unknown"},
	RevocationStatusUnavailable:     {"KDC_ERR_REVOCATION_STATUS_UNAVAILABLE", "the certificate's revocation status is unavailable"},
	ClientNameMismatch:              {"KDC_ERR_CLIENT_NAME_MISMATCH", "the certificate names another client"},
	KDCNameMismatch:                 {"KDC_ERR_KDC_NAME_MISMATCH", "the certificate names another KDC"},
	InconsistentKeyPurpose:          {"KDC_ERR_INCONSISTENT_KEY_PURPOSE", "the certificate is not for this purpose (EKU)"},
	DigestInCertNotAccepted:         {"KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED", "the digest algorithm of the certificate is not accepted"},
	PAChecksumMustBeIncluded:        {"KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED", "the request must carry a paChecksum"},
	DigestInSignedDataNotAccepted:   {"KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED", "the digest algorithm of the signature is not accepted"},
	PublicKeyEncryptionNotSupported: {"KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED", "public-key encryption (RSA key transport) is not supported"},
	PreauthExpired:                  {"KDC_ERR_PREAUTH_EXPIRED", "the pre-authentication (freshness token) has expired"},
	MorePreauthDataRequired:         {"KDC_ERR_MORE_PREAUTH_DATA_REQUIRED", "more pre-authentication data is required"},
	PreauthBadAuthenticationSet:     {"KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET", "the pre-authentication set is not valid"},
	UnknownCriticalFASTOptions:      {"KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS", "a critical FAST option is unknown"},
	NoAcceptableKDF:                 {"KDC_ERR_NO_ACCEPTABLE_KDF", "none of the offered key-derivation functions is accepted"},
}

// Name is the RFC's name of the code, or "error N" for a code no RFC defines.
func (c Code) Name() string {
	if e, ok := table[c]; ok {
		return e.name
	}
	return fmt.Sprintf("error %d", int32(c))
}

// Reason says what the code means, in words; empty for a code no RFC defines.
func (c Code) Reason() string { return table[c].reason }

// Known reports whether an RFC defines the code.
func (c Code) Known() bool {
	_, ok := table[c]
	return ok
}

// String is the name and the number: "KDC_ERR_PREAUTH_FAILED (24)".
func (c Code) String() string {
	if !c.Known() {
		return c.Name()
	}
	return fmt.Sprintf("%s (%d)", c.Name(), int32(c))
}
