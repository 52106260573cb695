package pkinit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
)

// rfc2315SignedData builds, from RFC 2315 §9 rather than with SignData, the
// PKCS #7 v1.5 SignedData Windows KDCs put in encKeyPack: the content is the
// ReplyKeyPack itself under [0] EXPLICIT (no OCTET STRING), and the
// messageDigest covers only its contents octets (§9.3). digestOver replaces
// what is digested, to build a bad one.
func rfc2315SignedData(t *testing.T, id testIdentity, content []byte, digestOver []byte) []byte {
	t.Helper()
	mustMarshal := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	null := asn1.RawValue{Tag: asn1.TagNull}
	sha256Alg := algorithm{Algorithm: oidSHA256, Parameters: null}
	var inner asn1.RawValue
	if _, err := asn1.Unmarshal(content, &inner); err != nil {
		t.Fatal(err)
	}
	if digestOver == nil {
		digestOver = inner.Bytes // the contents octets, without tag and length
	}
	sum := sha256.Sum256(digestOver)
	type attribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
	set := func(elems ...[]byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(elems, nil)}
	}
	attrs := [][]byte{
		mustMarshal(attribute{oidAttrContentType, set(mustMarshal(oidPKINITRKeyData))}),
		mustMarshal(attribute{oidAttrMessageDigest, set(mustMarshal(sum[:]))}),
	}
	// The signature covers the DER SET OF the attributes (RFC 2315 §9.3).
	setDER := mustMarshal(set(attrs...))
	digest := sha256.Sum256(setDER)
	sig, err := id.key.(*rsa.PrivateKey).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	type issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	signerInfo := mustMarshal(struct {
		Version         int
		IssuerAndSerial issuerAndSerial
		DigestAlgorithm algorithm
		AuthAttrs       asn1.RawValue
		DigestEncAlg    algorithm
		EncryptedDigest []byte
	}{
		Version:         1,
		IssuerAndSerial: issuerAndSerial{asn1.RawValue{FullBytes: id.cert.RawIssuer}, id.cert.SerialNumber},
		DigestAlgorithm: sha256Alg,
		AuthAttrs:       asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(attrs, nil)},
		DigestEncAlg:    algorithm{Algorithm: oidRSAEncryption, Parameters: null},
		EncryptedDigest: sig,
	})
	return mustMarshal(struct {
		Version     int
		DigestAlgs  asn1.RawValue
		ContentInfo struct {
			Type    asn1.ObjectIdentifier
			Content asn1.RawValue // [0] EXPLICIT ANY
		}
		Certificates asn1.RawValue
		SignerInfos  asn1.RawValue
	}{
		Version:    1,
		DigestAlgs: set(mustMarshal(sha256Alg)),
		ContentInfo: struct {
			Type    asn1.ObjectIdentifier
			Content asn1.RawValue // [0] EXPLICIT ANY
		}{oidPKINITRKeyData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: content}},
		Certificates: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: id.cert.Raw},
		SignerInfos:  set(signerInfo),
	})
}

// TestWindowsStyleKeyTransportReply: the client opens an RSA key-transport
// reply whose inner SignedData is RFC 2315-style, as Windows KDCs send it,
// and refuses one whose messageDigest covers anything else.
func TestWindowsStyleKeyTransportReply(t *testing.T) {
	f := fixtures(t)
	key := EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{0x42}, 32)}
	sum, err := ASChecksum(key, testASReq)
	if err != nil {
		t.Fatal(err)
	}
	pack, err := (&ReplyKeyPack{ReplyKey: key, ASChecksum: sum}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	params := ClientReplyParams{EType: 18, KDFInputs: testInputs, Certificate: f.client.cert, Decrypter: f.client.key.(*rsa.PrivateKey), Rand: rand.Reader}
	reply := func(signed []byte) []byte {
		env, err := EnvelopeData(signed, f.client.cert, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := (&PKASRep{EncKeyPack: env}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	got, sc, err := ClientReplyKey(reply(rfc2315SignedData(t, f.kdc, pack, nil)), params)
	if err != nil {
		t.Fatalf("RFC 2315-style reply: %v", err)
	}
	if !bytes.Equal(got.KeyValue, key.KeyValue) || sc.Signer.SerialNumber.Cmp(f.kdc.cert.SerialNumber) != 0 {
		t.Fatalf("key %x from %v", got.KeyValue, sc.Signer.Subject)
	}
	_, _, err = ClientReplyKey(reply(rfc2315SignedData(t, f.kdc, pack, []byte("something else"))), params)
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("digest over other bytes: %v, want ErrBadSignature", err)
	}
}
