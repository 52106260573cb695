// Package offline lets a user who has logged on with a card while the KDC
// answered log on again when no KDC answers, without faking a ticket.
//
// Call [Open] for the store (default [DefaultDir], owned by root), then:
// after a successful online logon, [Fetch] the certificate's revocation
// status and [Record] it with the certificate and its path; when no KDC
// answers, [Verify] with the card's key. No credential cache is written
// offline: the logon succeeds and the session has no Kerberos ticket.
//
// # What an offline logon checks
//
// [Verify] reads the user's record and refuses unless every check holds,
// each with its own error:
//
//   - a record exists ([ErrNeverOnline]), in a directory and a file owned
//     by the store's owner that nobody else may write ([ErrUnsafe]);
//   - the recorded certificate is within its validity at now ([ErrExpired]);
//   - it chains, through the recorded intermediates, to the anchor its path
//     reached at the online logon ([ErrChain]);
//   - its recorded revocation status, re-verified, is good ([ErrRevoked],
//     [ErrNoStatus]) and its thisUpdate is younger than the store's maximum
//     age ([ErrStatusTooOld]);
//   - last, the card signs a fresh random challenge (the card asks for the
//     PIN) and the signature verifies with the recorded certificate's
//     public key ([ErrPossession]): another card, or another key certified
//     under the same name, fails.
//
// The checks that need no card come first, so a refused logon spends no
// PIN try. Every attempt is audited to the store's logger (default: a JSON
// line to syslog's authpriv facility) with the user, the certificate's
// SHA-256 fingerprint, the outcome and the reason.
//
// # Which revocation status
//
// The status is an OCSP response the client fetched itself, during the
// online logon, from the responder in the certificate's Authority
// Information Access: it is signed, so its signature, responder and CertID
// are checked when it is recorded and again, as of the time it was
// received, each time it is used. Its age is counted from its thisUpdate
// (when the responder vouched for the status), not from when it was
// fetched: a pre-signed response a day old when fetched is a day old.
// A revoked answer is recorded like a good one, so the offline logon is
// then refused.
//
// The KDC's own verdict is not recorded as a status: an AS-REP does not say
// what revocation check the KDC made (it may make none), and a KRB-ERROR is
// not authenticated. A KDC_ERR_CLIENT_REVOKED refusal is still acted on:
// the caller fetches the status again and records it, or, failing that,
// [Store.Forget]s the record, which only takes access away.
//
// # The store
//
// One JSON file per user, named by a digest of the PAM user name, mode
// 0600, written to a new file made with O_EXCL and renamed into place. A
// file or directory owned by another user, writable by group or others
// (a sticky ancestor such as /tmp excepted), or a symbolic link, is not
// read.
package offline
