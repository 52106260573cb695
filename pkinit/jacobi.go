package pkinit

import (
	"math/big"
	"math/bits"
)

// jacobi is the Jacobi symbol (x/n) for 0 ≤ x < n, n odd. The binary
// algorithm (a subtraction and a shift over all the words per step) cost
// about 2×bitlength passes, a tenth of a KDC's exchange in the subgroup
// check of a client's value; big.Jacobi divides at every step and
// allocates at each. This runs "posdivsteps" instead: the divsteps of
// Bernstein and Yang ("Fast constant-time gcd computation and modular
// inversion", ePrint 2019/266) with g+f for g-f, so both numbers stay
// non-negative and the symbol follows from their low bits alone, as in
// libsecp256k1's secp256k1_jacobi64_maybe_var. Batches of steps run on the
// low words, exact, and one pass per batch applies their matrix to the
// whole numbers. Both operands are public (the peer's value, the group's
// prime): the running time may depend on them.
func jacobi(x, n *big.Int) int {
	return jacobiWords(x.Bits(), n.Bits(), jacobiBatches(n.BitLen()))
}

// jacobiBatches bounds the batches of posdivsteps, which are not proven to
// reach their end in a bounded number of steps as divsteps are: about
// 3×bitlength steps do for random inputs (TestJacobiBatches), and after
// four times that the binary algorithm finishes, so jacobi ends for every
// input, on inputs that defeat posdivsteps a few times slower at worst.
func jacobiBatches(bitLen int) int {
	return 8 + 12*bitLen/stepsPerBatch
}

// stepsPerBatch posdivsteps run on the low words: two bits more stay exact
// than the steps halve away, enough for f mod 8 at the last step.
const stepsPerBatch = bits.UintSize - 2

// jacobiWords is (x/n) for the words of x < n, n odd, by at most batches
// batches of posdivsteps, then the binary algorithm. The invariant is
// (x/n) = (-1)^t (g/f) for f odd, g ≥ 0; f = g ends it, with 1 or 0 as
// gcd(x, n) = f is 1 or not. g is never 0 past the start.
func jacobiWords(x, n []big.Word, batches int) int {
	n = trimWords(n)
	buf := make([]big.Word, 2*len(n))
	f, g := buf[:len(n)], buf[len(n):]
	copy(f, n)
	copy(g, trimWords(x))
	if len(trimWords(g)) == 0 {
		return jacobiEnd(f, 1)
	}
	delta, t := 1, uint(0)
	for ; batches > 0; batches-- {
		if cmpWords(f, g) == 0 {
			return jacobiEnd(trimWords(f), 1-2*int(t&1))
		}
		var m posMatrix
		m, delta, t = posdivsteps(delta, uint(f[0]), uint(g[0]), t)
		applyPosMatrix(f, g, m)
		l := len(f)
		for l > 1 && f[l-1] == 0 && g[l-1] == 0 {
			l--
		}
		f, g = f[:l], g[:l]
	}
	return jacobiBinary(trimWords(g), trimWords(f), 1-2*int(t&1))
}

// posMatrix is 2^stepsPerBatch times the transition of a batch of
// posdivsteps: f' = (u f + v g) / 2^stepsPerBatch, g' = (q f + r g) / 2^…;
// its entries are non-negative and each row sums to at most 2^stepsPerBatch.
type posMatrix struct{ u, v, q, r uint }

// posdivsteps runs stepsPerBatch posdivsteps on the low words f (odd) and g
// of the numbers, as libsecp256k1's secp256k1_modinv64_posdivsteps_62_var:
// with δ > 0 and g odd, (δ, f, g) → (1-δ, g, (g+f)/2), else (1+δ, f,
// (g + (g mod 2) f)/2). The runs of halvings of g are taken at once, and
// up to 6 steps without a swap as g + w·f for the w that zeroes their bits.
// t flips by (2/f) = -1 (f ≡ 3, 5 mod 8) at each halving and by quadratic
// reciprocity (f ≡ g ≡ 3 mod 4) at each swap; adding f to g keeps (g/f).
// After j halvings 2+(stepsPerBatch-j) low bits of f and g are exact.
func posdivsteps(delta int, f, g uint, t uint) (posMatrix, int, uint) {
	u, v, q, r := uint(1), uint(0), uint(0), uint(1)
	i := stepsPerBatch
	for {
		// A sentinel bit stops the count of halvings at the i left.
		zeros := bits.TrailingZeros(g | ^uint(0)<<uint(i))
		g >>= uint(zeros)
		u <<= uint(zeros)
		v <<= uint(zeros)
		delta += zeros
		i -= zeros
		t ^= uint(zeros) & (f>>1 ^ f>>2)
		if i == 0 {
			return posMatrix{u, v, q, r}, delta, t
		}
		// g is odd.
		if delta > 0 {
			f, g = g, f
			u, v, q, r = q, r, u, v
			delta = -delta
			t ^= f & g >> 1
		}
		// δ ≤ 0: the next 1-δ steps (and at most i) swap nothing.
		limit := min(1-delta, i, 6)
		inv := f * (2 - f*f) // f⁻¹ mod 2^6 by Newton from f⁻¹ ≡ f mod 8
		w := -g * inv & (1<<uint(limit) - 1)
		g += w * f
		q += w * u
		r += w * v
	}
}

