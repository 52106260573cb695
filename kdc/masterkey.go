package kdc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Errors of sealed keys; each is wrapped with the principal and where the
// keys were read.
var (
	// ErrWrongMasterKey: the keys were sealed under another master key
	// than this KDC's (the key IDs differ). Every KDC of a realm needs the
	// same master key file.
	ErrWrongMasterKey = errors.New("kdc: keys sealed under another master key")
	// ErrKeysTampered: sealed keys under this KDC's master key fail their
	// integrity check: changed, truncated, or moved to another principal or
	// key version.
	ErrKeysTampered = errors.New("kdc: sealed keys fail their integrity check")
)

// MasterKey seals the realm's long-term keys where they are stored outside
// the KDC (in the directory), as MIT's LDAP backend and AD do with theirs.
// It is read from a file ([ReadMasterKey]) that every KDC of the realm
// holds; its bytes stay inside the AEAD and are never printed.
//
// # Why AES-256-GCM and not AES key wrap
//
// RFC 3394/5649 key wrap is deterministic and binds nothing but the key:
// anyone able to write the directory could swap krbtgt's wrapped key into a
// service principal's entry, or put back a retired key version, and it
// would unwrap. GCM's additional data binds every sealed value to its
// principal, its kvno and its retirement time, so such a swap fails as
// [ErrKeysTampered]. Its random 96-bit nonces are safe here: a realm seals a
// few values per rollover, far below the 2^32 messages NIST SP 800-38D
// allows under one key.
type MasterKey struct {
	aead cipher.AEAD
	id   [8]byte // names the key in sealed values, to tell a wrong key from tampering
	path string
}

// masterKeySize is AES-256's.
const masterKeySize = 32

// ReadMasterKey reads a master key file: 64 hexadecimal digits (32 random
// bytes, `openssl rand -hex 32`), an optional newline, mode 0600 or
// stricter.
func ReadMasterKey(path string) (*MasterKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("kdc: master key %s is readable by others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	defer clear(data)
	text := strings.TrimRight(string(data), "\r\n")
	secret, err := hex.DecodeString(text)
	if err != nil || len(secret) != masterKeySize {
		clear(secret)
		return nil, fmt.Errorf("kdc: master key %s is not %d hexadecimal digits (make one with: openssl rand -hex %d > %s)",
			path, 2*masterKeySize, masterKeySize, path)
	}
	mk, err := NewMasterKey(secret)
	if err != nil {
		return nil, err
	}
	mk.path = path
	return mk, nil
}

// WriteMasterKey makes a new master key file at path (0600, refused if the
// file exists) from rand.
func WriteMasterKey(path string, rand io.Reader) error {
	secret := make([]byte, masterKeySize)
	defer clear(secret)
	if _, err := io.ReadFull(rand, secret); err != nil {
		return fmt.Errorf("kdc: master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("kdc: master key: %w", err)
	}
	text := []byte(hex.EncodeToString(secret) + "\n")
	defer clear(text)
	_, werr := f.Write(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("kdc: master key: %w", werr)
	}
	return nil
}

// NewMasterKey makes a master key of 32 secret bytes, which it wipes. The
// sealing key and the key ID are derived apart (HKDF-SHA256), so the ID
// tells nothing about the sealing key.
func NewMasterKey(secret []byte) (*MasterKey, error) {
	defer clear(secret)
	if len(secret) != masterKeySize {
		return nil, fmt.Errorf("kdc: a master key has %d bytes, not %d", masterKeySize, len(secret))
	}
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "sclogon realm keys aes-256-gcm", 32)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	defer clear(sealKey)
	id, err := hkdf.Key(sha256.New, secret, nil, "sclogon master key id", 8)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("kdc: master key: %w", err)
	}
	mk := &MasterKey{aead: aead}
	copy(mk.id[:], id)
	return mk, nil
}

// ID names the master key (not secret): sealed values carry it.
func (mk *MasterKey) ID() string { return hex.EncodeToString(mk.id[:]) }

// Format prints the key's ID and file, never the key.
func (mk *MasterKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "master key %s (%s)", mk.ID(), mk.path)
}

// A sealed value is one key version of one principal:
//
//	magic     "sck\x01" (format 1)
//	keyID     8 bytes   the master key's ID
//	kvno      uint32
//	notAfter  int64     Unix seconds the version is retired at; 0: current
//	nonce     12 bytes
//	sealed    AES-256-GCM of: { etype int32, key uint8-length-prefixed }…
//
// All integers big-endian. The additional data is "sclogon realm key",
// NUL, the principal, NUL, then the header (magic to notAfter).
var sealMagic = []byte("sck\x01")

