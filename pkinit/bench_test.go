package pkinit

import (
	"crypto"
	"crypto/rand"
	"math"
	"math/big"
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

// The KDC's mandatory operations one at a time, for the crypto limit that
// bench/ (make bench) sums per exchange.

// BenchmarkRSA2048Sign is the KDC's signature over its reply content
// (KDCDHKeyInfo or ReplyKeyPack) as CMS SignedData.
func BenchmarkRSA2048Sign(b *testing.B) {
	f := fixtures(b)
	content := make([]byte, 300)
	for b.Loop() {
		if _, err := SignData(content, ContentDHKeyData, f.kdc.key, f.kdc.cert, SignOptions{Rand: rand.Reader}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDH2048Validate is the subgroup check of a client's public value.
func BenchmarkDH2048Validate(b *testing.B) {
	gp, _ := MODPGroup14.params()
	k, _ := NewDHKey(MODPGroup14, rand.Reader)
	for b.Loop() {
		if err := validateDHPublic(gp, k.y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDH2048ValidateByExponent is the same check as y^q mod p, as
// validateDHPublic did before it used the Jacobi symbol.
func BenchmarkDH2048ValidateByExponent(b *testing.B) {
	gp, _ := MODPGroup14.params()
	k, _ := NewDHKey(MODPGroup14, rand.Reader)
	for b.Loop() {
		if !inSubgroupByExponent(gp, k.y) {
			b.Fatal("not a member")
		}
	}
}

// BenchmarkDH2048KeyPair is a fresh KDC key (skipped when the KDC reuses one).
func BenchmarkDH2048KeyPair(b *testing.B) {
	for b.Loop() {
		if _, err := NewDHKey(MODPGroup14, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDH2048Secret is the shared secret with a given key, validation
// of the peer's value included.
func BenchmarkDH2048Secret(b *testing.B) {
	k, _ := NewDHKey(MODPGroup14, rand.Reader)
	peer, _ := NewDHKey(MODPGroup14, rand.Reader)
	pv := peer.PublicValue()
	for b.Loop() {
		if _, err := k.SharedSecret(pv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyTransportReplyBuild is one KDC-side RSA key-transport reply: a
// random reply key, the signed ReplyKeyPack (RSA-2048) and its envelope for
// the client's certificate.
func BenchmarkKeyTransportReplyBuild(b *testing.B) {
	f := fixtures(b)
	p := KeyTransportParams{ClientCertificate: f.client.cert, EType: 18, ASReq: make([]byte, 2000),
		Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{Hash: crypto.SHA256}}, Rand: rand.Reader}
	for b.Loop() {
		if _, err := BuildKeyTransportReply(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkP256Sign is the KDC's signature over its reply content with a
// P-256 key (ECDSA with SHA-256) as CMS SignedData.
func BenchmarkP256Sign(b *testing.B) {
	f := fixtures(b)
	content := make([]byte, 300)
	for b.Loop() {
		if _, err := SignData(content, ContentDHKeyData, f.ecClient.key, f.ecClient.cert, SignOptions{Rand: rand.Reader}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDH2048SecretMathBig is BenchmarkDH2048Secret's exponentiation
// with math/big's variable-time Exp, as the KDC computed it before bigmod.
func BenchmarkDH2048SecretMathBig(b *testing.B) {
	k, _ := NewDHKey(MODPGroup14, rand.Reader)
	peer, _ := NewDHKey(MODPGroup14, rand.Reader)
	pv := peer.PublicValue()
	x := new(big.Int).SetBytes(k.x)
	size := (k.gp.p.BitLen() + 7) / 8
	for b.Loop() {
		var y *big.Int
		if err := unmarshal(pv, &y, "DH public value"); err != nil {
			b.Fatal(err)
		}
		if err := validateDHPublic(k.gp, y); err != nil {
			b.Fatal(err)
		}
		new(big.Int).Exp(y, x, k.gp.p).FillBytes(make([]byte, size))
	}
}

// BenchmarkDH2048KeyPairMathBig is BenchmarkDH2048KeyPair with math/big.
func BenchmarkDH2048KeyPairMathBig(b *testing.B) {
	gp, _ := MODPGroup14.params()
	buf := make([]byte, gp.privateBits/8)
	for b.Loop() {
		if _, err := rand.Read(buf); err != nil {
			b.Fatal(err)
		}
		buf[0] |= 0x80
		new(big.Int).Exp(gp.g, new(big.Int).SetBytes(buf), gp.p)
	}
}

// BenchmarkDH2048SecretTiming reports Welch's t between group-14 secrets
// with a 256-bit exponent of all ones and one of two set bits, 1000
// interleaved samples each per iteration (cropped at the pooled 90th
// percentile): |t| above 4.5 is a timing difference, below it noise. The
// ns/op is the cost of the measurement, not of an exchange.
func BenchmarkDH2048SecretTiming(b *testing.B) {
	var tb, tm float64
	for b.Loop() {
		tb, tm = dhTimingStats(b, 1000)
	}
	b.ReportMetric(math.Abs(tb), "|t|-bigmod")
	b.ReportMetric(math.Abs(tm), "|t|-math/big")
}
