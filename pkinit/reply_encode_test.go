package pkinit

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"io"
	"math"
	"math/big"
	"testing"
	"time"
)

// lengths cross every boundary of a DER length's form.
var lengths = []int{0, 1, 127, 128, 255, 256, 65535, 65536}

// TestReplyEncodersMatch holds the hand-written PKASRep, KDCDHKeyInfo and
// ReplyKeyPack encoders to the encoding/asn1 ones they replaced: the same
// bytes, and an error for the same values.
func TestReplyEncodersMatch(t *testing.T) {
	for _, n := range lengths {
		for _, nonce := range [][]byte{nil, {}, make([]byte, 32)} {
			for _, kdf := range []KDF{KDFOctetString2Key, KDFSHA1, KDFSHA256, KDFSHA384, KDFSHA512, KDF(99)} {
				checkPKASRepMatches(t, &PKASRep{DHInfo: &DHRepInfo{DHSignedData: make([]byte, n), ServerDHNonce: nonce, KDF: kdf}})
			}
		}
		checkPKASRepMatches(t, &PKASRep{EncKeyPack: make([]byte, n)})
		checkPKASRepMatches(t, &PKASRep{DHInfo: &DHRepInfo{}, EncKeyPack: make([]byte, n)})
		for _, key := range []EncryptionKey{{18, make([]byte, n)}, {-1, nil}, {math.MinInt32, []byte{}}} {
			checkReplyKeyPackMatches(t, &ReplyKeyPack{ReplyKey: key, ASChecksum: Checksum{16, make([]byte, n%300)}})
		}
		for _, exp := range []time.Time{{}, time.Date(2026, 5, 6, 7, 8, 9, 999, time.FixedZone("x", 3600)),
			time.Date(1, 1, 1, 0, 0, 0, 5e8, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(5, 1, 1, 0, 0, 0, 0, time.UTC)} {
			for _, nonce := range []uint32{0, 127, 128, 0x7fffffff, 0x80000000, 0xffffffff} {
				checkKDCDHKeyInfoMatches(t, &KDCDHKeyInfo{SubjectPublicKey: make([]byte, n), Nonce: nonce, DHKeyExpiration: exp})
			}
		}
	}
	checkPKASRepMatches(t, &PKASRep{})
	checkKDCDHKeyInfoMatches(t, &KDCDHKeyInfo{})
	checkReplyKeyPackMatches(t, &ReplyKeyPack{})
}

func checkEncodingMatches(t *testing.T, what string, v any, got []byte, err error, want []byte, refErr error) {
	t.Helper()
	if (err == nil) != (refErr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%s %+v:\n got %x (%v)\nwant %x (%v)", what, v, got, err, want, refErr)
	}
}

func checkPKASRepMatches(t *testing.T, r *PKASRep) {
	t.Helper()
	got, err := r.Marshal()
	want, refErr := marshalPKASRepRef(r)
	checkEncodingMatches(t, "PKASRep", r, got, err, want, refErr)
}

func checkKDCDHKeyInfoMatches(t *testing.T, k *KDCDHKeyInfo) {
	t.Helper()
	got, err := k.Marshal()
	want, refErr := marshalKDCDHKeyInfoRef(k)
	checkEncodingMatches(t, "KDCDHKeyInfo", k, got, err, want, refErr)
}

func checkReplyKeyPackMatches(t *testing.T, r *ReplyKeyPack) {
	t.Helper()
	got, err := r.Marshal()
	want, refErr := marshalReplyKeyPackRef(r)
	checkEncodingMatches(t, "ReplyKeyPack", r, got, err, want, refErr)
}

func FuzzReplyEncodersMatch(f *testing.F) {
	f.Add([]byte("signed data"), []byte("nonce"), uint32(7), int32(18), int32(16), uint8(2), uint8(1), int64(1_800_000_000), int64(5))
	f.Add([]byte{}, []byte{}, uint32(0xffffffff), int32(-1), int32(1<<30), uint8(0), uint8(6), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, a, b []byte, nonce uint32, t1, t2 int32, kdf, flags uint8, sec, nsec int64) {
		if flags&1 != 0 {
			b = nil
		}
		var exp time.Time
		if flags&2 != 0 {
			exp = time.Unix(sec, nsec)
		}
		checkPKASRepMatches(t, &PKASRep{DHInfo: &DHRepInfo{DHSignedData: a, ServerDHNonce: b, KDF: KDF(kdf % 8)}})
		checkPKASRepMatches(t, &PKASRep{EncKeyPack: a})
		checkKDCDHKeyInfoMatches(t, &KDCDHKeyInfo{SubjectPublicKey: a, Nonce: nonce, DHKeyExpiration: exp})
		checkReplyKeyPackMatches(t, &ReplyKeyPack{ReplyKey: EncryptionKey{t1, a}, ASChecksum: Checksum{t2, b}})
	})
}

