package pkinit

import (
	"math/big"
	"math/bits"
)

// jacobi is the Jacobi symbol (x/n) for 0 ≤ x < n, n odd, by the binary
// algorithm on the words in place: subtractions and shifts where
// big.Jacobi divides at every step and allocates at each, which made the
// subgroup check of a client's value a tenth of a KDC's exchange. Both
// operands are public (the peer's value, the group's prime): the running
// time may depend on them.
func jacobi(x, n *big.Int) int {
	a := append([]big.Word(nil), x.Bits()...)
	b := append([]big.Word(nil), n.Bits()...)
	t := 1
	for {
		a = trimWords(a)
		if len(a) == 0 {
			break
		}
		// Take out the factors of 2: (2/b) is -1 for b ≡ 3, 5 (mod 8).
		z := trailingZeroBits(a)
		a = shiftRightWords(a, z)
		if z&1 == 1 {
			if m := b[0] & 7; m == 3 || m == 5 {
				t = -t
			}
		}
		// Both odd: reciprocity when swapping, then a - b ≡ a (mod b).
		if cmpWords(a, b) < 0 {
			a, b = b, a
			if a[0]&3 == 3 && b[0]&3 == 3 {
				t = -t
			}
		}
		subWords(a, b)
	}
	if len(b) == 1 && b[0] == 1 {
		return t
	}
	return 0 // gcd(x, n) > 1
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
