package pkinit

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestMODPMatchesMathBig checks the constant-time exponentiation against
// math/big's in every group: the public value g^x and the secret y^x,
// padded to the modulus length.
func TestMODPMatchesMathBig(t *testing.T) {
	for _, g := range allGroups {
		t.Run(fmt.Sprint(g), func(t *testing.T) {
			a, err := NewDHKey(g, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewDHKey(g, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			x := new(big.Int).SetBytes(a.x)
			if x.BitLen() != a.gp.privateBits {
				t.Errorf("exponent has %d bits, want %d", x.BitLen(), a.gp.privateBits)
			}
			if want := new(big.Int).Exp(a.gp.g, x, a.gp.p); want.Cmp(a.y) != 0 {
				t.Fatal("g^x differs from math/big's")
			}
			s, err := a.SharedSecret(b.PublicValue())
			if err != nil {
				t.Fatal(err)
			}
			want := new(big.Int).Exp(b.y, x, a.gp.p).FillBytes(make([]byte, (a.gp.p.BitLen()+7)/8))
			if !bytes.Equal(s, want) {
				t.Fatal("y^x differs from math/big's")
			}
		})
	}
}

// peerWithLeadingZero finds, from a fixed seed, a group-14 key pair whose
// shared secret has a zero top octet (about one pair in 256), the case RFC
// 4556 §3.2.3.1 rules on: "the leading zeros MUST be preserved".
func peerWithLeadingZero(t testing.TB) (a, b *DHKey, z *big.Int) {
	r := mrand.NewChaCha8([32]byte{'z', 'e', 'r', 'o'})
	a, err := NewDHKey(MODPGroup14, r)
	if err != nil {
		t.Fatal(err)
	}
	x := new(big.Int).SetBytes(a.x)
	for range 8192 {
		b, err := NewDHKey(MODPGroup14, r)
		if err != nil {
			t.Fatal(err)
		}
		if z := new(big.Int).Exp(b.y, x, a.gp.p); z.BitLen() <= 2048-8 {
			return a, b, z
		}
	}
	t.Fatal("no secret with a zero top octet in 8192 tries")
	return nil, nil, nil
}

// TestDH2048SecretLeadingZero: a group-14 secret whose top octet is zero is
// 256 octets on both sides, and both KDFs (octetstring2key and RFC 8636)
// take it whole: the key from the stripped form would differ.
func TestDH2048SecretLeadingZero(t *testing.T) {
	a, b, z := peerWithLeadingZero(t)
	kdc, err := a.SharedSecret(b.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	client, err := b.SharedSecret(a.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("secret %x… (%d octets; math/big's Bytes gives %d)", kdc[:4], len(kdc), len(z.Bytes()))
	if len(kdc) != 256 || kdc[0] != 0 || !bytes.Equal(kdc, client) {
		t.Fatalf("secrets %x… (%d octets) and %x… (%d octets), want equal, 256 octets, zero first", kdc[:4], len(kdc), client[:4], len(client))
	}
	if !bytes.Equal(kdc[256-len(z.Bytes()):], z.Bytes()) {
		t.Fatal("the padded secret is not the number")
	}
	padded, _ := OctetString2Key(kdc, nil, nil, 18)
	stripped, _ := OctetString2Key(z.Bytes(), nil, nil, 18)
	if bytes.Equal(padded.KeyValue, stripped.KeyValue) {
		t.Error("octetstring2key: padding made no difference")
	}
	p := KDFParams{KDF: KDFSHA256, EType: 18, Client: testInputs.Client, KDC: testInputs.KDC, ASReq: []byte{0x6a}, PKASRep: []byte{0xa0}}
	padded, _ = DeriveKey(kdc, p)
	stripped, _ = DeriveKey(z.Bytes(), p)
	if bytes.Equal(padded.KeyValue, stripped.KeyValue) {
		t.Error("RFC 8636 KDF: padding made no difference")
	}
}

// TestDHReplyLeadingZeroExchange: a whole KDC reply on that secret, the KDC
// reusing its key: the client's key from its own 256-octet secret is the KDC's.
func TestDHReplyLeadingZeroExchange(t *testing.T) {
	a, b, _ := peerWithLeadingZero(t)
	f := fixtures(t)
	ap := testAuthPack(t, b, []KDF{KDFSHA256})
	reply, err := BuildDHReply(DHReplyParams{AuthPack: ap, KDFs: []KDF{KDFSHA256}, EType: 18, KDFInputs: testInputs,
		Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader,
		ServerKey: func(*ClientPublic) (*DHKey, error) { return a, nil }, ServerKeyExpiration: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := b.SharedSecret(a.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReplyKeyFromSecret(secret, nil, nil, KDFParams{KDF: KDFSHA256, EType: 18, Client: testInputs.Client, KDC: testInputs.KDC, ASReq: testInputs.ASReq, PKASRep: reply.PKASRep})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.KeyValue, reply.ReplyKey.KeyValue) {
		t.Fatal("the client's reply key from the 256-octet secret differs from the KDC's")
	}
}

// expTiming times y^x for two exponents, interleaved so that the machine's
// drift falls on both alike, n samples each, in nanoseconds.
func expTiming(t testing.TB, n int, exp func(x []byte), x1, x2 []byte) (s1, s2 []float64) {
	for range n {
		for i, x := range [][]byte{x1, x2} {
			start := time.Now()
			exp(x)
			d := float64(time.Since(start).Nanoseconds())
			if i == 0 {
				s1 = append(s1, d)
			} else {
				s2 = append(s2, d)
			}
		}
	}
	return s1, s2
}

// welchT is Welch's t statistic of two samples. dudect reads |t| above 4.5
// as a timing difference; below it, none the samples show.
func welchT(a, b []float64) float64 {
	mean := func(s []float64) (m, v float64) {
		for _, x := range s {
			m += x
		}
		m /= float64(len(s))
		for _, x := range s {
			v += (x - m) * (x - m)
		}
		return m, v / float64(len(s)-1)
	}
	ma, va := mean(a)
	mb, vb := mean(b)
	return (ma - mb) / math.Sqrt(va/float64(len(a))+vb/float64(len(b)))
}

// cropped drops both samples' values above the pooled 90th percentile:
// preemptions and page faults of a busy machine, as dudect crops.
func cropped(a, b []float64) ([]float64, []float64) {
	pooled := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
	limit := pooled[len(pooled)*9/10]
	keep := func(s []float64) []float64 {
		return slices.DeleteFunc(slices.Clone(s), func(x float64) bool { return x > limit })
	}
	return keep(a), keep(b)
}

// heavyAndLight are the two 256-bit exponents the timing compares: every
// bit set, and only the top and bottom bits (the top one is always set).
func heavyAndLight() (heavy, light []byte) {
	heavy = bytes.Repeat([]byte{0xff}, 32)
	light = make([]byte, 32)
	light[0], light[31] = 0x80, 0x01
	return heavy, light
}

// dhTimingStats times group-14 secrets with the heavy and the light
// exponent, n samples each, with bigmod (as the KDC computes them) and with
// math/big (as it did before), and returns Welch's t of each, on cropped samples.
func dhTimingStats(t testing.TB, n int) (tBigmod, tMathBig float64) {
	heavy, light := heavyAndLight()
	peer, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &DHKey{group: MODPGroup14, gp: peer.gp}
	var last []byte
	h, l := expTiming(t, n, func(x []byte) {
		k.x = x
		last, err = k.modpSecret(peer.y)
		if err != nil {
			t.Fatal(err)
		}
	}, heavy, light)
	tBigmod = welchT(cropped(h, l))
	if want := new(big.Int).Exp(peer.y, new(big.Int).SetBytes(light), peer.gp.p); want.Cmp(new(big.Int).SetBytes(last)) != 0 {
		t.Fatal("the light exponent's secret differs from math/big's")
	}
	h, l = expTiming(t, n, func(x []byte) {
		new(big.Int).Exp(peer.y, new(big.Int).SetBytes(x), peer.gp.p)
	}, heavy, light)
	return tBigmod, welchT(cropped(h, l))
}

// TestDHSecretTimingByExponentWeight reports, and does not judge, Welch's t
// between exponents with 256 and with 2 set bits: speed is for benchmarks
// (BenchmarkDH2048SecretTiming reports the same with more samples). What it
// asserts is that both exponents give math/big's secret.
func TestDHSecretTimingByExponentWeight(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 20
	}
	tb, tm := dhTimingStats(t, n)
	t.Logf("Welch t over %d samples per exponent (|t| > 4.5: a difference; noise otherwise): bigmod %.2f, math/big %.2f", n, tb, tm)
}
