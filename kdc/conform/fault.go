package conform

import (
	"crypto"
	"crypto/rsa"
)

// Outcome is what a client did with one reply.
type Outcome string

const (
	// Accepted: the client holds the session key of the ticket the faulty
	// reply carried (see the package documentation's criterion).
	Accepted Outcome = "accepted"
	// Refused: it does not.
	Refused Outcome = "refused"
	// NotApplicable: the client's request does not ask for what the fault
	// breaks (an ECDH fault for a MODP client), or no client offered it.
	NotApplicable Outcome = "n/a"
	// NoRequest: the client sent no PKINIT AS-REQ during the attempt, so
	// the fault was never shown to it; nothing is concluded.
	NoRequest Outcome = "no request"
	// KDCFailed: the conformance KDC could not build the faulty reply, so
	// the client saw an error instead; nothing is concluded.
	KDCFailed Outcome = "kdc error"
)

// Exchange is the key exchange a client's AuthPack asks for.
type Exchange string

const (
	ExchangeMODP         Exchange = "dh"   // MODP Diffie-Hellman, RFC 4556 §3.2.3.1
	ExchangeECDH         Exchange = "ecdh" // RFC 5349
	ExchangeKeyTransport Exchange = "rsa"  // RSA key transport, RFC 4556 §3.2.3.2
)

// Request is what the conformance KDC saw of a client's PKINIT AS-REQ: what
// decides which faults apply to it.
type Request struct {
	Exchange Exchange
	Group    int    // MODP group number (2, 14, 16, 18); 0 otherwise
	Curve    string // "P-256", …; "" unless ECDH
	// OffersSHA2: a SHA-2 digest or signature in supportedCMSTypes, or the
	// AuthPack itself signed with one.
	OffersSHA2 bool
	// RSAClientKey: the AuthPack's signer has an RSA key, so the KDC can
	// transport a key to it.
	RSAClientKey bool
}

// Fault is one deliberate defect of a reply. Each is a row of [Faults].
type Fault struct {
	Name    string // short, stable: "kdc-signature"
	Summary string // what is wrong with the reply
	// Expected is what a conforming client does: [Refused] for every fault,
	// [Accepted] for the control.
	Expected Outcome
	// Tries is how many exchanges the fault gets: more than one when the KDC
	// cannot know the key a lax client derives (a public value outside the
	// subgroup gives the client a secret fixed up to its key's parity), so
	// one of two guesses is right each time and a lax client is caught with
	// probability 1 − 2^−Tries.
	Tries   int
	applies func(Request) bool
	tamper  func(*plan)
}

// Applies reports whether r asks for what f breaks.
func (f Fault) Applies(r Request) bool { return f.applies(r) }

// plan is how the KDC answers: each fault sets one field from the
// faultless default [defaultPlan].
type plan struct {
	identity       Identity
	hash           crypto.Hash // the reply's signature digest; 0 is SHA-256
	breakSignature bool
	dhNonceDelta   uint32      // added to the KDCDHKeyInfo nonce
	kdcPublic      publicFault // the KDC's key-agreement public value
	serverNonce    bool        // serverDHNonce without dhKeyExpiration
	keyTransport   bool        // RSA key transport whatever the client asked
	asChecksum     checksumFault
	encPartUsage   uint32 // the EncASRepPart's key usage; 0 is 3, RFC 4120 §7.5.1
	repNonceDelta  uint32 // added to the EncASRepPart nonce
	cname          string // the AS-REP's cname instead of the client's
	downgrade      bool   // refuse the client's group, offering only MODP group 2
}

type publicFault int

const (
	publicGood            publicFault = iota
	publicOne                         // y = 1
	publicPMinus1                     // y = p − 1
	publicOutsideSubgroup             // y = p − g^b: order 2q, not in the order-q subgroup
	publicOffCurve                    // an ECDH point (1, 0), on no NIST curve
)

type checksumFault int

const (
	checksumGood    checksumFault = iota
	checksumWrong                 // a byte of the asChecksum flipped
	checksumMissing               // ReplyKeyPack without asChecksum
)

func anyRequest(Request) bool        { return true }
func keyAgreement(r Request) bool    { return r.Exchange == ExchangeMODP || r.Exchange == ExchangeECDH }
func modp(r Request) bool            { return r.Exchange == ExchangeMODP }
func ecdhRequest(r Request) bool     { return r.Exchange == ExchangeECDH }
func keyTransport(r Request) bool    { return r.Exchange == ExchangeKeyTransport }
func offersSHA2(r Request) bool      { return r.OffersSHA2 }
func aboveGroup2(r Request) bool     { return r.Exchange == ExchangeMODP && r.Group > 2 }
func rsaForAgreement(r Request) bool { return keyAgreement(r) && r.RSAClientKey }

