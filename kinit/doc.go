// Package kinit is the sclogon client: it obtains a Kerberos TGT with PKINIT
// (RFC 4556) and, on request, service tickets, and hands back credentials for
// an MIT ccache.
//
// Decide whom to log on with [ClientName], read the realm's PKINIT options
// with [PolicyFromConfig], find the KDCs with transport.Locate, then call
// [Client.Run] with a [Request] holding an [Identity]: a software key from
// package [github.com/sclogon/sclogon/kinit/identity], or a card adapter.
// [Result.CCache] is ready for ccache.WriteFile. [Request.Options] carry MIT
// kinit's lifetime and flags ([TicketOptionsFromConfig] reads krb5.conf's
// defaults, [ParseDuration] MIT's durations); [Client.Renew] and
// [Client.Validate] take a ticket back to the KDC (kinit -R, -v) without the
// identity.
//
// # The exchange
//
// A first AS-REQ without pre-authentication asks for an RFC 8070 freshness
// token; the KDC's KDC_ERR_PREAUTH_REQUIRED must offer PKINIT. The second
// carries a signed AuthPack (MODP DH by default, ECDH, or RSA key transport).
// A KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED with TD-DH-PARAMETERS, or a
// KDC_ERR_PREAUTH_EXPIRED with a new token, is retried once; any other
// KRB-ERROR comes back as a [*KDCError].
//
// # What is verified
//
// The KDC's CMS signature and the nonce or asChecksum (package pkinit); the
// KDC certificate's path to the anchors, its EKU ([EKUCheck]), its name
// (krbtgt/REALM, or a pkinit_kdc_hostname dNSName) and, per [OCSPMode], its
// revocation status, from an RFC 5940 OCSP response stapled in the
// SignedData's crls or from the responder; then the EncASRepPart's nonce,
// names and times. Every refusal wraps one of the Err* values.
package kinit
