// Package apdu is a PIV client in plain SP 800-73-4 APDUs: it implements
// [card.Card] over anything that transmits a command APDU and returns the
// response. It needs none of the YubiKey extensions, so it works with
// government PIV and CAC cards, the software card of package vcard with
// --generic, and YubiKeys alike.
//
// Call [Open] with a [Transmitter]: a PC/SC connection (package
// [github.com/sclogon/sclogon/card/pcsc]) or a [vcard.Card] in process.
//
// # APDUs
//
// It spends as few APDUs as it can, because every one costs a round trip
// through pcscd: long commands and answers use extended length (one APDU for
// an RSA-2048 signature or a whole certificate), falling back for the rest
// of the session to command chaining and GET RESPONSE when a card answers an
// extended APDU with 6700. The card's identity is one GET DATA of the CHUID
// (a YubiKey without CHUID: GET SERIAL). A warm logon is SELECT, GET DATA
// CHUID, VERIFY without data (the tries left, for the prompt), VERIFY and
// GENERAL AUTHENTICATE.
//
// # Enrollment
//
// [Card] is also a [card.Enroller]: [Card.AuthenticateManagementKey] (mutual
// 3DES or AES authentication on key reference 9B), [Card.GenerateKey]
// (GENERATE ASYMMETRIC KEY PAIR, RSA-2048, P-256, P-384) and
// [Card.PutCertificate] (PUT DATA of a slot's certificate object). Package
// [github.com/sclogon/sclogon/card/enroll] runs them in a safe order.
//
// [vcard.Card]: https://pkg.go.dev/github.com/sclogon/sclogon/card/vcard#Card
package apdu
