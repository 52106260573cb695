package vcard

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"io"
	"math/big"
)

// selectApp is SELECT (SP 800-73-4 Part 2 §3.1.1). The answer is the
// Application Property Template, which OpenSC needs to recognise the card.
func (c *Card) selectApp(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 || (cmd.p2 != 0x00 && cmd.p2 != 0x0C) {
		return nil, swIncorrectP1P2
	}
	if len(cmd.data) < 5 || !bytes.HasPrefix(pivAIDFull, cmd.data) {
		// Another application: not here. The PIV application, if it was
		// selected, stays selected (ISO/IEC 7816-4 §7.1.1).
		return nil, swNotFound
	}
	c.selected = true
	if cmd.p2 == 0x0C {
		return nil, swOK
	}
	var v []byte
	v = tlv(v, 0x4F, pivAIDFull[5:])
	v = tlv(v, 0x79, tlv(nil, 0x4F, pivAIDFull[:5]))
	return tlv(nil, 0x61, v), swOK
}

// objectTag reads the tag list of GET DATA and PUT DATA: 5C with a
// three-byte PIV object tag, or the one-byte discovery object tag 7E.
func objectTag(v []byte) (uint32, bool) {
	switch len(v) {
	case 1:
		return uint32(v[0]), v[0] == 0x7E
	case 3:
		return uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2]), true
	}
	return 0, false
}

// getData is GET DATA (SP 800-73-4 Part 2 §3.1.2).
func (c *Card) getData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swIncorrectP1P2
	}
	v, ok := onlyTLV(cmd.data, 0x5C)
	if !ok {
		return nil, swWrongData
	}
	tag, ok := objectTag(v)
	if !ok {
		return nil, swWrongData
	}
	if tag == tagDiscovery {
		return bytes.Clone(c.st.objects[tagDiscovery]), swOK
	}
	if pinProtected(tag) && !c.pinVerified {
		return nil, swSecurityStatus
	}
	obj, ok := c.st.objects[tag]
	if tag == tagKeyHistory && !c.st.keyHistoryExplicit {
		obj, ok = c.st.keyHistory(), true
	}
	if !ok {
		return nil, swNotFound
	}
	return tlv(nil, 0x53, obj), swOK
}

// putData is PUT DATA (SP 800-73-4 Part 2 §3.2.1); it needs the management key.
func (c *Card) putData(cmd command) uint16 {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return swSecurityStatus
	}
	var tag uint32
	var value []byte
	if len(cmd.data) > 0 && cmd.data[0] == 0x7E {
		if _, ok := onlyTLV(cmd.data, 0x7E); !ok {
			return swWrongData
		}
		tag, value = tagDiscovery, bytes.Clone(cmd.data)
	} else {
		t, v, rest, ok := readTLV(cmd.data)
		if !ok || t != 0x5C {
			return swWrongData
		}
		if tag, ok = objectTag(v); !ok || !storableObject(tag) {
			return swWrongData
		}
		if value, ok = onlyTLV(rest, 0x53); !ok {
			return swWrongData
		}
		value = bytes.Clone(value)
	}
	if len(value) == 0 && tag != tagDiscovery {
		delete(c.st.objects, tag)
	} else {
		c.st.objects[tag] = value
	}
	if tag == tagKeyHistory {
		c.st.keyHistoryExplicit = len(value) > 0
	}
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

// verify is VERIFY (SP 800-73-4 Part 2 §3.2.1) for the PIV PIN (80) or
// the global PIN (00); the PUK (81) answers only its status. Without data
// it reports the status; P1 FF resets it. The retry counter is decremented
// and saved before the PIN is compared, so a wrong PIN stays counted
// whatever happens next.
func (c *Card) verify(cmd command) uint16 {
	ref, ok := c.reference(cmd.p2)
	if !ok {
		return swRefNotFound
	}
	switch cmd.p1 {
	case 0xFF:
		if len(cmd.data) != 0 || cmd.p2 == 0x81 {
			return swWrongData
		}
		c.pinVerified, c.pinFresh, c.globalVerified = false, false, false
		return swOK
	case 0x00:
	default:
		return swIncorrectP1P2
	}
	if len(cmd.data) == 0 {
		switch {
		case cmd.p2 == 0x80 && c.pinVerified && !c.byGlobal, cmd.p2 == 0x00 && c.globalVerified:
			return swOK
		case *ref.left == 0:
			return swAuthBlocked
		}
		return triesLeft(*ref.left)
	}
	if cmd.p2 == 0x81 {
		return swRefNotFound // the PUK only unblocks and changes; VERIFY tells its tries
	}
	if len(cmd.data) != 8 {
		return swWrongData
	}
	if *ref.left == 0 {
		return swAuthBlocked
	}
	c.pinVerified, c.pinFresh, c.globalVerified = false, false, false
	*ref.left--
	if !c.save() {
		return swMemoryFailure
	}
	if subtle.ConstantTimeCompare(ref.value[:], cmd.data) != 1 {
		return triesLeft(*ref.left)
	}
	*ref.left = ref.max
	c.save() // a failure leaves the decremented count on disk: the safe side
	if cmd.p2 == 0x00 {
		c.globalVerified = true
		if !c.st.globalServes() {
			return swOK
		}
	}
	c.pinVerified, c.pinFresh, c.byGlobal = true, true, cmd.p2 == 0x00
	return swOK
}

