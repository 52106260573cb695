package pkinit

import (
	"math/big"
	"math/bits"
)

// jacobi is the Jacobi symbol (x/n) for 0 ≤ x < n, n odd, by the binary
// algorithm on the words in place: subtractions and shifts where
// big.Jacobi divides at every step and allocates at each, which made the
// subgroup check of a client's value a tenth of a KDC's exchange. Each step
// subtracts and shifts out the difference's factors of 2 in one pass over
// the words. Both operands are public (the peer's value, the group's
// prime): the running time may depend on them.
func jacobi(x, n *big.Int) int {
	a := trimWords(append([]big.Word(nil), x.Bits()...))
	b := trimWords(append([]big.Word(nil), n.Bits()...))
	t := 1
	if len(a) == 0 {
		return jacobiEnd(b, t)
	}
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
