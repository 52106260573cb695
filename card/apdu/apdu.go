package apdu

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sclogon/sclogon/card"
)

// Transmitter sends one command APDU and returns the response APDU (data and
// status word).
type Transmitter interface {
	Transmit(cmd []byte) ([]byte, error)
}

// Options tune the client.
type Options struct {
	// Short sends only short APDUs: command chaining and GET RESPONSE
	// instead of extended length.
	Short bool
	// Close is called by [Card.Close] (to disconnect from the reader).
	Close func() error
}

// Card is a PIV card spoken to in APDUs. It implements [card.Card].
type Card struct {
	t      Transmitter
	reader string
	opt    Options
	short  bool
	id     *card.ID
	// What the card told once: key PIN policies, the PIN usage policy.
	policies map[card.Slot]card.KeyPINPolicy
	usage    *[2]byte
	released bool // the transaction is released (see Release)
}

var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}

const (
	insSelect        = 0xA4
	insGetData       = 0xCB
	insVerify        = 0x20
	insChangeRef     = 0x24
	insResetRetry    = 0x2C
	insGeneralAuth   = 0x87
	insGetResponse   = 0xC0
	insYubiGetSerial = 0xF8

	tagCHUID = 0x5FC102
)

// Open selects the PIV application on the card behind t.
func Open(t Transmitter, reader string, opt Options) (*Card, error) {
	c := &Card{t: t, reader: reader, opt: opt, short: opt.Short}
	_, sw, err := c.exchange(0x00, insSelect, 0x04, 0x00, pivAID, 256)
	if err != nil {
		return nil, err
	}
	switch {
	case sw == 0x9000:
		return c, nil
	case sw == 0x6A82 || sw == 0x6A81 || sw == 0x6D00:
		return nil, fmt.Errorf("%w (%s)", card.ErrNotPIV, reader)
	}
	return nil, &card.StatusError{Op: "SELECT PIV", SW: sw}
}

// Reader names the reader.
func (c *Card) Reader() string { return c.reader }

// Close ends the session. A released card is taken back first, so that
// the transmitter's Close ends the session as it always does (a PC/SC
// connection resets the card, and with it the verified PIN).
func (c *Card) Close() error {
	if t, ok := c.t.(transactor); ok && c.released {
		_, _ = t.BeginTransaction() // a card that is gone is closed all the same
		c.released = false
	}
	if c.opt.Close != nil {
		return c.opt.Close()
	}
	return nil
}

// exchange sends one command, in as few APDUs as the card allows, and
// collects the whole answer. ne is the most data expected (256 or more).
func (c *Card) exchange(cla, ins, p1, p2 byte, data []byte, ne int) ([]byte, uint16, error) {
	long := len(data) > 255 || ne > 256
	if long && !c.short {
		resp, sw, err := c.transmit(extended(cla, ins, p1, p2, data, ne))
		if err != nil {
			return nil, 0, err
		}
		if sw != 0x6700 {
			return c.collect(resp, sw)
		}
		c.short = true // the card does not take extended length
	}
	for len(data) > 255 {
		_, sw, err := c.transmit(short(cla|0x10, ins, p1, p2, data[:255], false))
		if err != nil {
			return nil, 0, err
		}
		if sw != 0x9000 {
			return nil, sw, nil
		}
		data = data[255:]
	}
	resp, sw, err := c.transmit(short(cla, ins, p1, p2, data, ne > 0))
	if err != nil {
		return nil, 0, err
	}
	return c.collect(resp, sw)
}

// collect follows 61xx with GET RESPONSE and 6Cxx is not used by PIV.
func (c *Card) collect(resp []byte, sw uint16) ([]byte, uint16, error) {
	out := resp
	for sw>>8 == 0x61 {
		le := byte(sw)
		more, s, err := c.transmit([]byte{0x00, insGetResponse, 0x00, 0x00, le})
		if err != nil {
			return nil, 0, err
		}
		out, sw = append(out, more...), s
	}
	return out, sw, nil
}

func (c *Card) transmit(cmd []byte) ([]byte, uint16, error) {
	resp, err := c.t.Transmit(cmd)
	if err != nil {
		return nil, 0, fmt.Errorf("card: %s: %w", c.reader, err)
	}
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("card: %s: a response of %d bytes", c.reader, len(resp))
	}
	n := len(resp) - 2
	return resp[:n], binary.BigEndian.Uint16(resp[n:]), nil
}