// reference is a key reference's secret and retry counter.
type reference struct {
	value *[8]byte
	left  *int
	max   int
}

// reference finds the PIV PIN (80), the PUK (81) or the global PIN (00,
// only on a card that has one).
func (c *Card) reference(p2 byte) (reference, bool) {
	switch p2 {
	case 0x80:
		return reference{&c.st.pin, &c.st.pinLeft, c.st.pinMax}, true
	case 0x81:
		return reference{&c.st.puk, &c.st.pukLeft, c.st.pukMax}, true
	case 0x00:
		if c.st.global != nil {
			return reference{c.st.global, &c.st.globalLeft, c.st.globalMax}, true
		}
	}
	return reference{}, false
}

// triesLeft is 63Cx; counts over 15 show as 15.
func triesLeft(n int) uint16 { return swVerifyFail | uint16(min(n, 15)) }

// changeReference is CHANGE REFERENCE DATA for the PIN (80), the global
// PIN (00) or the PUK (81)
// (SP 800-73-4 Part 2 §3.2.2): old value, then new, each padded to 8 bytes.
func (c *Card) changeReference(cmd command) uint16 {
	if cmd.p1 != 0x00 {
		return swIncorrectP1P2
	}
	ref, ok := c.reference(cmd.p2)
	if !ok {
		return swRefNotFound
	}
	left, max, stored := ref.left, ref.max, ref.value
	if len(cmd.data) != 16 || !validReference(cmd.data[8:]) {
		return swWrongData
	}
	if *left == 0 {
		return swAuthBlocked
	}
	if cmd.p2 != 0x81 {
		c.pinVerified, c.pinFresh, c.globalVerified = false, false, false
	}
	*left--
	if !c.save() {
		return swMemoryFailure
	}
	if subtle.ConstantTimeCompare(stored[:], cmd.data[:8]) != 1 {
		return triesLeft(*left)
	}
	copy(stored[:], cmd.data[8:])
	*left = max
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

// resetRetryCounter is RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.3): the
// PUK sets a new PIN and restores its tries.
func (c *Card) resetRetryCounter(cmd command) uint16 {
	if cmd.p1 != 0x00 {
		return swIncorrectP1P2
	}
	if cmd.p2 != 0x80 {
		return swRefNotFound
	}
	if len(cmd.data) != 16 || !validReference(cmd.data[8:]) {
		return swWrongData
	}
	if c.st.pukLeft == 0 {
		return swAuthBlocked
	}
	c.st.pukLeft--
	if !c.save() {
		return swMemoryFailure
	}
	if !c.st.matchPUK(cmd.data[:8]) {
		return triesLeft(c.st.pukLeft)
	}
	copy(c.st.pin[:], cmd.data[8:])
	c.st.pinLeft, c.st.pukLeft = c.st.pinMax, c.st.pukMax
	c.pinVerified, c.pinFresh = false, false
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

// Dynamic Authentication Template tags (SP 800-73-4 Part 2 §3.2.4, Table 7).
const (
	datWitness   = 0x80
	datChallenge = 0x81
	datResponse  = 0x82
	datExpo      = 0x85
)

// generalAuthenticate is GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4):
// management-key authentication on key reference 9B, private-key operations
// on the key slots.
func (c *Card) generalAuthenticate(cmd command) ([]byte, uint16) {
	inner, ok := onlyTLV(cmd.data, 0x7C)
	if !ok {
		return nil, swWrongData
	}
	dat, _, ok := parseTLVs(inner)
	if !ok {
		return nil, swWrongData
	}
	if cmd.p2 == SlotManagement {
		return c.authenticateManagement(cmd.p1, dat)
	}
	if !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	k, ok := c.st.keys[cmd.p2]
	if !ok {
		return nil, swRefNotFound
	}
	if k.alg != cmd.p1 {
		return nil, swIncorrectP1P2
	}
	resp, present := dat[datResponse]
	if !present || len(resp) != 0 {
		return nil, swWrongData
	}
	challenge, hasChallenge := dat[datChallenge]
	point, hasPoint := dat[datExpo]
	if hasChallenge == hasPoint || len(dat) != 2 {
		return nil, swWrongData
	}
	switch k.pinPolicy {
	case PINPolicyOnce:
		if !c.pinVerified {
			return nil, swSecurityStatus
		}
	case PINPolicyAlways:
		if !c.pinVerified || !c.pinFresh {
			return nil, swSecurityStatus
		}
	}
	var out []byte
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		if hasPoint {
			return nil, swWrongData
		}
		if out, ok = rsaPrivate(priv, challenge); !ok {
			return nil, swWrongData
		}
	case *ecdsa.PrivateKey:
		var err error
		if hasPoint {
			if out, ok = ecdhShared(priv, point); !ok {
				return nil, swWrongData
			}
		} else {
			if len(challenge) == 0 || len(challenge) > 64 {
				return nil, swWrongData
			}
			if out, err = ecdsa.SignASN1(c.rand, priv, challenge); err != nil {
				return nil, swMemoryFailure
			}
		}
	default:
		return nil, swRefNotFound
	}
	return tlv(nil, 0x7C, tlv(nil, datResponse, out)), swOK
}

// rsaPrivate is the raw RSA private-key operation PIV performs: the client
// pads. A PKCS#1 v1.5 signature block (00 01 FF… 00 T) goes through
// crypto/rsa; anything else (decryption, PSS) through CRT exponentiation,
// checked against the public key.
func rsaPrivate(priv *rsa.PrivateKey, in []byte) ([]byte, bool) {
	k := priv.Size()
	if len(in) != k {
		return nil, false
	}
	x := new(big.Int).SetBytes(in)
	if x.Cmp(priv.N) >= 0 {
		return nil, false
	}
	if t, ok := pkcs1Type1(in); ok {
		if sig, err := rsa.SignPKCS1v15(nil, priv, crypto.Hash(0), t); err == nil {
			return sig, true
		}
	}
	if len(priv.Primes) != 2 {
		return nil, false
	}
	priv.Precompute()
	p, q := priv.Primes[0], priv.Primes[1]
	m1 := new(big.Int).Exp(x, priv.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(x, priv.Precomputed.Dq, q)
	h := new(big.Int).Sub(m1, m2)
	h.Mul(h, priv.Precomputed.Qinv)
	h.Mod(h, p)
	m := h.Mul(h, q)
	m.Add(m, m2)
	// A fault in the CRT would leak a factor of N: check before answering.
	if new(big.Int).Exp(m, big.NewInt(int64(priv.E)), priv.N).Cmp(x) != 0 {
		return nil, false
	}
	return m.FillBytes(make([]byte, k)), true
}

// pkcs1Type1 returns T from a PKCS#1 v1.5 signature block 00 01 FF…FF 00 T
// with at least eight FF bytes (RFC 8017 §9.2).
func pkcs1Type1(b []byte) ([]byte, bool) {
	if len(b) < 11 || b[0] != 0 || b[1] != 1 {
		return nil, false
	}
	i := 2
	for i < len(b) && b[i] == 0xFF {
		i++
	}
	if i < 10 || i >= len(b) || b[i] != 0 {
		return nil, false
	}
	return b[i+1:], true
}

// ecdhShared is the key agreement of SP 800-73-4 Part 2 §3.2.4 (tag 85): the
// x-coordinate of the shared point.
func ecdhShared(priv *ecdsa.PrivateKey, point []byte) ([]byte, bool) {
	ours, err := priv.ECDH()
	if err != nil {
		return nil, false
	}
	peer, err := ours.Curve().NewPublicKey(point)
	if err != nil {
		return nil, false
	}
	secret, err := ours.ECDH(peer)
	if err != nil {
		return nil, false
	}
	return secret, true
}

func (c *Card) mgmBlock() (cipher.Block, bool) {
	var b cipher.Block
	var err error
	switch c.st.mgmAlg {
	case ManagementKey3DES:
		b, err = des.NewTripleDESCipher(c.st.mgmKey)
	default:
		b, err = aes.NewCipher(c.st.mgmKey)
	}
	return b, err == nil
}

// authenticateManagement authenticates the card management key
// (SP 800-73-4 Part 2 Appendix A.1, SP 800-78-4): mutual authentication
// (witness 80 → witness 80 + challenge 81 → response 82), or the client
// alone (challenge 81 → response 82).
func (c *Card) authenticateManagement(alg byte, dat map[uint32][]byte) ([]byte, uint16) {
	if ManagementKeyAlgorithm(alg) != c.st.mgmAlg {
		return nil, swIncorrectP1P2
	}
	block, ok := c.mgmBlock()
	if !ok {
		return nil, swMemoryFailure
	}
	n := block.BlockSize()
	witness, hasWitness := dat[datWitness]
	challenge, hasChallenge := dat[datChallenge]
	response, hasResponse := dat[datResponse]
	tag, expected := c.mgmTag, c.mgmChallenge
	c.mgmTag, c.mgmChallenge = 0, nil
	switch {
	case len(dat) == 1 && hasWitness && len(witness) == 0:
		w := make([]byte, n)
		if _, err := io.ReadFull(c.rand, w); err != nil {
			return nil, swMemoryFailure
		}
		enc := make([]byte, n)
		block.Encrypt(enc, w)
		c.mgmTag, c.mgmChallenge, c.mgmAuthed = datWitness, w, false
		return tlv(nil, 0x7C, tlv(nil, datWitness, enc)), swOK
	case len(dat) == 1 && hasChallenge && len(challenge) == 0:
		ch := make([]byte, n)
		if _, err := io.ReadFull(c.rand, ch); err != nil {
			return nil, swMemoryFailure
		}
		c.mgmTag, c.mgmChallenge, c.mgmAuthed = datChallenge, ch, false
		return tlv(nil, 0x7C, tlv(nil, datChallenge, ch)), swOK
	case len(dat) == 2 && hasWitness && hasChallenge:
		if tag != datWitness || len(witness) != n || len(challenge) != n {
			c.mgmAuthed = false
			return nil, swConditions
		}
		if subtle.ConstantTimeCompare(witness, expected) != 1 {
			c.mgmAuthed = false
			return nil, swSecurityStatus
		}
		enc := make([]byte, n)
		block.Encrypt(enc, challenge)
		c.mgmAuthed = true
		return tlv(nil, 0x7C, tlv(nil, datResponse, enc)), swOK
	case len(dat) == 1 && hasResponse:
		if tag != datChallenge || len(response) != n {
			c.mgmAuthed = false
			return nil, swConditions
		}
		want := make([]byte, n)
		block.Encrypt(want, expected)
		if subtle.ConstantTimeCompare(response, want) != 1 {
			c.mgmAuthed = false
			return nil, swSecurityStatus
		}
		c.mgmAuthed = true
		return nil, swOK
	}
	c.mgmAuthed = false
	return nil, swWrongData
}

// generateKeyPair is GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2
// §3.3.2): control reference template AC with the algorithm (80) and, as
// YubiKeys take them, PIN policy (AA) and touch policy (AB).
func (c *Card) generateKeyPair(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 || !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	crt, ok := onlyTLV(cmd.data, 0xAC)
	if !ok {
		return nil, swWrongData
	}
	params, _, ok := parseTLVs(crt)
	if !ok || len(params[0x80]) != 1 {
		return nil, swWrongData
	}
	policy, touch, ok := policies(params)
	if !ok {
		return nil, swWrongData
	}
	var priv crypto.Signer
	var err error
	switch params[0x80][0] {
	case algRSA2048:
		priv, err = rsa.GenerateKey(c.rand, 2048)
	case algRSA3072:
		priv, err = rsa.GenerateKey(c.rand, 3072)
	case algRSA4096:
		priv, err = rsa.GenerateKey(c.rand, 4096)
	case algP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), c.rand)
	case algP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), c.rand)
	default:
		return nil, swFuncNotSupported
	}
	if err != nil {
		return nil, swMemoryFailure
	}
	if err := c.st.SetKey(cmd.p2, priv, policy); err != nil {
		return nil, swMemoryFailure
	}
	k := c.st.keys[cmd.p2]
	k.origin, k.touch = originGenerated, touch
	if !c.save() {
		return nil, swMemoryFailure
	}
	return tlv(nil, 0x7F49, publicKeyTLVs(priv.Public())), swOK
}

// policies reads the optional PIN (AA) and touch (AB) policy tags.
func policies(params map[uint32][]byte) (PINPolicy, byte, bool) {
	policy, touch := PINPolicyDefault, byte(1)
	if v, ok := params[0xAA]; ok {
		if len(v) != 1 || v[0] > byte(PINPolicyAlways) {
			return 0, 0, false
		}
		policy = PINPolicy(v[0])
	}
	if v, ok := params[0xAB]; ok {
		if len(v) != 1 || v[0] > 3 {
			return 0, 0, false
		}
		if v[0] != 0 {
			touch = v[0]
		}
	}
	return policy, touch, true
}

// publicKeyTLVs is the content of template 7F49 (SP 800-73-4 Part 2
// Table 15): modulus 81 and exponent 82, or the uncompressed point 86.
func publicKeyTLVs(pub crypto.PublicKey) []byte {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		v := tlv(nil, 0x81, p.N.Bytes())
		return tlv(v, 0x82, big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		if err != nil {
			return nil
		}
		return tlv(nil, 0x86, e.Bytes())
	}
	return nil
}
