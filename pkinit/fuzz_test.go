package pkinit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// seeds returns valid encodings of every wire type, made once.
func fuzzSeeds(f *testing.F) [][]byte {
	fx := fixtures(f)
	key, _ := NewECDHKey(CurveP256, rand.Reader)
	ap := testAuthPack(f, key, []KDF{KDFSHA256})
	apDER, _ := ap.Marshal()
	req, _ := BuildPKASReq(ap, fx.client.key, fx.client.cert, SignOptions{Rand: rand.Reader})
	parsed, _ := ParseAuthPack(apDER)
	rep, _ := BuildDHReply(DHReplyParams{AuthPack: parsed, KDFs: []KDF{KDFSHA256}, EType: 18, KDFInputs: testInputs, Identity: KDCSigner{fx.kdc.key, fx.kdc.cert, SignOptions{}}, Rand: rand.Reader})
	kt, _ := BuildKeyTransportReply(KeyTransportParams{ClientCertificate: fx.client.cert, EType: 18, ASReq: testASReq, Identity: KDCSigner{fx.kdc.key, fx.kdc.cert, SignOptions{}}, Rand: rand.Reader})
	pn, _ := testInputs.KDC.Marshal()
	info, _ := (&KDCDHKeyInfo{SubjectPublicKey: key.PublicValue(), Nonce: 7}).Marshal()
	rkp, _ := (&ReplyKeyPack{ReplyKey: EncryptionKey{18, make([]byte, 32)}, ASChecksum: Checksum{16, make([]byte, 12)}}).Marshal()
	td, _ := MarshalTypedData([]TypedData{{TDDHParameters, []byte{0x30, 0}}})
	spki, _ := key.PublicKeyInfo()
	seeds := [][]byte{apDER, req, rep.PKASRep, kt.PKASRep, pn, info, rkp, td, spki}
	// The BER forms peers send: hx509's, and streaming encoders'.
	files, _ := filepath.Glob("testdata/heimdal-7.8-*.der")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	sd, _ := SignData([]byte("content"), ContentDHKeyData, fx.kdc.key, fx.kdc.cert, SignOptions{Rand: rand.Reader, SubjectKeyID: true, Chain: []*x509.Certificate{fx.ecClient.cert}})
	for _, v := range signedDataVariants(f, sd) {
		seeds = append(seeds, v)
	}
	env, _ := EnvelopeData(sd, fx.client.cert, rand.Reader)
	for _, v := range envelopedDataVariants(f, env, fx.client.cert.SubjectKeyId) {
		seeds = append(seeds, v)
	}
	return seeds
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
}

// roundTrip checks that parse → marshal → parse → marshal is stable.
func roundTrip[T any](t *testing.T, b []byte, parse func([]byte) (T, error), marshal func(T) ([]byte, error)) {
	v, err := parse(b)
	if err != nil {
		return
	}
	m1, err := marshal(v)
	if err != nil {
		return
	}
	v2, err := parse(m1)
	if err != nil {
		t.Fatalf("re-parse of own encoding: %v", err)
	}
	m2, _ := marshal(v2)
	if !bytes.Equal(m1, m2) {
		t.Fatalf("encoding not stable:\n%x\n%x", m1, m2)
	}
}

func FuzzParseAuthPack(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, ParseAuthPack, (*AuthPack).Marshal)
	})
}

func FuzzParsePKASReq(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, ParsePKASReq, (*PKASReq).Marshal) })
}

func FuzzParsePKASRep(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, ParsePKASRep, (*PKASRep).Marshal) })
}

func FuzzParseKDCDHKeyInfo(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, ParseKDCDHKeyInfo, (*KDCDHKeyInfo).Marshal) })
}

func FuzzParseReplyKeyPack(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, ParseReplyKeyPack, (*ReplyKeyPack).Marshal) })
}

// KRB5PrincipalName has one encoding: parse → marshal gives the input back.
func FuzzParseKRB5PrincipalName(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseKRB5PrincipalName(b)
		if err != nil {
			return
		}
		m, err := p.Marshal()
		if err != nil || !bytes.Equal(m, b) {
			t.Fatalf("not canonical: %x -> %x (%v)", b, m, err)
		}
	})
}

func FuzzParseTypedData(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTypedData(b)
		ParseKerbErrorData(b)
		ParseTDDHParameters(b)
		ParseExternalPrincipalIdentifiers(b)
	})
}

func FuzzParseClientPublicValue(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { ParseClientPublicValue(b, AgreementPolicy{AllowGroup2: true}) })
}

func FuzzVerifySignedData(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { VerifySignedData(b, VerifyOptions{AllowSHA1: true}) })
}

func FuzzOpenEnvelopedData(f *testing.F) {
	addSeeds(f)
	fx := fixtures(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		OpenEnvelopedData(b, fx.client.cert, fx.client.key.(crypto.Decrypter), rand.Reader)
	})
}
