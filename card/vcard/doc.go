// Package vcard is a software PIV card: an APDU engine that answers like a
// NIST SP 800-73-4 card (plus the YubiKey extensions piv-go needs), reachable
// in process or, through vsmartcard's vpcd driver, as a card in a reader of
// the real pcscd.
//
// Start with [NewState] or [Load] for the card's contents, [New] for the
// card, then either [Card.Transmit] (in process: the client's card seam and
// unit tests) or [Card.ServeVPCD] (any PC/SC client: piv-go, OpenSC, MIT
// kinit through opensc-pkcs11). [Main] is `sclogon vcard`.
//
// # What the card does
//
// SELECT (answering the Application Property Template), GET DATA (discovery
// object, CCC, CHUID, certificates of 9A, 9C, 9D, 9E and 82–95, key
// history), PUT DATA, VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER,
// GENERAL AUTHENTICATE (RSA 2048/3072/4096 raw private-key operation, ECDSA
// P-256/P-384, ECDH; 3DES and AES management-key authentication), GENERATE
// ASYMMETRIC KEY PAIR; command chaining (CLA 10), GET RESPONSE (61xx), short
// and extended Le. YubiKey extensions, off with [Options.Generic]: GET
// VERSION, GET SERIAL, GET METADATA, SET MANAGEMENT KEY, IMPORT KEY, RESET,
// SET PIN RETRIES.
//
// # Security behaviour
//
// The PIN and PUK are 6–8 bytes padded with FF. Before either is compared the
// retry counter is decremented and [Options.Save] is called; a failed save
// aborts the command (6581), so a wrong PIN is never un-counted. Three wrong
// tries answer 63C2, 63C1, 63C0, and then 6983. PIN, PUK and management key
// are compared in constant time. The PIN policy of each slot (never, once,
// always) decides whether a private-key operation needs a VERIFY in the
// session or immediately before; reset and power-off clear the session.
// [Options.Trace] redacts PINs, PUKs, management keys and private-key results.
package vcard
