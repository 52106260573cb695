package pkinit

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sync"

	"filippo.io/bigmod"
)

// Group is a MODP Diffie-Hellman group, by its RFC 2409 / RFC 3526 number.
type Group int

// The MODP groups PKINIT offers (RFC 4556 §3.2.1 names 2 and 14; 16 and 18
// for stronger policies).
const (
	MODPGroup2  Group = 2  // 1024-bit, RFC 2409 §6.2; only with AgreementPolicy.AllowGroup2
	MODPGroup14 Group = 14 // 2048-bit, RFC 3526 §3
	MODPGroup16 Group = 16 // 4096-bit, RFC 3526 §5
	MODPGroup18 Group = 18 // 8192-bit, RFC 3526 §7
)

// Curve is an elliptic curve for ECDH, RFC 5349.
type Curve int

// Curves offered for ECDH.
const (
	CurveP256 Curve = iota + 1 // secp256r1
	CurveP384                  // secp384r1
	CurveP521                  // secp521r1
)

// AgreementPolicy says which key-agreement parameters a peer may use.
type AgreementPolicy struct {
	AllowGroup2 bool // accept the 1024-bit MODP group 2
}

type groupParams struct {
	p, q, g     *big.Int
	mod         *bigmod.Modulus // p, for the constant-time exponentiations
	privateBits int             // short exponents: twice the group's strength (RFC 3526 §8)
}

// modpGroups parses the published primes once; every exchange uses them.
var modpGroups = sync.OnceValue(func() map[Group]groupParams {
	groups := map[Group]groupParams{}
	for g, def := range map[Group]struct {
		hex  string
		bits int
	}{
		MODPGroup2:  {modpGroup2Hex, 160},
		MODPGroup14: {modpGroup14Hex, 256},
		MODPGroup16: {modpGroup16Hex, 384},
		MODPGroup18: {modpGroup18Hex, 512},
	} {
		p, _ := new(big.Int).SetString(def.hex, 16)
		mod, err := bigmod.NewModulus(p.Bytes())
		if err != nil {
			panic("pkinit: MODP prime: " + err.Error()) // a constant above is broken
		}
		groups[g] = groupParams{p: p, q: new(big.Int).Rsh(p, 1), g: big.NewInt(2), mod: mod, privateBits: def.bits}
	}
	return groups
})

func (g Group) params() (groupParams, bool) {
	gp, ok := modpGroups()[g]
	return gp, ok
}

func (c Curve) ecdh() (ecdh.Curve, asn1.ObjectIdentifier) {
	switch c {
	case CurveP256:
		return ecdh.P256(), oidCurveP256
	case CurveP384:
		return ecdh.P384(), oidCurveP384
	case CurveP521:
		return ecdh.P521(), oidCurveP521
	}
	return nil, nil
}

// DHKey is one side's ephemeral key-agreement key: MODP Diffie-Hellman or ECDH.
// The client makes one with [NewDHKey] or [NewECDHKey]; the KDC makes its
// own in the client's group with [ClientPublic.NewKey].
type DHKey struct {
	group Group
	gp    groupParams
	x     []byte   // the private exponent, big-endian, always privateBits long
	y     *big.Int // g^x mod p, public
	ec    *ecdh.PrivateKey
	curve Curve
	last  *lastAgreement // set by ForReuse
}

// lastAgreement is a reused key's last peer value and the secret with it.
type lastAgreement struct {
	mu     sync.Mutex
	peer   []byte
	secret []byte
}

// NewDHKey makes a MODP key pair in group. The private exponent has the
// group's privateBits with the top bit set, so its length, the only thing
// the constant-time exponentiation lets timing show, is the same for every key.
func NewDHKey(group Group, rand io.Reader) (*DHKey, error) {
	gp, ok := group.params()
	if !ok {
		return nil, fmt.Errorf("%w: group %d", ErrWeakGroup, group)
	}
	x := make([]byte, gp.privateBits/8)
	if _, err := io.ReadFull(rand, x); err != nil {
		return nil, fmt.Errorf("pkinit: dh key: %w", err)
	}
	x[0] |= 0x80 // full-length exponent, never 0 or 1
	g, err := bigmod.NewNat().SetBytes(gp.g.Bytes(), gp.mod)
	if err != nil {
		return nil, fmt.Errorf("pkinit: dh key: %w", err)
	}
	y := new(big.Int).SetBytes(bigmod.NewNat().Exp(g, x, gp.mod).Bytes(gp.mod))
	return &DHKey{group: group, gp: gp, x: x, y: y}, nil
}

