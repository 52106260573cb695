// Package selection chooses the certificate a smart-card logon signs with:
// the one path `sclogon kinit`, `sclogon certs`, the PAM helper and the
// PAM module share.
//
// Call [Select] with a [Request]: it lists the readers that hold a card
// (or takes the one [Request.Reader] names), reads each card's certificates
// (from the [card.Cache] when the card is known), applies the logon rules of
// package certs/logon, and chooses: the certificate [Request.Pick] names,
// else the only usable one, else the one [Request.Choose] picks (a numbered
// list on a terminal, a PAM conversation). When the certificates came from
// the cache, the chosen one is read again from its slot, so the KDC always
// gets the card's own certificate; if it changed, the cache entry is
// dropped and the cards read afresh, once. [Scan] reads and judges without
// choosing (a listing).
//
// # Name hints
//
// The client does not guess whose certificate it is: [ParseHint] reads what
// the person typed ("alice", `EXAMPLE\alice`, "alice@example.com") into the
// AS-REQ client name, as Windows sends its X509HintsNeeded hint, and the
// KDC's certificate mapping decides whether the certificate belongs to that
// account. A name in another namespace than the realm's goes as an
// enterprise name (NT-ENTERPRISE, RFC 6806 §5), so the KDC resolves it.
//
// # Errors
//
// Errors are typed: [card.ErrNoCard] when no reader holds a card, a
// [*ReaderError] when the reader service or a card cannot be reached, a
// [*NoUsableError] (which matches [logon.ErrNoUsable]) carrying every
// verdict, [*logon.AmbiguousError] and [*logon.NoMatchError] from the
// choice, and [ErrChanged] when a card changed while it was read. A
// provider's wait for a card that ended (pcsc.ErrWaitEnded, a
// *pcsc.CardNotFoundError: both [card.ErrNoCard]) or was cancelled
// (context.Canceled) is returned as the provider gave it, a reader named or
// not. [Absent] tells whether an error means "no card to try"; a cancelled
// wait is not that. [MatchReaders] is the rule a reader name follows, for
// callers that pick a reader themselves (sclogon watch).
package selection
