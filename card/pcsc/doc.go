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
// The package needs cgo and libpcsclite; without cgo [Provider] reports
// that PC/SC is unavailable.
package pcsc