// NewAgreementKey makes an ECDH key pair on curve when curve is set, else a
// MODP key pair in group.
func NewAgreementKey(curve Curve, group Group, rand io.Reader) (*DHKey, error) {
	if curve != 0 {
		return NewECDHKey(curve, rand)
	}
	return NewDHKey(group, rand)
}

// NewECDHKey makes an ECDH key pair on curve.
func NewECDHKey(curve Curve, rand io.Reader) (*DHKey, error) {
	c, _ := curve.ecdh()
	if c == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedCurve, curve)
	}
	k, err := c.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("pkinit: ecdh key: %w", err)
	}
	return &DHKey{ec: k, curve: curve}, nil
}

type dhDomainParameters struct {
	P, G, Q *big.Int
}

type subjectPublicKeyInfo struct {
	Raw       asn1.RawContent
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// PublicValue is the subjectPublicKey a KDC puts in its KDCDHKeyInfo: a DER
// INTEGER for DH (RFC 4556 §3.2.3.1), an uncompressed point for ECDH (RFC 5349 §4).
func (k *DHKey) PublicValue() []byte {
	if k.ec != nil {
		return k.ec.PublicKey().Bytes()
	}
	b, _ := asn1.Marshal(k.y) // a positive big.Int always encodes
	return b
}

// PublicKeyInfo is the DER SubjectPublicKeyInfo the client puts in
// AuthPack.clientPublicValue: dhpublicnumber with p, g, q (RFC 3279 §2.3.3)
// or id-ecPublicKey with the named curve (RFC 5480).
func (k *DHKey) PublicKeyInfo() ([]byte, error) {
	var alg pkix.AlgorithmIdentifier
	if k.ec != nil {
		_, oid := k.curve.ecdh()
		params, err := marshal(oid, "ECParameters")
		if err != nil {
			return nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}
	} else {
		params, err := marshal(dhDomainParameters{k.gp.p, k.gp.g, k.gp.q}, "DomainParameters")
		if err != nil {
			return nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidDHPublicNumber, Parameters: asn1.RawValue{FullBytes: params}}
	}
	pv := k.PublicValue()
	return marshal(subjectPublicKeyInfo{Algorithm: alg, PublicKey: asn1.BitString{Bytes: pv, BitLength: 8 * len(pv)}}, "SubjectPublicKeyInfo")
}

// SharedSecret computes the agreed secret with the peer's public value (as
// [DHKey.PublicValue] encodes it), after validating it. A DH secret is
// left-padded with zeros to the size of the modulus (RFC 4556 §3.2.3.1: "the
// leading zeros MUST be preserved"); an ECDH secret is the x-coordinate,
// fixed-size (RFC 5349 §4). The caller owns the secret and should clear it
// once the reply key is derived, as [BuildDHReply] and [ProcessReply] do.
func (k *DHKey) SharedSecret(peer []byte) ([]byte, error) {
	if k.last != nil {
		return k.last.agree(k, peer)
	}
	return k.sharedSecret(peer)
}

// ForReuse returns k made for use in many exchanges, as a load generator's
// clients use theirs (bench/kdcload): it remembers the secret of its last
// agreement and answers the same peer value from memory. Against a KDC that
// reuses its own key (RFC 4556 §3.2.3.1, sclogon's dh_key_reuse) each
// secret is then computed once. The remembered secret lives as long as the
// key, so a logon's key, which is used once, is never made for reuse.
func (k *DHKey) ForReuse() *DHKey {
	r := *k
	r.last = new(lastAgreement)
	return &r
}

// agree is SharedSecret through the memory of the last agreement. The
// caller owns, and may clear, the copy it gets.
func (l *lastAgreement) agree(k *DHKey, peer []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.secret == nil || !bytes.Equal(l.peer, peer) {
		s, err := k.sharedSecret(peer)
		if err != nil {
			return nil, err
		}
		clear(l.secret)
		l.peer, l.secret = bytes.Clone(peer), s
	}
	return bytes.Clone(l.secret), nil
}

func (k *DHKey) sharedSecret(peer []byte) ([]byte, error) {
	if k.ec != nil {
		c, _ := k.curve.ecdh()
		pub, err := c.NewPublicKey(peer)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
		}
		s, err := k.ec.ECDH(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
		}
		return s, nil
	}
	var y *big.Int
	if err := unmarshal(peer, &y, "DH public value"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
	}
	if err := validateDHPublic(k.gp, y); err != nil {
		return nil, err
	}
	return k.modpSecret(y)
}

