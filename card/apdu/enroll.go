package apdu

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/sclogon/sclogon/card"
)

// The enrollment side of the client: [Card] implements [card.Enroller].
var _ card.Enroller = (*Card)(nil)

const (
	insGenerate = 0x47
	insPutData  = 0xDB

	keyManagement = 0x9B // the card management key's reference
)

// AuthenticateManagementKey runs the mutual authentication of SP 800-73-4
// Part 2 Appendix A.1 with GENERAL AUTHENTICATE on key reference 9B: ask
// for a witness (80), decrypt it, send it back with our challenge (81), and
// check the card's encryption of the challenge (82). A 24-byte key whose
// algorithm was not named is offered as 3DES, then as AES-192 when the
// card answers that its key is of another algorithm.
func (c *Card) AuthenticateManagementKey(key *card.ManagementKey) error {
	err := c.mutualAuth(key, key.Algorithm())
	if errors.Is(err, card.ErrManagementKeyAlgorithm) && key.MayBeAES192() {
		err = c.mutualAuth(key, card.ManagementAES192)
		if errors.Is(err, card.ErrManagementKeyAlgorithm) {
			return fmt.Errorf("%w (neither 3des nor aes192)", card.ErrManagementKeyAlgorithm)
		}
	}
	return err
}

func (c *Card) mutualAuth(key *card.ManagementKey, alg card.ManagementAlgorithm) error {
	var block cipher.Block
	if err := key.Use(func(b []byte) error {
		var err error
		switch alg {
		case card.Management3DES:
			block, err = des.NewTripleDESCipher(b)
		case card.ManagementAES128, card.ManagementAES192, card.ManagementAES256:
			block, err = aes.NewCipher(b)
		default:
			err = fmt.Errorf("card: unknown management key algorithm %02x", byte(alg))
		}
		return err
	}); err != nil {
		return err
	}
	n := block.BlockSize()
	const op = "management key authentication"
	// Step 1: the card's encrypted witness.
	resp, sw, err := c.exchange(0x00, insGeneralAuth, byte(alg), keyManagement, appendTLV(nil, 0x7C, appendTLV(nil, 0x80, nil)), 256)
	if err != nil {
		return err
	}
	switch sw {
	case 0x9000:
	case 0x6A86, 0x6A80:
		return fmt.Errorf("%w (not %s)", card.ErrManagementKeyAlgorithm, alg)
	default:
		return &card.StatusError{Op: op, SW: sw}
	}
	dyn, rest, ok := readTLV(resp, 0x7C)
	if !ok || len(rest) != 0 {
		return errors.New("card: management key authentication: malformed witness")
	}
	enc, ok := findTLV(dyn, 0x80)
	if !ok || len(enc) != n {
		return errors.New("card: management key authentication: malformed witness")
	}
	witness := make([]byte, n)
	block.Decrypt(witness, enc)
	challenge := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, challenge); err != nil {
		return fmt.Errorf("card: management key authentication: %w", err)
	}
	// Step 2: the decrypted witness proves our key; the challenge asks
	// the card to prove its own.
	inner := appendTLV(appendTLV(nil, 0x80, witness), 0x81, challenge)
	clear(witness)
	resp, sw, err = c.exchange(0x00, insGeneralAuth, byte(alg), keyManagement, appendTLV(nil, 0x7C, inner), 256)
	clear(inner)
	if err != nil {
		return err
	}
	switch sw {
	case 0x9000:
	case 0x6982, 0x6300:
		return card.ErrManagementKey
	case 0x6983:
		return fmt.Errorf("%w: the card blocked it", card.ErrManagementKey)
	default:
		return &card.StatusError{Op: op, SW: sw}
	}
	dyn, rest, ok = readTLV(resp, 0x7C)
	if !ok || len(rest) != 0 {
		return errors.New("card: management key authentication: malformed response")
	}
	got, ok := findTLV(dyn, 0x82)
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if !ok || subtle.ConstantTimeCompare(got, want) != 1 {
		return card.ErrCardNotAuthentic
	}
	return nil
}

