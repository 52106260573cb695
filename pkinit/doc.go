// Package pkinit is the PKINIT protocol core shared by the sclogon client and
// KDC: the wire types of RFC 4556 (with RFC 5349 ECDH, RFC 8636 algorithm
// agility and RFC 8070 freshness tokens), CMS SignedData and EnvelopedData
// (RFC 5652), MODP and ECDH key agreement, and reply-key derivation.
//
// It is pure: no I/O, no clock, no global state. Time and randomness are
// passed in; private keys are any [crypto.Signer] or [crypto.Decrypter], so
// they may live on a card.
//
// # Client
//
// Make an ephemeral key with [NewDHKey] (or [NewECDHKey]), fill an [AuthPack]
// (nonce, time, [PAChecksum] of the DER KDC-REQ-BODY, [DHKey.PublicKeyInfo],
// [SupportedCMSTypes]), then call [BuildPKASReq]. With the KDC's
// PA-PK-AS-REP call [ClientReplyKey]: it verifies the KDC's signature, checks
// the nonce and derives the reply key. The caller still checks the KDC certificate's path
// and name (SignedContent.Signer).
//
// # KDC
//
// Call [ParsePKASReq] and [VerifyAuthPack]: the signer certificate comes
// back for path building, the AuthPack is checked against the raw
// KDC-REQ-BODY. Then [BuildDHReply] (key agreement) or [BuildKeyTransportReply]
// (RSA key transport) gives the PA-PK-AS-REP and the reply key; sign with
// the digest [AuthPack.ReplyHash] picks from the client's supportedCMSTypes
// (KDCSigner.Options.Hash). A rejection wraps one of the Err* values;
// [ErrorCode] turns it into the KRB-ERROR code.
//
// # Lower layers
//
// [SignData], [VerifySignedData], [EnvelopeData], [OpenEnvelopedData] are the
// CMS operations; [OctetString2Key], [DeriveKey] and [ASChecksum] the key
// derivations. Every parser rejects trailing data and keeps the bytes it was
// given (Raw), so signatures and checksums are checked over what was received.
// The Kerberos types are DER; CMS is read as the BER RFC 5652 §1 allows
// (indefinite lengths, constructed strings, and the constructed [0]
// subjectKeyIdentifier Heimdal's hx509 writes). SHA-1 is refused unless
// VerifyOptions.AllowSHA1 ([ErrSHA1Signature]).
package pkinit
