// Package pkcs11 is the card seam over PKCS #11: any token that OpenSC,
// p11-kit, SoftHSM or tpm2-pkcs11 offers is a [card.Card], so the logon
// certificate rules, the choice among certificates and the PIN handling of
// the PIV paths apply to it unchanged.
//
// Call [Open] with a [Config] naming the module (p11-kit's proxy,
// [DefaultModule], by default, as SSSD does), and the slot or token label;
// then [Token.Objects] or [Token.Certificates], [Token.PINRetries],
// [Token.VerifyPIN] (C_Login) and [Token.Sign]. [Token.Close] logs out,
// closes the session and unloads the module, on every path.
// [NewPresence] follows a token's comings and goings without a session, for
// a watch that locks the screen when it leaves.
//
// # Key slots
//
// A token has no PIV key slots. [Token] numbers its X.509 certificates 1, 2,
// … in the order of their CKA_ID (then CKA_LABEL), and a [card.Slot] names a
// certificate by that number, never a PIV slot (those start at 0x82), so no
// PIV-only rule applies to a token's key. The private key of a certificate
// is the private key object with the same CKA_ID, looked up when it first
// signs: most tokens show private keys only after C_Login.
//
// # Signing
//
// RSA keys sign PKCS #1 v1.5 with CKM_RSA_PKCS over the DigestInfo (RFC 8017
// §9.2) built here, and decrypt with CKM_RSA_PKCS for RSA key transport.
// ECDSA keys sign with CKM_ECDSA, whose raw r‖s is re-encoded as the ASN.1
// ECDSA-Sig-Value X.509 wants.
//
// # PINs and tries left
//
// PKCS #11 does not count tries: a token only flags "low"
// (CKF_USER_PIN_COUNT_LOW), "final try" (CKF_USER_PIN_FINAL_TRY) and
// "locked" (CKF_USER_PIN_LOCKED). [Token.PINRetries] maps them to
// [card.RetriesLow], 1 and 0, and an unflagged token to
// [card.RetriesUncounted]; [card.TriesLeft] says them in words. A locked
// token gets no C_Login; a wrong PIN is one C_Login, answered with a
// [*card.PINError] carrying the flags read afterwards. A token's PIN is
// as long as its ulMinPinLen..ulMaxPinLen say ([Token.PINLength],
// [card.NewTokenPIN]), not PIV's 6 to 8.
//
// A token with a protected authentication path (a PIN pad, a fingerprint
// reader: [Token.ProtectedPath]) is logged in with a NULL PIN
// ([Token.VerifyPIN] with nil): the person enters the PIN on the device, and
// the caller tells them so. A key with CKA_ALWAYS_AUTHENTICATE gets a
// context-specific login (CKU_CONTEXT_SPECIFIC) before each signature or
// decryption, with the PIN [Token.ContextPIN] supplies.
//
// C_Login takes the PIN as a Go string: the string shares the [card.PIN]'s
// bytes for the length of the call and so is wiped with it, but the binding
// copies it into C memory that it frees without wiping.
//
// This package needs cgo and the module's shared library at run time; a
// build without cgo answers every [Open] with [ErrUnavailable].
package pkcs11
