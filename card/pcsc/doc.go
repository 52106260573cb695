// Package pcsc reaches PIV cards through the PC/SC daemon (pcsc-lite on
// Linux) and speaks to them with the generic PIV client of package
// [github.com/sclogon/sclogon/card/apdu]: any SP 800-73-4 card, YubiKeys
// included, and cards that piv-go cannot open (no YubiKey GET VERSION).
//
// [Provider] lists readers and opens cards. Each card is connected shared
// and held inside one PC/SC transaction until Close, so a PIN verified in
// the session is not seen by another application (pcscd ends the
// transaction, and the card resets the PIN state, when we go).
//
// # Waiting for a card and choosing one
//
// With [Provider.Wait] set, Readers blocks in SCardGetStatusChange (no
// polling; a reader plugged in meanwhile counts, through pcsc-lite's
// "\\?PnP?\Notification") until a card is in, the wait ends
// ([ErrWaitEnded]) or [Provider.Context] is cancelled (SCardCancel).
// [Provider.Card] keeps only the card with that CHUID GUID or serial
// ([*CardNotFoundError] otherwise). [Watcher] follows the cards for
// 'sclogon watch': it names each card by its identity and pcsc-lite's event
// count, so a card swapped for another is seen.
//
// # PIN pads
//
// A reader that answers PC/SC part 10's GET_FEATURE_REQUEST with
// FEATURE_VERIFY_PIN_DIRECT takes the PIN on its own keypad: the card
// Open returns then reports ProtectedPath, and VerifyPIN(nil) (and
// ChangePIN(nil, nil) with FEATURE_MODIFY_PIN_DIRECT) has the person type
// on the reader; the card's answer is reported as for a PIN typed on the
// host. [Provider.NoPINPad] turns that off. [PINPad] does the same for a
// client with a PC/SC session of its own (piv-go).
//
// The package needs cgo and libpcsclite; without cgo [Provider] reports
// that PC/SC is unavailable.
package pcsc