// digestSigner signs by returning the digest reversed: SignData's output is
// then a function of its inputs, for any key type, without a private key.
type digestSigner struct{ pub crypto.PublicKey }

func (s digestSigner) Public() crypto.PublicKey { return s.pub }

func (s digestSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	out := bytes.Clone(digest)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// TestSignDataMatches holds SignData's encoder, which sizes the SignedData
// before writing it, to the nested cryptobyte builders it replaced.
func TestSignDataMatches(t *testing.T) {
	f := fixtures(t)
	for _, id := range []testIdentity{f.kdc, f.ecClient} {
		signer := digestSigner{id.key.Public()}
		for _, n := range lengths {
			for _, opts := range []SignOptions{{}, {Hash: crypto.SHA1, SubjectKeyID: true},
				{Hash: crypto.SHA512, Chain: []*x509.Certificate{f.client.cert, f.ecClient.cert}}, {Hash: crypto.SHA384, Chain: []*x509.Certificate{}}} {
				for _, ct := range []ContentType{ContentDHKeyData, ContentRKeyData, ContentData, ContentType(99)} {
					checkSignDataMatches(t, make([]byte, n), ct, signer, id.cert, opts)
				}
			}
		}
	}
	for _, serial := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, -256} {
		c := *f.kdc.cert
		c.SerialNumber = big.NewInt(serial)
		checkSignDataMatches(t, []byte{1}, ContentAuthData, digestSigner{f.kdc.key.Public()}, &c, SignOptions{})
	}
	noSKI := *f.kdc.cert
	noSKI.SubjectKeyId = nil
	checkSignDataMatches(t, nil, ContentDHKeyData, digestSigner{f.kdc.key.Public()}, &noSKI, SignOptions{SubjectKeyID: true})
	checkSignDataMatches(t, nil, ContentDHKeyData, digestSigner{"not a key"}, f.kdc.cert, SignOptions{})
	checkSignDataMatches(t, nil, ContentDHKeyData, digestSigner{f.kdc.key.Public()}, f.kdc.cert, SignOptions{Hash: crypto.MD5})
}

func checkSignDataMatches(t *testing.T, content []byte, ct ContentType, signer crypto.Signer, cert *x509.Certificate, opts SignOptions) {
	t.Helper()
	got, err := SignData(content, ct, signer, cert, opts)
	want, refErr := signDataRef(content, ct, signer, cert, opts)
	checkEncodingMatches(t, "SignData", len(content), got, err, want, refErr)
}

func FuzzSignDataMatches(f *testing.F) {
	f.Add([]byte("content"), uint8(0), uint8(0))
	f.Add(make([]byte, 300), uint8(3), uint8(7))
	f.Fuzz(func(t *testing.T, content []byte, hash, flags uint8) {
		fx := fixtures(t)
		id := fx.kdc
		if flags&1 != 0 {
			id = fx.ecClient
		}
		opts := SignOptions{Hash: []crypto.Hash{0, crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}[hash%5], SubjectKeyID: flags&2 != 0}
		if flags&4 != 0 {
			opts.Chain = []*x509.Certificate{fx.client.cert}
		}
		checkSignDataMatches(t, content, ContentDHKeyData, digestSigner{id.key.Public()}, id.cert, opts)
	})
}
