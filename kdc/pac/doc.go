// Package pac builds and checks the Privilege Attribute Certificate that an
// Active Directory KDC puts into every ticket ([MS-PAC]).
//
// The test KDC calls [Build] when it issues a TGT, wraps the result with
// [AuthorizationData] for the ticket's authorization-data, and calls
// [Resign] when the TGS copies that PAC into a service ticket. [Parse] reads
// the PACTYPE framing of a PAC received from anywhere; [Verify] also checks
// its signatures.
//
// The package is pure: no I/O, no clock (every time is a field of [Info]),
// no global state.
//
// # Buffers
//
// [Build] writes, in this order, each 8-byte aligned in the PACTYPE
// ([MS-PAC] §2.3, §2.4):
//
//   - PAC_LOGON_INFO (1): KERB_VALIDATION_INFO ([MS-PAC] §2.5), NDR
//     type-serialization version 1 ([MS-RPCE] §2.2.6)
//   - PAC_CLIENT_INFO (10): authtime and client name ([MS-PAC] §2.7)
//   - UPN_DNS_INFO (12): UPN, DNS domain, and in the extended (S flag) form
//     the sAMAccountName and the user SID ([MS-PAC] §2.10)
//   - PAC_ATTRIBUTES_INFO (17) and PAC_REQUESTOR (18), the KB5008380
//     buffers ([MS-PAC] §2.14, §2.15), when [Info] asks for them
//   - the server signature (6) and the KDC signature (7) ([MS-PAC] §2.8)
//
// # Signatures
//
// The server signature is a keyed checksum, key usage
// KERB_NON_KERB_CKSUM_SALT (17), over the whole PAC with the Signature
// fields of both signature buffers zeroed; the KDC signature is the same
// kind of checksum, with the krbtgt key, over the server signature's
// Signature bytes ([MS-PAC] §2.8.4, §2.8.5). The checksum type follows the
// key's encryption type: aes256-cts-hmac-sha1-96 (18) signs with
// HMAC-SHA1-96-AES256 (16), aes128-cts-hmac-sha1-96 (17) with
// HMAC-SHA1-96-AES128 (15), rc4-hmac (23) with KERB_CHECKSUM_HMAC_MD5 (-138).
//
// Not written: the ticket signature (16), the extended KDC signature (19)
// and the full PAC signature (20) of the November 2022 updates, resource
// groups, credentials and claims buffers.
//
// [MS-PAC]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/
// [MS-RPCE]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rpce/
package pac
