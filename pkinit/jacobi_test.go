package pkinit

import (
	"crypto/rand"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

// TestJacobiMatchesMathBig: the binary Jacobi symbol agrees with big.Jacobi
// on every x < n for the small odd n, and on random and edge values modulo
// each MODP prime and modulo odd composites of their size.
func TestJacobiMatchesMathBig(t *testing.T) {
	for n := int64(1); n < 300; n += 2 {
		for x := int64(0); x < n; x++ {
			if got, want := jacobi(big.NewInt(x), big.NewInt(n)), big.Jacobi(big.NewInt(x), big.NewInt(n)); got != want {
				t.Fatalf("(%d/%d) = %d, want %d", x, n, got, want)
			}
		}
	}
	moduli := []*big.Int{}
	for _, g := range allGroups {
		gp, _ := g.params()
		moduli = append(moduli, gp.p)
	}
	for _, bitLen := range []int{65, 128, 2048} {
		c, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bitLen)))
		moduli = append(moduli, c.SetBit(c, 0, 1).SetBit(c, bitLen-1, 1)) // odd, probably composite
	}
	for _, n := range moduli {
		t.Run(fmt.Sprint(n.BitLen()), func(t *testing.T) {
			one := big.NewInt(1)
			xs := []*big.Int{big.NewInt(0), one, big.NewInt(2), new(big.Int).Sub(n, one), new(big.Int).Sub(n, big.NewInt(2)),
				new(big.Int).Rsh(n, 1), new(big.Int).Lsh(one, uint(n.BitLen()-1)), new(big.Int).Lsh(one, 64), new(big.Int).Lsh(one, 63)}
			for range 200 {
				x, _ := rand.Int(rand.Reader, n)
				xs = append(xs, x)
			}
			for _, x := range xs {
				if x.Cmp(n) >= 0 {
					continue
				}
				if got, want := jacobi(x, n), big.Jacobi(x, n); got != want {
					t.Fatalf("(%x / %d-bit n) = %d, want %d", x, n.BitLen(), got, want)
				}
			}
		})
	}
}

// jacobiRandomPair is a random odd n and x < n of random lengths up to
// maxBits, with the shapes that catch carries and early ends: runs of zero
// or one bits, n-1, small x, common factors, n a square times a factor.
func jacobiRandomPair(r *mrand.Rand, maxBits int) (x, n *big.Int) {
	randBits := func(k int) *big.Int {
		v := new(big.Int)
		for v.BitLen() < k {
			v.Lsh(v, 63).Or(v, new(big.Int).SetUint64(r.Uint64()>>1))
		}
		return v.Rsh(v, uint(v.BitLen()-k))
	}
	runs := func(k int) *big.Int { // long runs of equal bits
		v := new(big.Int)
		for v.BitLen() < k {
			run := 1 + r.IntN(200)
			v.Lsh(v, uint(run))
			if r.IntN(2) == 1 {
				v.Or(v, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(run)), big.NewInt(1)))
			}
			if v.Sign() == 0 {
				v.SetInt64(1)
			}
		}
		return v
	}
	pick := func(k int) *big.Int {
		if r.IntN(3) == 0 {
			return runs(k)
		}
		return randBits(k)
	}
	nBits := 1 + r.IntN(maxBits)
	switch r.IntN(5) {
	case 0: // a square times a factor
		s := pick(1 + r.IntN((nBits+1)/2))
		n = new(big.Int).Mul(s, s)
		n.Mul(n, pick(1+r.IntN(max(1, nBits-s.BitLen()*2+1))))
	default:
		n = pick(nBits)
	}
	n.SetBit(n, 0, 1)
	switch r.IntN(8) {
	case 0:
		x = new(big.Int).Sub(n, big.NewInt(1))
	case 1: // shares a factor with n
		d := new(big.Int).Rsh(n, uint(r.IntN(n.BitLen())))
		if d.Sign() == 0 || new(big.Int).Mod(n, d).Sign() != 0 {
			d = new(big.Int).GCD(nil, nil, n, pick(1+r.IntN(nBits)))
		}
		x = new(big.Int).Mul(d, pick(1+r.IntN(nBits)))
	default:
		x = pick(1 + r.IntN(nBits))
	}
	return x.Mod(x, n), n
}

