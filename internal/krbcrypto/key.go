package krbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Encryption types ([RFC 3962] §7) this package implements.
const (
	AES128 int32 = 17 // aes128-cts-hmac-sha1-96
	AES256 int32 = 18 // aes256-cts-hmac-sha1-96
)

// Errors callers branch on.
var (
	// ErrUnsupported: the encryption type is not one of [AES128] and
	// [AES256], or the key is not of its length.
	ErrUnsupported = errors.New("krbcrypto: unsupported encryption type or key length")
	// ErrIntegrity: a ciphertext or checksum is malformed, or its HMAC does
	// not verify under the key and usage.
	ErrIntegrity = errors.New("krbcrypto: integrity check failed")
)

const (
	confounderLen = aes.BlockSize // RFC 3962 §6: one block
	// MACLen is the length of a checksum and of the HMAC that ends a
	// ciphertext: HMAC-SHA1 truncated to 96 bits (RFC 3962 §6).
	MACLen = 12
	// Overhead is how much longer a ciphertext is than its plaintext.
	Overhead = confounderLen + MACLen
)

// Supported reports whether a key of etype and keyLen bytes is one this
// package implements.
func Supported(etype int32, keyLen int) bool {
	return etype == AES128 && keyLen == 16 || etype == AES256 && keyLen == 32
}

// Key is a base key of an RFC 3962 encryption type. It is safe for
// concurrent use. It holds the base key's AES key schedule, not a copy of
// its bytes: the caller still owns those. fmt prints the encryption type
// only.
type Key struct {
	etype  int32
	keyLen int
	base   cipher.Block
	keep   bool
	kept   sync.Map // usage constant [5]byte → *derived, when keep
}

// derived is one derived key: Ke as its AES key schedule, Ki or Kc as bytes.
type derived struct {
	block cipher.Block
	raw   []byte
}

// NewKey returns a key for one exchange, which keeps nothing it derives:
// each operation derives its keys and wipes them when done.
func NewKey(etype int32, value []byte) (*Key, error) {
	return newKey(etype, value, false)
}

// NewLongTermKey returns a key that derives Ke, Ki and Kc once per usage
// and keeps them as long as the Key lives: for keys held for long anyway,
// such as the KDC's krbtgt and service keys.
func NewLongTermKey(etype int32, value []byte) (*Key, error) {
	return newKey(etype, value, true)
}

func newKey(etype int32, value []byte, keep bool) (*Key, error) {
	if !Supported(etype, len(value)) {
		return nil, fmt.Errorf("%w: encryption type %d with a key of %d bytes", ErrUnsupported, etype, len(value))
	}
	base, err := aes.NewCipher(value)
	if err != nil {
		return nil, fmt.Errorf("krbcrypto: %w", err)
	}
	return &Key{etype: etype, keyLen: len(value), base: base, keep: keep}, nil
}

// EType returns the key's encryption type.
func (k *Key) EType() int32 { return k.etype }

// Format prints the encryption type only.
func (k *Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "krbcrypto.Key{etype: %d}", k.etype)
}

// derive returns DK(base, constant) (RFC 3961 §5.1): DR chains AES
// encryptions under the base key, starting from the n-folded constant,
// until the key's length; random-to-key is the identity for AES (RFC 3962
// §6). Ke comes as an AES key schedule. A kept key is looked up first;
// one that is not kept must be handed to release after use.
func (k *Key) derive(c [5]byte) (derived, error) {
	if k.keep {
		if v, ok := k.kept.Load(c); ok {
			return *v.(*derived), nil
		}
	}
	raw := k.deriveRaw(c)
	d := derived{raw: raw}
	if c[4] == kindKe {
		block, err := aes.NewCipher(raw)
		clear(raw)
		if err != nil {
			return derived{}, fmt.Errorf("krbcrypto: %w", err)
		}
		d = derived{block: block}
	}
	if !k.keep {
		return d, nil
	}
	v, loaded := k.kept.LoadOrStore(c, &d)
	if loaded {
		clear(d.raw) // another goroutine derived it first
	}
	return *v.(*derived), nil
}

