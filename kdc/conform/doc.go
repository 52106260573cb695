// Package conform is a conformance KDC for PKINIT clients: it answers a
// client's AS-REQ with one deliberate fault per attempt and records whether
// the client accepted it, to show whether the client fails closed.
//
// Make the PKI with [NewPKI] (a trusted CA, whose certificate the client
// must trust, [PKI.AnchorPath]; an untrusted CA of the same name; the KDC's
// certificates good and bad; a client identity), the KDC with [New], serve
// it with a kdc.Server ([KDC] is a [kdc.Handler]), write the clients'
// krb5.conf with [WriteKrb5Conf], then either drive client commands with a
// [Driver] ([Driver.Run] gives the [Report]) or, for a client run by hand,
// call [KDC.Schedule] and read [KDC.ListenerReport] when [KDC.Finished].
// `sclogon kdc conform` is that, on the command line.
//
// # The faults
//
// [Faults] lists them, the [Control] first: a correct exchange, so that a
// client that cannot log on at all is reported as such and not as refusing
// everything. Each fault changes one thing of an otherwise correct reply
// (the KDC's signature or certificate, a nonce, the asChecksum, the DH or
// ECDH public value, the digest, the group, the key-exchange method, the
// EncASRepPart's key usage, the cname, serverDHNonce without
// dhKeyExpiration) and applies to the requests that ask for what it breaks
// ([Fault.Applies]); the package's tests take every reply apart on the wire
// to show that it has its fault and no other.
//
// # What counts as accepted
//
// A client accepted a faulty reply when it holds the session key of the
// ticket that reply carried: the ccache it wrote holds that key, or a
// TGS-REQ arrives whose authenticator decrypts with it. The key is random
// per reply and only inside the reply's enc-part, so neither an exit status
// nor a message can fake acceptance or refusal. Where the fault leaves the
// KDC unable to know the key a lax client derives (a public value outside
// the prime-order subgroup fixes the client's secret only up to the parity
// of its private key), the fault is shown [Fault.Tries] times with
// alternating guesses.
//
// [kdc.Handler]: https://pkg.go.dev/github.com/sclogon/sclogon/kdc#Handler
package conform
