// Package logon decides which certificates on a card may log on, the way
// Windows' smart card credential provider does ("Certificate Requirements
// and Enumeration"), with each rule behind a switch:
//
//   - time-valid by the clock, unless [Policy.AllowTimeInvalid]
//     (AllowTimeInvalidCertificates);
//   - not from the signature-only slot 9C, unless [Policy.AllowSignatureKeys]
//     (AllowSignatureOnlyKeys);
//   - a UPN (MS UPN otherName or id-pkinit-san), unless [Policy.AllowNoUPN]
//     (AllowCertificatesWithNoUPN plus X509HintsNeeded: then a user-name
//     hint is required);
//   - the digitalSignature key usage, unless [Policy.AllowAnyKeyUsage];
//   - if any EKU is present it must hold smart card logon or
//     id-pkinit-KPClientAuth; a certificate with no EKU (or only
//     anyExtendedKeyUsage) only with [Policy.AllowNoEKU]
//     (AllowCertificatesWithNoEKU);
//   - MIT's pkinit_cert_match rules ([ParseCertMatch]) narrow the set.
//
// Call [Policy.Check] for each certificate (every one gets a [Verdict] with
// the rules it broke, for `sclogon certs`), then [Choose] among the usable
// ones. [Label] names a certificate for people: its UPN, else e-mail, else
// subject.
package logon
