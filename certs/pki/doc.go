// Package pki is sclogon's test certificate authority: a directory on disk
// that issues exactly the certificates an Active Directory CA issues for
// smart-card logon, revokes them, and answers for them over OCSP.
//
// Start with [Init] (or [Open] for an existing directory), then
// [CA.Issue] with a [Profile] from [UserProfile], [KDCProfile] or
// [OCSPResponderProfile]; [CA.IssueFromCSR] issues for a key made
// elsewhere, such as on a card. [CA.Revoke] marks a certificate revoked and
// [NewResponder] serves RFC 6960 OCSP for the CA as an [http.Handler].
// [Main] is the `sclogon pki` command.
//
// # The directory
//
//	ca.json            settings: OCSP and CRL URLs, which CA issues
//	root.pem root.key  the root CA (key 0600)
//	intermediate.pem intermediate.key   the issuing CA, when made with an intermediate
//	ntauth.pem         the issuing CA, for the KDC's NTAuth store
//	serial             the next serial number, hex
//	index.json         every issued certificate and its revocation
//	index.txt          the same in OpenSSL `ca` format, for `openssl ocsp -index`
//	issued/SERIAL.pem  every issued certificate
//
// Secret files are created 0600 with O_EXCL and linked into place, so a key
// is never overwritten or left half-written. Changes hold an exclusive lock
// on the directory, so several `sclogon pki` processes can share it.
package pki