// TestJacobiRandom holds jacobi to big.Jacobi on 2,000 random pairs of up
// to 8192 bits and 4,000 of up to 300, shapes as jacobiRandomPair, from a
// new seed each run (printed on a failure); FuzzJacobiMatchesMathBig
// searches further.
func TestJacobiRandom(t *testing.T) {
	var seed [32]byte
	rand.Read(seed[:])
	r := mrand.New(mrand.NewChaCha8(seed))
	for i := range 6000 {
		x, n := jacobiRandomPair(r, []int{8192, 300, 300}[i%3])
		if got, want := jacobi(x, n), big.Jacobi(x, n); got != want {
			t.Fatalf("seed %x: (%x / %x) = %d, want %d", seed, x, n, got, want)
		}
	}
}

// TestJacobiFallback holds jacobiWords to big.Jacobi when it has too few
// batches of posdivsteps and the binary algorithm finishes.
func TestJacobiFallback(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range 4000 {
		x, n := jacobiRandomPair(r, 1000)
		if got, want := jacobiWords(x.Bits(), n.Bits(), i%40), big.Jacobi(x, n); got != want {
			t.Fatalf("%d batches: (%x / %x) = %d, want %d", i%40, x, n, got, want)
		}
	}
}

// TestJacobiBatches: random values modulo the MODP primes end well within
// jacobiBatches, so the binary algorithm is only a guard.
func TestJacobiBatches(t *testing.T) {
	for _, g := range allGroups {
		gp, _ := g.params()
		limit := jacobiBatches(gp.p.BitLen())
		worst, sum := 0, 0
		for range 200 {
			x, _ := rand.Int(rand.Reader, gp.p)
			b := posBatchesUsed(x, gp.p)
			worst, sum = max(worst, b), sum+b
		}
		t.Logf("%d bits: %d batches of %d steps at most, mean %.1f, limit %d", gp.p.BitLen(), worst, stepsPerBatch, float64(sum)/200, limit)
		if 2*worst > limit {
			t.Errorf("%d bits: %d batches, limit %d", gp.p.BitLen(), worst, limit)
		}
	}
}

// posBatchesUsed is the number of batches of posdivsteps jacobiWords runs
// on x < n before f = g.
func posBatchesUsed(x, n *big.Int) int {
	f := append([]big.Word(nil), n.Bits()...)
	g := make([]big.Word, len(f))
	copy(g, x.Bits())
	delta, t := 1, uint(0)
	for b := 0; ; b++ {
		if cmpWords(f, g) == 0 {
			return b
		}
		var m posMatrix
		m, delta, t = posdivsteps(delta, uint(f[0]), uint(g[0]), t)
		applyPosMatrix(f, g, m)
	}
}

// FuzzJacobiMatchesMathBig holds jacobi to big.Jacobi on x and n from the
// fuzzer's bytes, made odd and reduced: every input is a case.
func FuzzJacobiMatchesMathBig(f *testing.F) {
	gp, _ := MODPGroup14.params()
	f.Add([]byte{5}, []byte{7})
	f.Add(new(big.Int).Sub(gp.p, big.NewInt(2)).Bytes(), gp.p.Bytes())
	f.Add([]byte{0}, []byte{1})
	f.Fuzz(func(t *testing.T, xb, nb []byte) {
		n := new(big.Int).SetBytes(nb)
		n.SetBit(n, 0, 1)
		x := new(big.Int).SetBytes(xb)
		x.Mod(x, n)
		if got, want := jacobi(x, n), big.Jacobi(x, n); got != want {
			t.Fatalf("(%x / %x) = %d, want %d", x, n, got, want)
		}
	})
}

// jacobiBinaryOnly is jacobi as it was, the binary algorithm alone, for
// BenchmarkJacobiBinaryVsNew.
func jacobiBinaryOnly(x, n *big.Int) int {
	a := trimWords(append([]big.Word(nil), x.Bits()...))
	b := trimWords(append([]big.Word(nil), n.Bits()...))
	if len(a) == 0 {
		return jacobiEnd(b, 1)
	}
	return jacobiBinary(a, b, 1)
}

// BenchmarkJacobiBinaryVsNew times the binary algorithm and jacobi side by
// side on random values modulo the MODP primes of 2048 to 8192 bits.
func BenchmarkJacobiBinaryVsNew(b *testing.B) {
	for _, g := range []Group{MODPGroup14, MODPGroup16, MODPGroup18} {
		gp, _ := g.params()
		x, _ := rand.Int(rand.Reader, gp.p)
		for _, impl := range []struct {
			name string
			f    func(x, n *big.Int) int
		}{{"binary", jacobiBinaryOnly}, {"posdivsteps", jacobi}} {
			b.Run(fmt.Sprintf("%d/%s", gp.p.BitLen(), impl.name), func(b *testing.B) {
				for b.Loop() {
					impl.f(x, gp.p)
				}
			})
		}
	}
}
