package kdc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sclogon/sclogon/card/vcard"
)

// CardKey is the KDC's key held in a slot of a software PIV card (package
// vcard): the card's state file is opened in-process, and every signature is
// a GENERAL AUTHENTICATE sent to the card as an APDU, as a KDC with its key
// on a smart card or HSM would do. It implements crypto.Signer.
type CardKey struct {
	mu   sync.Mutex
	card *vcard.Card
	slot byte
	alg  byte // PIV algorithm identifier (SP 800-78-4 Table 6-2)
	pub  crypto.PublicKey
	cert *x509.Certificate // the slot's certificate, if it holds one
	pin  []byte            // nil: the slot needs no PIN
}

// ParseCardKeySpec reads "vcard:PATH#SLOT" (SLOT in hex: 9a, 9c, 9d, 9e).
func ParseCardKeySpec(spec string) (path string, slot byte, err error) {
	rest, ok := strings.CutPrefix(spec, "vcard:")
	if !ok {
		return "", 0, fmt.Errorf("kdc: %q is not vcard:PATH#SLOT", spec)
	}
	path, s, ok := strings.Cut(rest, "#")
	if !ok || path == "" {
		return "", 0, fmt.Errorf("kdc: %q names no slot; write vcard:PATH#9a", spec)
	}
	switch strings.ToLower(s) {
	case "9a":
		slot = vcard.SlotAuthentication
	case "9c":
		slot = vcard.SlotSignature
	case "9d":
		slot = vcard.SlotKeyManagement
	case "9e":
		slot = vcard.SlotCardAuthentication
	default:
		return "", 0, fmt.Errorf("kdc: slot %q of %q is not 9a, 9c, 9d or 9e", s, spec)
	}
	return path, slot, nil
}

// OpenCardKey opens the key in slot of the software card whose state file is
// path. pin is the card's PIN, or nil for a slot whose PIN policy is never.
func OpenCardKey(path string, slot byte, pin []byte) (*CardKey, error) {
	st, err := vcard.Load(path)
	if err != nil {
		return nil, fmt.Errorf("kdc: card key: %w", err)
	}
	pub, ok := st.PublicKey(slot)
	if !ok {
		return nil, fmt.Errorf("kdc: card key: slot %02x of %s holds no key", slot, path)
	}
	k := &CardKey{card: vcard.New(st, vcard.Options{}), slot: slot, pub: pub, pin: bytes.Clone(pin)}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k.alg = map[int]byte{1024: 0x06, 2048: 0x07, 3072: 0x05, 4096: 0x16}[p.N.BitLen()]
	case *ecdsa.PublicKey:
		k.alg = map[elliptic.Curve]byte{elliptic.P256(): 0x11, elliptic.P384(): 0x14}[p.Curve]
	}
	if k.alg == 0 {
		return nil, fmt.Errorf("kdc: card key: slot %02x holds a %T the card cannot sign with", slot, pub)
	}
	if der, ok := st.Certificate(slot); ok {
		if k.cert, err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("kdc: card key: certificate of slot %02x: %w", slot, err)
		}
	}
	// SELECT the PIV application once; the card stays powered in-process.
	if _, err := k.transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		return nil, fmt.Errorf("kdc: card key: select PIV: %w", err)
	}
	// A wrong PIN is better found at start-up than at every logon.
	if err := k.verifyPIN(); err != nil {
		return nil, fmt.Errorf("kdc: card key: %s: %w", path, err)
	}
	return k, nil
}

// Public returns the slot's public key.
func (k *CardKey) Public() crypto.PublicKey { return k.pub }

// Certificate returns the certificate stored in the slot, or nil.
func (k *CardKey) Certificate() *x509.Certificate { return k.cert }

// Format keeps the PIN out of logs.
func (k *CardKey) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "kdc.CardKey{slot %02x}", k.slot) }