const sealHeaderLen = 4 + 8 + 4 + 8

// sealedVersion is one key version after [MasterKey.open].
type sealedVersion struct {
	kvno     uint32
	notAfter time.Time // zero: current
	keys     []Key
}

// seal seals keys, all of one kvno and with the same NotAfter, for
// principal.
func (mk *MasterKey) seal(principal string, keys []Key, rand io.Reader) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("kdc: no keys to seal")
	}
	kvno, notAfter := keys[0].KVNO, keys[0].NotAfter
	var plain cryptobyte.Builder
	for _, k := range keys {
		if k.KVNO != kvno || !k.NotAfter.Equal(notAfter) {
			return nil, fmt.Errorf("kdc: sealing keys of kvno %d and %d together", kvno, k.KVNO)
		}
		plain.AddUint32(uint32(k.EType))
		plain.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(k.Value) })
	}
	pt, err := plain.Bytes()
	if err != nil {
		return nil, fmt.Errorf("kdc: seal keys of %s: %w", principal, err)
	}
	defer clear(pt)
	var secs int64
	if !notAfter.IsZero() {
		secs = notAfter.Unix()
	}
	out := append([]byte(nil), sealMagic...)
	out = append(out, mk.id[:]...)
	out = binary.BigEndian.AppendUint32(out, kvno)
	out = binary.BigEndian.AppendUint64(out, uint64(secs))
	nonce := make([]byte, mk.aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("kdc: seal keys: %w", err)
	}
	ad := sealAD(principal, out)
	out = append(out, nonce...)
	return mk.aead.Seal(out, nonce, pt, ad), nil
}

func sealAD(principal string, header []byte) []byte {
	ad := append([]byte("sclogon realm key\x00"), principal...)
	ad = append(ad, 0)
	return append(ad, header...)
}

// open checks and opens a sealed value of principal.
func (mk *MasterKey) open(principal string, value []byte) (sealedVersion, error) {
	var v sealedVersion
	s := cryptobyte.String(value)
	var magic, id, nonce []byte
	var kvno uint32
	var secs uint64
	if !s.ReadBytes(&magic, len(sealMagic)) || string(magic) != string(sealMagic) {
		return v, fmt.Errorf("%w: not a sealed key of format 1", ErrKeysTampered)
	}
	if !s.ReadBytes(&id, len(mk.id)) || !s.ReadUint32(&kvno) || !s.ReadUint64(&secs) ||
		!s.ReadBytes(&nonce, mk.aead.NonceSize()) || len(s) < mk.aead.Overhead() {
		return v, fmt.Errorf("%w: truncated", ErrKeysTampered)
	}
	if string(id) != string(mk.id[:]) {
		return v, fmt.Errorf("%w: sealed under master key %x, not this KDC's %v (every KDC of the realm needs the same master key file)",
			ErrWrongMasterKey, id, mk)
	}
	ad := sealAD(principal, value[:sealHeaderLen])
	pt, err := mk.aead.Open(nil, nonce, s, ad)
	if err != nil {
		return v, fmt.Errorf("%w: kvno %d does not open under %v", ErrKeysTampered, kvno, mk)
	}
	defer clear(pt)
	v.kvno = kvno
	if secs != 0 {
		v.notAfter = time.Unix(int64(secs), 0)
	}
	if v.keys, err = parseSealedKeys(pt, kvno, v.notAfter); err != nil {
		return sealedVersion{}, err
	}
	return v, nil
}

// parseSealedKeys reads the opened key list of one version.
func parseSealedKeys(pt []byte, kvno uint32, notAfter time.Time) ([]Key, error) {
	p := cryptobyte.String(pt)
	var keys []Key
	for !p.Empty() {
		var etype uint32
		var key cryptobyte.String
		if !p.ReadUint32(&etype) || !p.ReadUint8LengthPrefixed(&key) {
			return nil, fmt.Errorf("%w: malformed key list of kvno %d", ErrKeysTampered, kvno)
		}
		if n, ok := keySizes[int32(etype)]; !ok || n != len(key) {
			return nil, fmt.Errorf("%w: kvno %d has a key of etype %d and %d bytes", ErrKeysTampered, kvno, int32(etype), len(key))
		}
		keys = append(keys, Key{EType: int32(etype), KVNO: kvno, Value: append([]byte(nil), key...), NotAfter: notAfter})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: kvno %d holds no key", ErrKeysTampered, kvno)
	}
	return keys, nil
}
