package pkinit

import (
	"crypto"
	"crypto/rand"
	"testing"
)

func benchSigned(b *testing.B, id testIdentity) []byte {
	sd, err := SignData(make([]byte, 512), ContentAuthData, id.key, id.cert, SignOptions{Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	return sd
}

func BenchmarkRSA2048Verify(b *testing.B) {
	sd := benchSigned(b, fixtures(b).client)
	for b.Loop() {
		if _, err := VerifySignedData(sd, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkP256Verify(b *testing.B) {
	sd := benchSigned(b, fixtures(b).ecClient)
	for b.Loop() {
		if _, err := VerifySignedData(sd, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDH2048KeyPairAndSecret(b *testing.B) {
	peer, _ := NewDHKey(MODPGroup14, rand.Reader)
	pv := peer.PublicValue()
	for b.Loop() {
		k, err := NewDHKey(MODPGroup14, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.SharedSecret(pv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkECDHP256(b *testing.B) {
	peer, _ := NewECDHKey(CurveP256, rand.Reader)
	pv := peer.PublicValue()
	for b.Loop() {
		k, _ := NewECDHKey(CurveP256, rand.Reader)
		if _, err := k.SharedSecret(pv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKDCReplyBuild is one KDC-side DH-2048 reply: validate the client
// value, a fresh key pair, the secret, a signed KDCDHKeyInfo (RSA-2048), the
// PA-PK-AS-REP and the RFC 8636 SHA-256 reply key.
func BenchmarkKDCReplyBuild(b *testing.B) {
	f := fixtures(b)
	client, _ := NewDHKey(MODPGroup14, rand.Reader)
	ap := testAuthPack(b, client, []KDF{KDFSHA256})
	p := DHReplyParams{AuthPack: ap, KDFs: []KDF{KDFSHA256}, EType: 18, KDFInputs: testInputs,
		Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{Hash: crypto.SHA256}}, Rand: rand.Reader}
	for b.Loop() {
		if _, err := BuildDHReply(p); err != nil {
			b.Fatal(err)
		}
	}
}