// Sign signs digest in the card: PKCS#1 v1.5 for RSA (the card does the raw
// RSA operation on the block padded here), ECDSA over the digest.
func (k *CardKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var challenge []byte
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, errors.New("kdc: card key: RSA-PSS is not supported")
		}
		prefix, ok := digestInfoPrefixes[opts.HashFunc()]
		if !ok || len(digest) != opts.HashFunc().Size() {
			return nil, fmt.Errorf("kdc: card key: cannot sign a %v digest of %d bytes", opts.HashFunc(), len(digest))
		}
		t := append(bytes.Clone(prefix), digest...)
		n := (pub.N.BitLen() + 7) / 8
		if len(t)+11 > n {
			return nil, errors.New("kdc: card key: digest too long for the key")
		}
		challenge = make([]byte, n)
		challenge[1] = 0x01
		for i := 2; i < n-len(t)-1; i++ {
			challenge[i] = 0xFF
		}
		copy(challenge[n-len(t):], t)
	default:
		challenge = digest
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.verifyPIN(); err != nil {
		return nil, fmt.Errorf("kdc: card key: %w", err)
	}
	// 7C { 82 00 (response wanted), 81 challenge }
	inner := append([]byte{0x82, 0x00, 0x81}, berLength(len(challenge))...)
	inner = append(inner, challenge...)
	data := append([]byte{0x7C}, berLength(len(inner))...)
	data = append(data, inner...)
	// An extended-length APDU: 00 87 ALG SLOT 00 Lc Lc data 00 00.
	apdu := []byte{0x00, 0x87, k.alg, k.slot, 0x00}
	apdu = binary.BigEndian.AppendUint16(apdu, uint16(len(data)))
	apdu = append(apdu, data...)
	apdu = append(apdu, 0x00, 0x00)
	resp, err := k.transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("kdc: card key: sign: %w", err)
	}
	body, ok := readTLV(resp, 0x7C)
	if !ok {
		return nil, errors.New("kdc: card key: malformed GENERAL AUTHENTICATE response")
	}
	sig, ok := readTLV(body, 0x82)
	if !ok {
		return nil, errors.New("kdc: card key: GENERAL AUTHENTICATE response without a signature")
	}
	return sig, nil
}

// verifyPIN presents the PIN, when there is one: the slot's PIN policy may
// ask for it before every signature.
func (k *CardKey) verifyPIN() error {
	if k.pin == nil {
		return nil
	}
	if len(k.pin) < 6 || len(k.pin) > 8 {
		return errors.New("the PIN must have 6 to 8 characters")
	}
	pin := bytes.Repeat([]byte{0xFF}, 8)
	copy(pin, k.pin)
	if _, err := k.transmit(append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, pin...)); err != nil {
		return fmt.Errorf("verify PIN: %w", err)
	}
	return nil
}

// transmit sends one APDU and collects a 61xx-chained answer.
func (k *CardKey) transmit(apdu []byte) ([]byte, error) {
	var out []byte
	for {
		resp, err := k.card.Transmit(apdu)
		if err != nil {
			return nil, err
		}
		if len(resp) < 2 {
			return nil, errors.New("short response")
		}
		sw1, sw2 := resp[len(resp)-2], resp[len(resp)-1]
		out = append(out, resp[:len(resp)-2]...)
		switch {
		case sw1 == 0x90 && sw2 == 0x00:
			return out, nil
		case sw1 == 0x61:
			apdu = []byte{0x00, 0xC0, 0x00, 0x00, sw2}
		case sw1 == 0x63:
			return nil, fmt.Errorf("wrong PIN (%d tries left)", sw2&0x0F)
		case sw1 == 0x69 && sw2 == 0x82:
			return nil, errors.New("the card wants the PIN (set key_pin_file)")
		default:
			return nil, fmt.Errorf("card status %02X%02X", sw1, sw2)
		}
	}
}

// DigestInfo prefixes of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

func berLength(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	}
	return []byte{0x82, byte(n >> 8), byte(n)}
}

// readTLV reads one BER-TLV with a one-byte tag and returns its value when
// the tag is want; trailing data is refused.
func readTLV(b []byte, want byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != want {
		return nil, false
	}
	n, off := int(b[1]), 2
	switch b[1] {
	case 0x81:
		if len(b) < 3 {
			return nil, false
		}
		n, off = int(b[2]), 3
	case 0x82:
		if len(b) < 4 {
			return nil, false
		}
		n, off = int(b[2])<<8|int(b[3]), 4
	default:
		if b[1] >= 0x80 {
			return nil, false
		}
	}
	if len(b)-off != n {
		return nil, false
	}
	return b[off:], true
}