// applyPosMatrix sets f, g = (u f + v g) / 2^stepsPerBatch, (q f + r g) /
// 2^stepsPerBatch in place, in one pass: the divisions are exact and the
// results no larger than the larger of f and g, which have one length.
func applyPosMatrix(f, g []big.Word, m posMatrix) {
	const s = stepsPerBatch
	var fc, gc, fPrev, gPrev uint // carries above the word; low words of the sums
	for i := range f {
		fi, gi := uint(f[i]), uint(g[i])
		fLo, fHi := mulAdd2(m.u, fi, m.v, gi, fc)
		gLo, gHi := mulAdd2(m.q, fi, m.r, gi, gc)
		if i > 0 {
			f[i-1] = big.Word(fPrev>>s | fLo<<(bits.UintSize-s))
			g[i-1] = big.Word(gPrev>>s | gLo<<(bits.UintSize-s))
		}
		fPrev, gPrev, fc, gc = fLo, gLo, fHi, gHi
	}
	f[len(f)-1] = big.Word(fPrev>>s | fc<<(bits.UintSize-s))
	g[len(g)-1] = big.Word(gPrev>>s | gc<<(bits.UintSize-s))
}

// mulAdd2 is a·x + b·y + c as low and high words; a + b ≤ 2^stepsPerBatch
// and c < 2^(UintSize-1) keep it within two words.
func mulAdd2(a, x, b, y, c uint) (lo, hi uint) {
	h1, l1 := bits.Mul(a, x)
	h2, l2 := bits.Mul(b, y)
	lo, k := bits.Add(l1, l2, 0)
	hi = h1 + h2 + k
	lo, k = bits.Add(lo, c, 0)
	return lo, hi + k
}

// jacobiBinary is (a/b) times t for a > 0 and b odd, both trimmed and
// overwritten, by the binary algorithm on the words in place: each step
// subtracts and shifts out the difference's factors of 2 in one pass.
func jacobiBinary(a, b []big.Word, t int) int {
	// Make a odd, as every later step keeps it: (2/b) is -1 for b ≡ 3, 5
	// (mod 8).
	z := trailingZeroBits(a)
	a = shiftRightWords(a, z)
	if z&1 == 1 && (b[0]&7 == 3 || b[0]&7 == 5) {
		t = -t
	}
	for {
		// Both odd: a ≥ b by reciprocity when swapping, then
		// (a/b) = ((a-b)/b) and the factors of 2 of a-b taken out.
		c := cmpWords(a, b)
		if c == 0 {
			// a = b: gcd(x, n) = b, 1 only if b is.
			return jacobiEnd(b, t)
		}
		if c < 0 {
			a, b = b, a
			if a[0]&3 == 3 && b[0]&3 == 3 {
				t = -t
			}
		}
		var z uint
		a, z = subShiftWords(a, b)
		if z&1 == 1 && (b[0]&7 == 3 || b[0]&7 == 5) {
			t = -t
		}
	}
}

// jacobiEnd is the symbol once a is 0 or equal to b: t if b is 1, else 0.
func jacobiEnd(b []big.Word, t int) int {
	if len(b) == 1 && b[0] == 1 {
		return t
	}
	return 0
}

// subShiftWords sets a = (a - b) / 2^z for a > b, both odd and trimmed, z
// the number of factors of 2 of a - b, in one pass where the low word of
// the difference tells z, else in two. It returns a trimmed, and z.
func subShiftWords(a, b []big.Word) ([]big.Word, uint) {
	d0 := a[0] - b[0] // no borrow into the lowest word
	if d0 == 0 {
		subWords(a, b)
		a = trimWords(a)
		z := trailingZeroBits(a)
		return shiftRightWords(a, z), z
	}
	z := uint(bits.TrailingZeros(uint(d0)))
	_, borrow := bits.Sub(uint(a[0]), uint(b[0]), 0)
	prev, up := uint(d0), bits.UintSize-z
	b = b[:len(b):len(b)]
	a1 := a[1:len(b)]
	for i, bw := range b[1:] {
		var d uint
		d, borrow = bits.Sub(uint(a1[i]), uint(bw), borrow)
		a[i] = big.Word(prev>>z | d<<up)
		prev = d
	}
	for i := len(b); i < len(a); i++ {
		var d uint
		d, borrow = bits.Sub(uint(a[i]), 0, borrow)
		a[i-1] = big.Word(prev>>z | d<<up)
		prev = d
	}
	a[len(a)-1] = big.Word(prev >> z)
	return trimWords(a), z
}

func trimWords(a []big.Word) []big.Word {
	for len(a) > 0 && a[len(a)-1] == 0 {
		a = a[:len(a)-1]
	}
	return a
}

// trailingZeroBits of a non-zero trimmed a.
func trailingZeroBits(a []big.Word) uint {
	var n uint
	for _, w := range a {
		if w != 0 {
			return n + uint(bits.TrailingZeros(uint(w)))
		}
		n += bits.UintSize
	}
	return n
}

// shiftRightWords shifts a right by s bits in place and returns it trimmed.
func shiftRightWords(a []big.Word, s uint) []big.Word {
	words, s := int(s/bits.UintSize), s%bits.UintSize
	if words > 0 {
		copy(a, a[words:])
		a = a[:len(a)-words]
	}
	if s > 0 {
		for i := range len(a) - 1 {
			a[i] = a[i]>>s | a[i+1]<<(bits.UintSize-s)
		}
		a[len(a)-1] >>= s
	}
	return trimWords(a)
}

// cmpWords compares trimmed a and b.
func cmpWords(a, b []big.Word) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// subWords sets a = a - b for a ≥ b.
func subWords(a, b []big.Word) {
	var borrow uint
	for i := range a {
		var bi uint
		if i < len(b) {
			bi = uint(b[i])
		}
		d, c := bits.Sub(uint(a[i]), bi, borrow)
		a[i], borrow = big.Word(d), c
	}
}