func short(cla, ins, p1, p2 byte, data []byte, withLe bool) []byte {
	cmd := []byte{cla, ins, p1, p2}
	if len(data) > 0 {
		cmd = append(cmd, byte(len(data)))
		cmd = append(cmd, data...)
	}
	if withLe {
		cmd = append(cmd, 0x00)
	}
	return cmd
}

func extended(cla, ins, p1, p2 byte, data []byte, ne int) []byte {
	cmd := []byte{cla, ins, p1, p2, 0x00}
	if len(data) > 0 {
		cmd = binary.BigEndian.AppendUint16(cmd, uint16(len(data)))
		cmd = append(cmd, data...)
	}
	if ne == 0 {
		return cmd // case 3: no answer data expected
	}
	if ne >= 65536 {
		ne = 0
	}
	return binary.BigEndian.AppendUint16(cmd, uint16(ne))
}

// getData reads a data object (SP 800-73-4 Part 2 §3.1.2) and returns the
// value of its 53 wrapper.
func (c *Card) getData(tag uint32) ([]byte, error) {
	resp, sw, err := c.exchange(0x00, insGetData, 0x3F, 0xFF, []byte{0x5C, 0x03, byte(tag >> 16), byte(tag >> 8), byte(tag)}, 65536)
	if err != nil {
		return nil, err
	}
	if err := statusError("GET DATA", sw, false); err != nil {
		return nil, err
	}
	v, rest, ok := readTLV(resp, 0x53)
	if !ok || len(rest) != 0 {
		return nil, fmt.Errorf("card: GET DATA %06X: malformed object", tag)
	}
	return v, nil
}

