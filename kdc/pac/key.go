package pac

import (
	"crypto/hmac"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"

	"github.com/sclogon/sclogon/internal/krbcrypto"
)

// Encryption types ([RFC 3962], [RFC 4757]) whose keys can sign a PAC.
const (
	etypeAES128 int32 = 17 // aes128-cts-hmac-sha1-96, RFC 3962
	etypeAES256 int32 = 18 // aes256-cts-hmac-sha1-96, RFC 3962
	etypeRC4    int32 = 23 // rc4-hmac, RFC 4757
)

// Checksum types of PAC_SIGNATURE_DATA ([MS-PAC] §2.8).
const (
	cksumHMACSHA1AES128 int32 = 15   // HMAC_SHA1_96_AES128, RFC 3962
	cksumHMACSHA1AES256 int32 = 16   // HMAC_SHA1_96_AES256, RFC 3962
	cksumHMACMD5        int32 = -138 // KERB_CHECKSUM_HMAC_MD5, RFC 4757
)

// keyUsageNonKerbCksumSalt is KERB_NON_KERB_CKSUM_SALT, [MS-KILE] §3.1.5.9,
// the key usage of both PAC signatures ([MS-PAC] §2.8.4, §2.8.5).
const keyUsageNonKerbCksumSalt uint32 = 17

// Key is a long-term Kerberos key that signs or verifies a PAC: the
// service's key for the server signature, the krbtgt key for the KDC
// signature. The key bytes are not printed by fmt. An AES key derives its
// checksum key once and keeps it, as long as the Key and its copies live:
// a KDC that holds a Key per long-term key signs without deriving again.
type Key struct {
	etype int32
	value []byte
	aes   *krbcrypto.Key // for etypes 17 and 18; RC4 goes to gokrb5
}

// NewKey returns a key of encryption type etype (17, 18 or 23). It keeps a
// copy of value.
func NewKey(etype int32, value []byte) (Key, error) {
	want := 0
	switch etype {
	case etypeAES128, etypeRC4:
		want = 16
	case etypeAES256:
		want = 32
	default:
		return Key{}, fmt.Errorf("%w: encryption type %d cannot sign a PAC (want 17, 18 or 23)", ErrUnsupported, etype)
	}
	if len(value) != want {
		return Key{}, fmt.Errorf("pac: a key of encryption type %d is %d bytes, got %d", etype, want, len(value))
	}
	k := Key{etype: etype, value: append([]byte(nil), value...)}
	if krbcrypto.Supported(etype, len(value)) {
		aes, err := krbcrypto.NewLongTermKey(etype, k.value)
		if err != nil {
			return Key{}, fmt.Errorf("pac: %w", err)
		}
		k.aes = aes
	}
	return k, nil
}

// EType returns the key's encryption type.
func (k Key) EType() int32 { return k.etype }

// Format prints the encryption type only.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "pac.Key{etype: %d, value: redacted}", k.etype)
}

// checksumType returns the PAC checksum type for k and its length.
func (k Key) checksumType() (int32, int, error) {
	switch k.etype {
	case etypeAES128:
		return cksumHMACSHA1AES128, 12, nil
	case etypeAES256:
		return cksumHMACSHA1AES256, 12, nil
	case etypeRC4:
		return cksumHMACMD5, 16, nil
	}
	return 0, 0, fmt.Errorf("%w: no key (encryption type %d)", ErrUnsupported, k.etype)
}

// signatureLen returns the length of a signature of checksum type t.
func signatureLen(t int32) (int, bool) {
	switch t {
	case cksumHMACSHA1AES128, cksumHMACSHA1AES256:
		return 12, true
	case cksumHMACMD5:
		return 16, true
	}
	return 0, false
}

func (k Key) checksum(data []byte) ([]byte, error) {
	_, n, err := k.checksumType()
	if err != nil {
		return nil, err
	}
	if k.aes != nil {
		return k.aes.Checksum(keyUsageNonKerbCksumSalt, data)
	}
	et, err := crypto.GetEtype(k.etype)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	sum, err := et.GetChecksumHash(k.value, data, keyUsageNonKerbCksumSalt)
	if err != nil {
		return nil, fmt.Errorf("pac: computing checksum: %w", err)
	}
	if len(sum) != n {
		return nil, fmt.Errorf("pac: checksum of encryption type %d is %d bytes, want %d", k.etype, len(sum), n)
	}
	return sum, nil
}

// verify checks sig, of checksum type t, over data.
func (k Key) verify(t int32, data, sig []byte) error {
	kt, _, err := k.checksumType()
	if err != nil {
		return err
	}
	if kt != t {
		return fmt.Errorf("%w: signature has checksum type %d, the key (encryption type %d) makes %d", ErrSignature, t, k.etype, kt)
	}
	sum, err := k.checksum(data)
	if err != nil {
		return err
	}
	if !hmac.Equal(sum, sig) {
		return fmt.Errorf("%w: checksum mismatch", ErrSignature)
	}
	return nil
}
