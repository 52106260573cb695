// Package card is the client's seam to a PIV smart card: list the readers
// that hold a card, read the certificates of every key slot, learn the
// card's identity, ask and change the PIN, and sign or decrypt with a key.
//
// Open a card with a [Provider] (package [github.com/sclogon/sclogon/card/pcsc]
// for any PIV card under PC/SC, [github.com/sclogon/sclogon/card/piv] for
// YubiKeys through piv-go) or wrap a transmitter with
// [github.com/sclogon/sclogon/card/apdu] (the in-process software card of
// [github.com/sclogon/sclogon/card/vcard]). Then call [Card.Certificates],
// [Card.PINRetries], [Card.VerifyPIN] and [Card.Sign].
//
// # PINs
//
// A [PIN] is an opaque secret: it has no String method, formats as
// "[REDACTED]", hands its bytes out only inside [PIN.Use], and is wiped by
// [PIN.Wipe]. A card never retries a PIN by itself: a wrong PIN is a
// [*PINError] carrying the tries left, and a blocked PIN is [ErrPINBlocked]
// without a VERIFY being sent when the caller checks [Card.PINRetries] first.
//
// # Certificate cache
//
// [Cache] keeps the certificates of each card, keyed by its [ID], in the
// user's cache directory, so that a warm logon reads the card's identity and
// nothing else before the PIN. It holds public data only.
package card
