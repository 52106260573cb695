// Package revocation answers "is this certificate revoked?" over OCSP
// (RFC 6960) for the KDC (client certificates) and for kinit (the KDC's
// certificate), failing closed when policy says so.
//
// Start with [NewChecker] and [Checker.Check]. A response stapled by a peer
// goes through [Checker.CheckStapled]; both use [Verify], which is pure and
// does what golang.org/x/crypto/ocsp leaves out: the responder must be the
// issuing CA or a delegate it issued with id-kp-OCSPSigning that is valid
// now; thisUpdate and nextUpdate must bracket now within [Policy.MaxSkew];
// the nonce must echo the request's; the CertID must match the certificate's
// issuer name hash, issuer key hash and serial.
//
// # Failing
//
// Check returns a nil error only for a good certificate, or under soft-fail
// ([Policy.HardFail] false) when the status could not be learned: then the
// [Result] has Status [Unknown] and Cause says why. A revoked certificate is
// always an error matching [ErrRevoked] (a KDC answers
// KDC_ERR_CLIENT_REVOKED); an unknown status under hard-fail matches
// [ErrStatusUnknown] (KDC_ERR_REVOCATION_STATUS_UNKNOWN). A response that
// fails verification is never soft: it is an error under either policy.
//
// A "revoked" answer is final for its certificate: the [Checker] remembers
// it until the certificate expires, so neither the answer's nextUpdate nor
// a responder outage lets the certificate through under soft-fail. Soft-fail
// applies only to a certificate never seen revoked. A certificateHold is
// lifted only by a verified "good" answer produced after it.
package revocation
