// Package krbcrypto is Kerberos encryption with AES ([RFC 3962]:
// aes128-cts-hmac-sha1-96 and aes256-cts-hmac-sha1-96), the simplified
// profile of [RFC 3961] over AES in CBC mode with ciphertext stealing, for
// the KDC's hot paths: tickets, replies, freshness tokens, PAC signatures.
// Other encryption types stay with gokrb5.
//
// Start with [NewKey] for a key used for one exchange (a reply key, a
// session key) or [NewLongTermKey] for a key the KDC holds for long (the
// krbtgt key, a service key); then [Key.Encrypt], [Key.Decrypt] and
// [Key.Checksum].
//
// # Derived keys
//
// Every operation works under keys derived from the base key and the key
// usage (RFC 3961 §5.3): Ke encrypts, Ki protects the integrity of a
// ciphertext, Kc makes checksums. Deriving one n-folds a constant made from
// the usage, which depends on the usage alone, so the n-folded constants
// are computed once per usage and kept for the life of the process: they
// are public. A long-term key also keeps the keys it derives, one set per
// usage, for as long as the key itself lives: they are no more secret than
// the base key, which its holder keeps in memory anyway. A key for one
// exchange keeps nothing and wipes what it derives after each use.
//
// [RFC 3961]: https://www.rfc-editor.org/rfc/rfc3961
// [RFC 3962]: https://www.rfc-editor.org/rfc/rfc3962
package krbcrypto
