package pkinit

import (
	"crypto/rand"
	"fmt"
	"math/big"
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