// GenerateKey sends GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2
// §3.3.2) with the control reference template AC { 80 alg } and reads the
// public key from template 7F49 (Table 15).
func (c *Card) GenerateKey(slot card.Slot, alg card.KeyAlgorithm) (crypto.PublicKey, error) {
	if _, ok := slot.Object(); !ok {
		return nil, fmt.Errorf("card: %02x is no key slot", byte(slot))
	}
	switch alg {
	case card.KeyRSA2048, card.KeyP256, card.KeyP384:
	default:
		return nil, fmt.Errorf("card: cannot generate a key of %s", alg)
	}
	resp, sw, err := c.exchange(0x00, insGenerate, 0x00, byte(slot), appendTLV(nil, 0xAC, appendTLV(nil, 0x80, []byte{byte(alg)})), 65536)
	if err != nil {
		return nil, err
	}
	switch sw {
	case 0x9000:
	case 0x6982:
		return nil, fmt.Errorf("card: GENERATE ASYMMETRIC KEY PAIR: %w", errManagementFirst)
	case 0x6A80, 0x6A86, 0x6D00, 0x6A81:
		return nil, fmt.Errorf("card: the card cannot generate a %s key in slot %s (it answered %04X)", alg, slot, sw)
	default:
		return nil, &card.StatusError{Op: "GENERATE ASYMMETRIC KEY PAIR", SW: sw}
	}
	return parsePublicKey(resp, alg)
}

// errManagementFirst is 6982 to a command that needs the management key.
var errManagementFirst = errors.New("the management key must be authenticated first")

// parsePublicKey reads 7F49 { 81 modulus, 82 exponent } or 7F49 { 86 point }
// and checks the key is of alg.
func parsePublicKey(b []byte, alg card.KeyAlgorithm) (crypto.PublicKey, error) {
	tmpl, rest, ok := readTLV(b, 0x7F49)
	if !ok || len(rest) != 0 {
		return nil, errors.New("card: GENERATE ASYMMETRIC KEY PAIR: malformed public key template")
	}
	switch alg {
	case card.KeyRSA2048:
		n, okN := findTLV(tmpl, 0x81)
		e, okE := findTLV(tmpl, 0x82)
		if !okN || !okE || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("card: GENERATE ASYMMETRIC KEY PAIR: malformed RSA public key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() != 2048 || pub.E < 3 || pub.E&1 == 0 {
			return nil, fmt.Errorf("card: GENERATE ASYMMETRIC KEY PAIR: an RSA key of %d bits with exponent %d, want RSA-2048", pub.N.BitLen(), pub.E)
		}
		return pub, nil
	case card.KeyP256, card.KeyP384:
		point, ok := findTLV(tmpl, 0x86)
		if !ok {
			return nil, errors.New("card: GENERATE ASYMMETRIC KEY PAIR: malformed EC public key")
		}
		curve := elliptic.P256()
		if alg == card.KeyP384 {
			curve = elliptic.P384()
		}
		// The parser checks the point is on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("card: GENERATE ASYMMETRIC KEY PAIR: the card's %s point: %w", alg, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("card: cannot read a public key of %s", alg)
}

// PutCertificate sends PUT DATA (SP 800-73-4 Part 2 §3.3.1) of the slot's
// certificate object: 5C { tag } 53 { 70 cert, 71 00 (uncompressed), FE
// (error detection code, empty) }.
func (c *Card) PutCertificate(slot card.Slot, cert *x509.Certificate) error {
	tag, ok := slot.Object()
	if !ok {
		return fmt.Errorf("card: %02x is no key slot", byte(slot))
	}
	obj := appendTLV(appendTLV(appendTLV(nil, 0x70, cert.Raw), 0x71, []byte{0x00}), 0xFE, nil)
	data := appendTLV(appendTLV(nil, 0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}), 0x53, obj)
	_, sw, err := c.exchange(0x00, insPutData, 0x3F, 0xFF, data, 0)
	if err != nil {
		return err
	}
	switch sw {
	case 0x9000:
		return nil
	case 0x6982:
		return fmt.Errorf("card: PUT DATA: %w", errManagementFirst)
	case 0x6A84:
		return fmt.Errorf("card: the certificate (%d bytes) does not fit in slot %s's object", len(cert.Raw), slot)
	}
	return &card.StatusError{Op: "PUT DATA", SW: sw}
}