// ID reads the CHUID's GUID, or (YubiKeys without a CHUID) the serial.
func (c *Card) ID() (card.ID, error) {
	if c.id != nil {
		return *c.id, nil
	}
	obj, err := c.getData(tagCHUID)
	if err != nil && !errors.Is(err, card.ErrNotFound) {
		return card.ID{}, err
	}
	var id card.ID
	if err == nil {
		sum := sha256.Sum256(obj)
		version := hex.EncodeToString(sum[:8])
		if guid, ok := findTLV(obj, 0x34); ok && len(guid) == 16 && !allZero(guid) {
			id = card.ID{Kind: "guid", Value: hex.EncodeToString(guid), Version: version}
		}
	}
	if id.IsZero() {
		resp, sw, err := c.exchange(0x00, insYubiGetSerial, 0x00, 0x00, nil, 256)
		if err != nil {
			return card.ID{}, err
		}
		if sw == 0x9000 && len(resp) == 4 {
			id = card.ID{Kind: "serial", Value: strconv.FormatUint(uint64(binary.BigEndian.Uint32(resp)), 10)}
		}
	}
	c.id = &id
	return id, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Certificates reads every key slot's certificate object.
func (c *Card) Certificates() ([]card.Certificate, error) {
	var out []card.Certificate
	for _, s := range card.Slots() {
		tag, _ := s.Object()
		obj, err := c.getData(tag)
		if errors.Is(err, card.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		cert, err := parseCertObject(obj)
		if err != nil {
			continue // not a certificate: not usable, not fatal
		}
		out = append(out, card.Certificate{Slot: s, Cert: cert})
	}
	return out, nil
}

// Certificate reads one slot's certificate.
func (c *Card) Certificate(slot card.Slot) (*x509.Certificate, error) {
	tag, ok := slot.Object()
	if !ok {
		return nil, fmt.Errorf("card: %02x is no key slot", byte(slot))
	}
	obj, err := c.getData(tag)
	if err != nil {
		return nil, err
	}
	return parseCertObject(obj)
}

// parseCertObject reads 70 (certificate) and 71 (CertInfo: bit 0 set means
// gzip-compressed), SP 800-73-4 Part 1 Appendix A.
func parseCertObject(obj []byte) (*x509.Certificate, error) {
	der, ok := findTLV(obj, 0x70)
	if !ok {
		return nil, errors.New("card: certificate object without a certificate")
	}
	if info, ok := findTLV(obj, 0x71); ok && len(info) == 1 && info[0]&0x01 != 0 {
		zr, err := gzip.NewReader(bytes.NewReader(der))
		if err != nil {
			return nil, fmt.Errorf("card: compressed certificate: %w", err)
		}
		der, err = io.ReadAll(io.LimitReader(zr, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("card: compressed certificate: %w", err)
		}
	}
	return x509.ParseCertificate(der)
}

// PINRetries asks VERIFY without data (SP 800-73-4 Part 2 §3.2.1).
func (c *Card) PINRetries() (int, error) {
	_, sw, err := c.exchange(0x00, insVerify, 0x00, 0x80, nil, 0)
	if err != nil {
		return 0, err
	}
	switch {
	case sw == 0x9000:
		return -1, nil
	case sw&0xFFF0 == 0x63C0:
		return int(sw & 0x0F), nil
	case sw == 0x6983:
		return 0, nil
	}
	return 0, &card.StatusError{Op: "PIN status", SW: sw}
}

// VerifyPIN sends VERIFY with the padded PIN.
func (c *Card) VerifyPIN(pin *card.PIN) error {
	var buf [8]byte
	defer clear(buf[:])
	if err := pin.Padded(&buf); err != nil {
		return err
	}
	_, sw, err := c.exchange(0x00, insVerify, 0x00, 0x80, buf[:], 0)
	if err != nil {
		return err
	}
	return statusError("VERIFY", sw, false)
}

// ChangePIN sends CHANGE REFERENCE DATA (SP 800-73-4 Part 2 §3.2.2).
func (c *Card) ChangePIN(old, new *card.PIN) error {
	return c.twoPINs(insChangeRef, "CHANGE REFERENCE DATA", card.RolePIN.KeyRef(), old, new, card.RolePIN)
}

// UnblockPIN sends RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.3).
func (c *Card) UnblockPIN(puk, new *card.PIN) error {
	return c.twoPINs(insResetRetry, "RESET RETRY COUNTER", card.RolePIN.KeyRef(), puk, new, card.RolePUK)
}

// twoPINs sends a command whose data is two padded PINs (CHANGE REFERENCE
// DATA, RESET RETRY COUNTER) to keyRef; a refusal is the checked role's.
func (c *Card) twoPINs(ins byte, op string, keyRef byte, a, b *card.PIN, checked card.PINRole) error {
	var buf [16]byte
	defer clear(buf[:])
	var x, y [8]byte
	defer clear(x[:])
	defer clear(y[:])
	if err := a.Padded(&x); err != nil {
		return err
	}
	if err := b.Padded(&y); err != nil {
		return err
	}
	copy(buf[:8], x[:])
	copy(buf[8:], y[:])
	_, sw, err := c.exchange(0x00, ins, 0x00, keyRef, buf[:], 0)
	if err != nil {
		return err
	}
	return roleError(op, sw, checked)
}

// statusError maps a status word to the package card errors.
func statusError(op string, sw uint16, puk bool) error {
	switch {
	case sw == 0x9000:
		return nil
	case sw&0xFFF0 == 0x63C0:
		return &card.PINError{PUK: puk, Retries: int(sw & 0x0F)}
	case sw == 0x6983 && puk:
		return card.ErrPUKBlocked
	case sw == 0x6983:
		return card.ErrPINBlocked
	case sw == 0x6982:
		return card.ErrSecurityStatus
	case sw == 0x6A82 || sw == 0x6A88:
		return card.ErrNotFound
	}
	return &card.StatusError{Op: op, SW: sw}
}

// Sign runs GENERAL AUTHENTICATE (SP 800-73-4 Part 2 §3.2.4) over a PKCS #1
// v1.5 block the client builds (RSA) or over the digest (ECDSA).
func (c *Card) Sign(slot card.Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, errors.New("card: RSA-PSS signatures are not supported; the card signs PKCS #1 v1.5")
		}
		block, err := pkcs1v15Block(k.Size(), opts.HashFunc(), digest)
		if err != nil {
			return nil, err
		}
		return c.rsaOp(slot, k, block)
	case *ecdsa.PublicKey:
		alg, size, err := ecAlgorithm(k)
		if err != nil {
			return nil, err
		}
		if len(digest) > size {
			digest = digest[:size]
		}
		return c.authenticate(slot, alg, 0x81, digest)
	}
	return nil, fmt.Errorf("card: slot %s: unsupported key type %T", slot, pub)
}

// Decrypt opens a PKCS #1 v1.5 RSA ciphertext: the card does the raw
// private-key operation, the padding is checked here.
func (c *Card) Decrypt(slot card.Slot, pub crypto.PublicKey, ciphertext []byte) ([]byte, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("card: slot %s: only RSA keys decrypt", slot)
	}
	if len(ciphertext) != k.Size() {
		return nil, errors.New("card: RSA ciphertext of the wrong length")
	}
	em, err := c.rsaOp(slot, k, ciphertext)
	if err != nil {
		return nil, err
	}
	return unpadPKCS1v15(em)
}