// agree computes the shared secret with a public value ParseClientPublicValue
// already validated, without validating it again.
func (k *DHKey) agree(pub *ClientPublic) ([]byte, error) {
	if k.ec != nil || pub.y == nil || k.gp.p == nil {
		return k.sharedSecret(pub.value)
	}
	return k.modpSecret(pub.y)
}

// modpSecret is y^x mod p for a validated y, in constant time in x (bigmod,
// the arithmetic crypto/rsa uses: a fixed 4-bit window, table lookups by
// masking), as modulus-length big-endian octets, leading zeros kept. The KDC
// reuses x for minutes (dh_key_reuse), so math/big's variable-time Exp would
// let the timing of many exchanges speak about one long-lived secret.
func (k *DHKey) modpSecret(y *big.Int) ([]byte, error) {
	yn, err := bigmod.NewNat().SetBytes(y.Bytes(), k.gp.mod)
	if err != nil { // validateDHPublic has checked y < p-1
		return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
	}
	z := bigmod.NewNat().Exp(yn, k.x, k.gp.mod)
	secret := z.Bytes(k.gp.mod) // always as long as p
	z.SetUint(0)                // clears every limb of z
	return secret, nil
}

// validateDHPublic checks 1 < y < p-1 and that y lies in the prime-order
// subgroup (NIST SP 800-56A §5.6.2.3.1), which is y^q ≡ 1 (mod p). Every
// group [Group.params] knows has a safe prime p = 2q+1, whose order-q
// subgroup is exactly the quadratic residues mod p; so by Euler's criterion
// y^q = y^((p-1)/2) ≡ 1 ⇔ the Legendre symbol (y/p), which the Jacobi symbol
// equals for prime p, is 1. That takes microseconds where the 2048-bit
// exponentiation took milliseconds (more than the rest of a KDC's exchange).
// y is public, so the variable-time computation leaks nothing.
// TestJacobiMatchesMathBig holds jacobi to big.Jacobi.
func validateDHPublic(gp groupParams, y *big.Int) error {
	pMinus1 := new(big.Int).Sub(gp.p, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return fmt.Errorf("%w: out of range", ErrBadPublicValue)
	}
	if jacobi(y, gp.p) != 1 {
		return fmt.Errorf("%w: not in the prime-order subgroup", ErrBadPublicValue)
	}
	return nil
}

// ClientPublic is a validated clientPublicValue, as the KDC sees it.
type ClientPublic struct {
	Group Group // set for MODP DH
	Curve Curve // set for ECDH
	value []byte
	spki  []byte   // the SubjectPublicKeyInfo it was parsed from
	y     *big.Int // the validated DH public value
}

// Value is the client's public value in the form [DHKey.SharedSecret] takes.
func (c *ClientPublic) Value() []byte { return c.value }

// NewKey makes the KDC's ephemeral key in the client's group or curve.
func (c *ClientPublic) NewKey(rand io.Reader) (*DHKey, error) {
	return NewAgreementKey(c.Curve, c.Group, rand)
}

