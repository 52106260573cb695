package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"math/big"
)

// The YubiKey PIV extensions piv-go relies on
// (https://developers.yubico.com/PIV/Introduction/Yubico_extensions.html).
// [Options.Generic] turns them all off.

// firmwareVersion is what GET VERSION reports: 5.4.3 has METADATA (5.3)
// and AES management keys (5.4), which piv-go uses from those versions on.
var firmwareVersion = []byte{5, 4, 3}

func (c *Card) getVersion(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swIncorrectP1P2
	}
	return append([]byte(nil), firmwareVersion...), swOK
}

func (c *Card) getSerial(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swIncorrectP1P2
	}
	return binary.BigEndian.AppendUint32(nil, c.st.serial), swOK
}

// getMetadata is GET METADATA (F7) for a key slot, the management key (9B),
// the PIN (80) or the PUK (81).
func (c *Card) getMetadata(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 {
		return nil, swIncorrectP1P2
	}
	isDefault := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	var v []byte
	switch slot := cmd.p2; {
	case slot == 0x80 || slot == 0x81:
		max, left, dflt := c.st.pinMax, c.st.pinLeft, c.st.pin == padPIN(DefaultPIN)
		if slot == 0x81 {
			max, left, dflt = c.st.pukMax, c.st.pukLeft, c.st.puk == padPIN(DefaultPUK)
		}
		v = tlv(v, 0x01, []byte{0xFF})
		v = tlv(v, 0x05, isDefault(dflt))
		v = tlv(v, 0x06, []byte{byte(max), byte(left)})
	case slot == SlotManagement:
		v = tlv(v, 0x01, []byte{byte(c.st.mgmAlg)})
		v = tlv(v, 0x02, []byte{0x00, 0x01})
		dflt := c.st.mgmAlg == ManagementKey3DES && string(c.st.mgmKey) == string(DefaultManagementKey)
		v = tlv(v, 0x05, isDefault(dflt))
	case isKeySlot(slot):
		k, ok := c.st.keys[slot]
		if !ok {
			return nil, swNotFound
		}
		v = tlv(v, 0x01, []byte{k.alg})
		v = tlv(v, 0x02, []byte{byte(k.pinPolicy), k.touch})
		v = tlv(v, 0x03, []byte{k.origin})
		v = tlv(v, 0x04, publicKeyTLVs(k.priv.Public()))
	default:
		return nil, swIncorrectP1P2
	}
	return v, swOK
}

// setManagementKey is SET MANAGEMENT KEY (FF): data alg, 9B, length, key.
func (c *Card) setManagementKey(cmd command) uint16 {
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return swSecurityStatus
	}
	d := cmd.data
	if len(d) < 3 || d[1] != SlotManagement || int(d[2]) != len(d)-3 {
		return swWrongData
	}
	if err := c.st.SetManagementKey(ManagementKeyAlgorithm(d[0]), d[3:]); err != nil {
		return swWrongData
	}
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

// importKey is IMPORT ASYMMETRIC KEY (FE): RSA as P, Q, dP, dQ, qInv in tags
// 01–05 (public exponent 65537), EC as the private scalar in tag 06.
func (c *Card) importKey(cmd command) uint16 {
	if !isKeySlot(cmd.p2) {
		return swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return swSecurityStatus
	}
	params, _, ok := parseTLVs(cmd.data)
	if !ok {
		return swWrongData
	}
	policy, touch, ok := policies(params)
	if !ok {
		return swWrongData
	}
	var priv crypto.Signer
	switch alg := cmd.p1; alg {
	case algRSA2048, algRSA3072, algRSA4096:
		priv, ok = rsaFromCRT(params, alg)
	case algP256, algP384:
		priv, ok = ecFromScalar(params[0x06], alg)
	default:
		return swIncorrectP1P2
	}
	if !ok {
		return swWrongData
	}
	if err := c.st.SetKey(cmd.p2, priv, policy); err != nil {
		return swWrongData
	}
	c.st.keys[cmd.p2].touch = touch
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

func rsaFromCRT(params map[uint32][]byte, alg byte) (*rsa.PrivateKey, bool) {
	bits := map[byte]int{algRSA2048: 2048, algRSA3072: 3072, algRSA4096: 4096}[alg]
	for t := uint32(1); t <= 5; t++ {
		if len(params[t]) == 0 || len(params[t]) > bits/16 {
			return nil, false
		}
	}
	p := new(big.Int).SetBytes(params[1])
	q := new(big.Int).SetBytes(params[2])
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != bits || !p.ProbablyPrime(4) || !q.ProbablyPrime(4) {
		return nil, false
	}
	e := big.NewInt(65537)
	one := big.NewInt(1)
	lambda := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(e, lambda)
	if d == nil {
		return nil, false
	}
	priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	if priv.Validate() != nil {
		return nil, false
	}
	priv.Precompute()
	return priv, true
}

func ecFromScalar(s []byte, alg byte) (*ecdsa.PrivateKey, bool) {
	curve := elliptic.P256()
	if alg == algP384 {
		curve = elliptic.P384()
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(s) != size {
		return nil, false
	}
	priv, err := ecdsa.ParseRawPrivateKey(curve, s)
	if err != nil {
		return nil, false
	}
	return priv, true
}

// resetApplication is RESET (FB): allowed only once PIN and PUK are both
// blocked; keys, certificates and secrets go back to the factory state.
func (c *Card) resetApplication(cmd command) uint16 {
	if c.st.pinLeft != 0 || c.st.pukLeft != 0 {
		return swConditions
	}
	c.st.factoryReset()
	c.pinVerified, c.pinFresh, c.mgmAuthed = false, false, false
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}

// setPINRetries is SET PIN RETRIES (FA): P1 PIN tries, P2 PUK tries. As on a
// YubiKey it needs the management key and the PIN, and resets both to their
// defaults.
func (c *Card) setPINRetries(cmd command) uint16 {
	if !c.mgmAuthed || !c.pinVerified {
		return swSecurityStatus
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return swIncorrectP1P2
	}
	c.st.pin, c.st.puk = padPIN(DefaultPIN), padPIN(DefaultPUK)
	c.st.pinMax, c.st.pinLeft, c.st.pukMax, c.st.pukLeft = int(cmd.p1), int(cmd.p1), int(cmd.p2), int(cmd.p2)
	if !c.save() {
		return swMemoryFailure
	}
	return swOK
}
