// Package piv is the piv-go backend of [card.Card]: YubiKeys (and cards
// that answer the YubiKey GET VERSION) through go-piv/piv-go over PC/SC.
//
// piv-go cannot open a card without the YubiKey extensions; package
// [github.com/sclogon/sclogon/card/pcsc] reaches those (and YubiKeys) with a
// generic PIV client. The package needs cgo.
//
// Known piv-go behaviour this backend works around: Retries fails once the
// PIN is verified in the session (it is asked before VERIFY); KeyAuth always
// carries an explicit PIN policy, so no YubiKey-only METADATA is sent; RSA
// decryption results are checked for PKCS #1 v1.5 padding here. PINs cross
// into piv-go as Go strings, which cannot be wiped: use the pcsc backend
// where that matters.
package piv