// ParseClientPublicValue reads and validates AuthPack.clientPublicValue: a
// known MODP group (group 2 only if the policy allows it) with a valid public
// value, or a point on P-256, P-384 or P-521.
func ParseClientPublicValue(spki []byte, pol AgreementPolicy) (*ClientPublic, error) {
	var s subjectPublicKeyInfo
	if err := unmarshal(spki, &s, "clientPublicValue"); err != nil {
		return nil, err
	}
	if s.PublicKey.BitLength%8 != 0 {
		return nil, malformed("clientPublicValue", fmt.Errorf("public key is not whole octets"))
	}
	switch {
	case s.Algorithm.Algorithm.Equal(oidECPublicKey):
		var oid asn1.ObjectIdentifier
		if err := unmarshal(s.Algorithm.Parameters.FullBytes, &oid, "ECParameters"); err != nil {
			return nil, fmt.Errorf("%w: only named curves", ErrUnsupportedCurve)
		}
		for _, c := range []Curve{CurveP256, CurveP384, CurveP521} {
			ec, coid := c.ecdh()
			if !oid.Equal(coid) {
				continue
			}
			if _, err := ec.NewPublicKey(s.PublicKey.Bytes); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
			}
			return &ClientPublic{Curve: c, value: s.PublicKey.Bytes, spki: spki}, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedCurve, oid)
	case s.Algorithm.Algorithm.Equal(oidDHPublicNumber):
		var dp struct {
			P, G *big.Int
			Q    *big.Int      `asn1:"optional"`
			Rest asn1.RawValue `asn1:"optional"` // j, validationParms: ignored
		}
		if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &dp); err != nil {
			return nil, malformed("DomainParameters", err)
		}
		for _, g := range []Group{MODPGroup14, MODPGroup16, MODPGroup18, MODPGroup2} {
			gp, _ := g.params()
			if dp.P.Cmp(gp.p) != 0 || dp.G.Cmp(gp.g) != 0 || (dp.Q != nil && dp.Q.Cmp(gp.q) != 0) {
				continue
			}
			if g == MODPGroup2 && !pol.AllowGroup2 {
				return nil, fmt.Errorf("%w: group 2 (1024-bit) is not allowed", ErrWeakGroup)
			}
			var y *big.Int
			if err := unmarshal(s.PublicKey.Bytes, &y, "DH public value"); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadPublicValue, err)
			}
			if err := validateDHPublic(gp, y); err != nil {
				return nil, err
			}
			return &ClientPublic{Group: g, value: s.PublicKey.Bytes, spki: spki, y: y}, nil
		}
		return nil, fmt.Errorf("%w: unknown %d-bit group", ErrWeakGroup, dp.P.BitLen())
	}
	return nil, fmt.Errorf("%w: public key algorithm %v", ErrUnsupportedAlgorithm, s.Algorithm.Algorithm)
}

// DHParameters returns the AlgorithmIdentifiers of the given groups, for
// TD-DH-PARAMETERS.
func DHParameters(groups ...Group) ([]pkix.AlgorithmIdentifier, error) {
	var out []pkix.AlgorithmIdentifier
	for _, g := range groups {
		gp, ok := g.params()
		if !ok {
			return nil, fmt.Errorf("%w: group %d", ErrWeakGroup, g)
		}
		params, err := marshal(dhDomainParameters{gp.p, gp.g, gp.q}, "DomainParameters")
		if err != nil {
			return nil, err
		}
		out = append(out, pkix.AlgorithmIdentifier{Algorithm: oidDHPublicNumber, Parameters: asn1.RawValue{FullBytes: params}})
	}
	return out, nil
}

// PAChecksum is the paChecksum of RFC 4556 §3.2.1: SHA-1 over the DER
// KDC-REQ-BODY exactly as sent.
func PAChecksum(reqBody []byte) []byte {
	s := sha1.Sum(reqBody)
	return s[:]
}

// NewPAChecksum2 is the paChecksum2 of RFC 8636 §4 over the DER KDC-REQ-BODY
// with SHA-256, SHA-384 or SHA-512.
func NewPAChecksum2(reqBody []byte, kdf KDF) (*PAChecksum2, error) {
	var oid asn1.ObjectIdentifier
	switch kdf {
	case KDFSHA256:
		oid = oidSHA256
	case KDFSHA384:
		oid = oidSHA384
	case KDFSHA512:
		oid = oidSHA512
	default:
		return nil, fmt.Errorf("%w: paChecksum2 with %v", ErrUnsupportedDigest, kdf)
	}
	h := hashOfDigestOID(oid).New()
	h.Write(reqBody)
	return &PAChecksum2{Checksum: h.Sum(nil), Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid}}, nil
}

// CheckChecksums verifies paChecksum (required when requirePAChecksum) and,
// when present, paChecksum2 against the DER KDC-REQ-BODY as received.
func (p *PKAuthenticator) CheckChecksums(reqBody []byte, requirePAChecksum bool) error {
	if p.PAChecksum == nil {
		if requirePAChecksum {
			return ErrPAChecksumMissing
		}
	} else if !constantTimeEqual(p.PAChecksum, PAChecksum(reqBody)) {
		return ErrPAChecksumMismatch
	}
	if p.PAChecksum2 != nil {
		h := hashOfDigestOID(p.PAChecksum2.Algorithm.Algorithm)
		if h == 0 || h == crypto.SHA1 {
			return fmt.Errorf("%w: paChecksum2 %v", ErrUnsupportedDigest, p.PAChecksum2.Algorithm.Algorithm)
		}
		d := h.New()
		d.Write(reqBody)
		if !constantTimeEqual(d.Sum(nil), p.PAChecksum2.Checksum) {
			return ErrPAChecksumMismatch
		}
	}
	return nil
}

func constantTimeEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