// deriveRaw is DK(base, constant) as bytes.
func (k *Key) deriveRaw(c [5]byte) []byte {
	raw := make([]byte, k.keyLen)
	in := foldedConstant(c)[:]
	for i := 0; i < len(raw); i += aes.BlockSize {
		k.base.Encrypt(raw[i:i+aes.BlockSize], in)
		in = raw[i : i+aes.BlockSize]
	}
	return raw
}

// release wipes a derived key that is not kept. Go offers no way to wipe
// an AES key schedule; Ke's is left to the garbage collector.
// encryptionKeys are Ke and Ki of usage (RFC 3961 §5.3); the caller
// releases Ki.
func (k *Key) encryptionKeys(usage uint32) (ke, ki derived, err error) {
	if ke, err = k.derive(usageConstant(usage, kindKe)); err != nil {
		return derived{}, derived{}, err
	}
	if ki, err = k.derive(usageConstant(usage, kindKi)); err != nil {
		return derived{}, derived{}, err
	}
	return ke, ki, nil
}

func (k *Key) release(d derived) {
	if !k.keep {
		clear(d.raw)
	}
}

// Encrypt returns the ciphertext of plain under usage (RFC 3961 §5.3): a
// confounder read from rand and plain, encrypted under Ke, then their HMAC
// under Ki.
func (k *Key) Encrypt(usage uint32, plain []byte, rand io.Reader) ([]byte, error) {
	ke, ki, err := k.encryptionKeys(usage)
	if err != nil {
		return nil, err
	}
	defer k.release(ki)
	out := make([]byte, confounderLen+len(plain), confounderLen+len(plain)+MACLen)
	if _, err := io.ReadFull(rand, out[:confounderLen]); err != nil {
		return nil, fmt.Errorf("krbcrypto: confounder: %w", err)
	}
	copy(out[confounderLen:], plain)
	var sum [sha1.Size]byte
	mac := hmac.New(sha1.New, ki.raw)
	mac.Write(out)
	mac.Sum(sum[:0])
	ctsEncrypt(ke.block, out)
	return append(out, sum[:MACLen]...), nil
}

// Decrypt returns the plaintext of ciphertext under usage. It checks the
// HMAC that ends the ciphertext before it returns anything: a ciphertext
// too short to hold a confounder and an HMAC, or whose HMAC differs, fails
// with [ErrIntegrity].
func (k *Key) Decrypt(usage uint32, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < Overhead {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes, shorter than a confounder and an HMAC (%d)", ErrIntegrity, len(ciphertext), Overhead)
	}
	ke, ki, err := k.encryptionKeys(usage)
	if err != nil {
		return nil, err
	}
	defer k.release(ki)
	n := len(ciphertext) - MACLen
	buf := make([]byte, n)
	copy(buf, ciphertext[:n])
	ctsDecrypt(ke.block, buf)
	var sum [sha1.Size]byte
	mac := hmac.New(sha1.New, ki.raw)
	mac.Write(buf)
	mac.Sum(sum[:0])
	if !hmac.Equal(sum[:MACLen], ciphertext[n:]) {
		clear(buf)
		return nil, fmt.Errorf("%w: HMAC mismatch (wrong key or usage, or a modified ciphertext)", ErrIntegrity)
	}
	return buf[confounderLen:], nil
}

// Checksum returns the keyed checksum of data under usage: HMAC-SHA1 under
// Kc, truncated to 96 bits (RFC 3962 §6, checksum types 15 and 16).
func (k *Key) Checksum(usage uint32, data []byte) ([]byte, error) {
	kc, err := k.derive(usageConstant(usage, kindKc))
	if err != nil {
		return nil, err
	}
	defer k.release(kc)
	mac := hmac.New(sha1.New, kc.raw)
	mac.Write(data)
	return mac.Sum(make([]byte, 0, sha1.Size))[:MACLen:MACLen], nil
}

// VerifyChecksum checks sum, a checksum of data under usage, in constant
// time; a mismatch fails with [ErrIntegrity].
func (k *Key) VerifyChecksum(usage uint32, data, sum []byte) error {
	want, err := k.Checksum(usage, data)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, sum) {
		return fmt.Errorf("%w: checksum mismatch", ErrIntegrity)
	}
	return nil
}
