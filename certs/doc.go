// Package certs holds the facts a smart-card logon reads from an X.509
// certificate: the Microsoft UPN and the PKINIT principal in the
// subjectAltName, the AD security identifier (SID) extension of KB5014754,
// and the extended key usages that mark logon and KDC certificates.
//
// Start with [UPNs], [PKINITSANs] and [SIDFromCert] on a parsed
// [x509.Certificate]. The building side, used by the test CA in
// [github.com/sclogon/sclogon/certs/pki], is [SAN.Extension] and
// [SIDExtension].
//
// # Encodings
//
//   - MS UPN: otherName 1.3.6.1.4.1.311.20.2.3 holding a UTF8String.
//   - id-pkinit-san: otherName 1.3.6.1.5.2.2 holding a KRB5PrincipalName,
//     RFC 4556 §3.2.2.
//   - szOID_NTDS_CA_SECURITY_EXT 1.3.6.1.4.1.311.25.2: a GeneralNames with one
//     otherName 1.3.6.1.4.1.311.25.2.1 whose value is the SID in its string
//     form ("S-1-5-21-…") as an OCTET STRING (KB5014754, MS-WCCE §2.2.2.7.7.4).
//
// Every parser here rejects trailing data and never panics; each has a fuzz
// target.
package certs
