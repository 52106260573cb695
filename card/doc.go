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
// # PIN roles, policies and the PIN cache
//
// A card may have several PINs ([PINRole]): the PIV application PIN, a
// global PIN (which one a card's keys take, [LogonRole] reads from the
// discovery object's PIN usage policy) and the PUK. [RoleCard] speaks to
// each; [Retries] and [Verify] pick the right one. A [PINRequest] names the
// role, whose key it is and what for, and words a prompt.
//
// Each key has its own PIN policy, enforced by the card ([KeyPolicy]: from
// YubiKey-style GET METADATA where the card offers it, else the slot's
// default: "always" for 9C, "never" for 9E). The client's own [PINCache]
// keeps a PIN per card and role under a [PINCachePolicy] (normal, timed,
// none, always-prompt); the key's policy always wins over it. Package
// [github.com/sclogon/sclogon/kinit/identity] puts the two together.
//
// A [Transactor] is held only around card work; optional abilities are
// found through wrappers with [As].
//
// # Certificate cache
//
// [Cache] keeps the certificates of each card, keyed by its [ID], in the
// user's cache directory, so that a warm logon reads the card's identity and
// nothing else before the PIN. It holds public data only.
package card