// Control is the faultless exchange run first, so that a client that cannot
// log on at all is reported as such and not as refusing every fault.
var Control = Fault{Name: "control", Summary: "a correct reply", Expected: Accepted, Tries: 1,
	applies: anyRequest, tamper: func(*plan) {}}

// Faults are the faults in the order they are run (the control first).
func Faults() []Fault {
	return []Fault{
		Control,
		refuse("kdc-signature", "the KDC's CMS signature over the reply is broken", anyRequest, func(p *plan) { p.breakSignature = true }),
		refuse("untrusted-ca", "the KDC certificate is issued by an untrusted CA of the trusted one's name", anyRequest, func(p *plan) { p.identity = IdentityUntrusted }),
		refuse("no-kdc-eku", "the KDC certificate has no id-pkinit-KPKdc EKU", anyRequest, func(p *plan) { p.identity = IdentityNoKDCEKU }),
		refuse("wrong-krbtgt-san", "the KDC certificate names krbtgt/OTHER.INVALID", anyRequest, func(p *plan) { p.identity = IdentityWrongSAN }),
		refuse("expired-kdc-cert", "the KDC certificate expired a day ago", anyRequest, func(p *plan) { p.identity = IdentityExpired }),
		refuse("dh-reply-nonce", "the KDCDHKeyInfo nonce is not the PKAuthenticator's", keyAgreement, func(p *plan) { p.dhNonceDelta = 1 }),
		refuse("as-rep-nonce", "the EncASRepPart nonce is not the request's", anyRequest, func(p *plan) { p.repNonceDelta = 1 }),
		refuse("as-checksum-wrong", "the ReplyKeyPack asChecksum does not match the AS-REQ", keyTransport, func(p *plan) { p.asChecksum = checksumWrong }),
		refuse("as-checksum-missing", "the ReplyKeyPack has no asChecksum", keyTransport, func(p *plan) { p.asChecksum = checksumMissing }),
		refuse("dh-public-one", "the KDC's DH public value is 1", modp, func(p *plan) { p.kdcPublic = publicOne }),
		tries(8, refuse("dh-public-p-minus-1", "the KDC's DH public value is p−1", modp, func(p *plan) { p.kdcPublic = publicPMinus1 })),
		tries(8, refuse("dh-public-outside-subgroup", "the KDC's DH public value is outside the prime-order subgroup", modp, func(p *plan) { p.kdcPublic = publicOutsideSubgroup })),
		tries(8, refuse("ecdh-point-off-curve", "the KDC's ECDH point (1, 0) is not on the curve", ecdhRequest, func(p *plan) { p.kdcPublic = publicOffCurve })),
		refuse("sha1-signature", "the reply is signed with SHA-1 though the client offered SHA-2", offersSHA2, func(p *plan) { p.hash = crypto.SHA1 }),
		refuse("dh-group-downgrade", "the KDC refuses the client's group and asks for the 1024-bit MODP group 2", aboveGroup2, func(p *plan) { p.downgrade = true }),
		refuse("key-transport-for-dh", "the KDC answers a key-agreement request with RSA key transport", rsaForAgreement, func(p *plan) { p.keyTransport = true }),
		refuse("enc-part-key-usage", "the EncASRepPart is encrypted with key usage 8 (TGS-REP) instead of 3", anyRequest, func(p *plan) { p.encPartUsage = 8 }),
		refuse("as-rep-cname", "the AS-REP's cname is another principal (mallory)", anyRequest, func(p *plan) { p.cname = "mallory" }),
		refuse("server-dh-nonce-without-expiration", "serverDHNonce is sent without dhKeyExpiration", keyAgreement, func(p *plan) { p.serverNonce = true }),
	}
}

func refuse(name, summary string, applies func(Request) bool, tamper func(*plan)) Fault {
	return Fault{Name: name, Summary: summary, Expected: Refused, Tries: 1, applies: applies, tamper: tamper}
}

func tries(n int, f Fault) Fault { f.Tries = n; return f }

// FaultByName finds a fault of [Faults].
func FaultByName(name string) (Fault, bool) {
	for _, f := range Faults() {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

func isRSA(pub crypto.PublicKey) bool { _, ok := pub.(*rsa.PublicKey); return ok }