func (c *Card) rsaOp(slot card.Slot, k *rsa.PublicKey, in []byte) ([]byte, error) {
	var alg byte
	switch k.Size() {
	case 128:
		alg = 0x06
	case 256:
		alg = 0x07
	case 384:
		alg = 0x05
	case 512:
		alg = 0x16
	default:
		return nil, fmt.Errorf("card: RSA-%d keys are not PIV keys", k.Size()*8)
	}
	out, err := c.authenticate(slot, alg, 0x81, in)
	if err != nil {
		return nil, err
	}
	if len(out) > k.Size() {
		return nil, errors.New("card: RSA result longer than the key")
	}
	// Left-pad: a card may drop leading zero bytes.
	return append(make([]byte, k.Size()-len(out)), out...), nil
}

func ecAlgorithm(k *ecdsa.PublicKey) (alg byte, size int, err error) {
	switch k.Curve.Params().BitSize {
	case 256:
		return 0x11, 32, nil
	case 384:
		return 0x14, 48, nil
	}
	return 0, 0, fmt.Errorf("card: curve %s is not a PIV curve", k.Curve.Params().Name)
}

func (c *Card) authenticate(slot card.Slot, alg, tag byte, in []byte) ([]byte, error) {
	inner := appendTLV(appendTLV(nil, 0x82, nil), tag, in)
	resp, sw, err := c.exchange(0x00, insGeneralAuth, alg, byte(slot), appendTLV(nil, 0x7C, inner), 65536)
	if err != nil {
		return nil, err
	}
	if err := statusError("GENERAL AUTHENTICATE", sw, false); err != nil {
		return nil, err
	}
	dyn, rest, ok := readTLV(resp, 0x7C)
	if !ok || len(rest) != 0 {
		return nil, errors.New("card: GENERAL AUTHENTICATE: malformed answer")
	}
	out, ok := findTLV(dyn, 0x82)
	if !ok {
		return nil, errors.New("card: GENERAL AUTHENTICATE: no response in the answer")
	}
	return out, nil
}

// hashPrefixes are the DER DigestInfo prefixes of PKCS #1 v1.5 (RFC 8017 §9.2).
var hashPrefixes = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

func pkcs1v15Block(k int, h crypto.Hash, digest []byte) ([]byte, error) {
	var t []byte
	if h == 0 {
		t = digest // pre-encoded DigestInfo (crypto.Hash(0))
	} else {
		prefix, ok := hashPrefixes[h]
		if !ok || len(digest) != h.Size() {
			return nil, fmt.Errorf("card: cannot sign a %v digest of %d bytes", h, len(digest))
		}
		t = append(append([]byte{}, prefix...), digest...)
	}
	if len(t)+11 > k {
		return nil, errors.New("card: digest too long for the RSA key")
	}
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-len(t):], t)
	return em, nil
}

// unpadPKCS1v15 checks 00 02 PS 00 M with at least 8 bytes of non-zero PS.
func unpadPKCS1v15(em []byte) ([]byte, error) {
	good := subtle.ConstantTimeByteEq(em[0], 0) & subtle.ConstantTimeByteEq(em[1], 2)
	idx, found := 0, 0
	for i := 2; i < len(em); i++ {
		zero := subtle.ConstantTimeByteEq(em[i], 0)
		idx = subtle.ConstantTimeSelect(zero&^found&1, i, idx)
		found |= zero
	}
	good &= found & subtle.ConstantTimeLessOrEq(10, idx)
	if good != 1 {
		clear(em)
		return nil, errors.New("card: RSA decryption: bad padding")
	}
	out := append([]byte{}, em[idx+1:]...)
	clear(em)
	return out, nil
}
