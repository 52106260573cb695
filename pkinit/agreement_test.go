package pkinit

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

// inSubgroupByExponent is the textbook check validateDHPublic replaced:
// 1 < y < p-1 and y^q ≡ 1 (mod p).
func inSubgroupByExponent(gp groupParams, y *big.Int) bool {
	pMinus1 := new(big.Int).Sub(gp.p, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return false
	}
	return new(big.Int).Exp(y, gp.q, gp.p).Cmp(big.NewInt(1)) == 0
}

var allGroups = []Group{MODPGroup2, MODPGroup14, MODPGroup16, MODPGroup18}

// TestMODPPrimesAreSafe backs the Jacobi-symbol check: it is equivalent to
// y^q ≡ 1 only when p and q = (p-1)/2 are both prime.
func TestMODPPrimesAreSafe(t *testing.T) {
	for _, g := range allGroups {
		gp, _ := g.params()
		if !gp.p.ProbablyPrime(0) || !gp.q.ProbablyPrime(0) {
			t.Errorf("group %d: p or (p-1)/2 is not prime", g)
		}
		if new(big.Int).Lsh(gp.q, 1).Add(new(big.Int).Lsh(gp.q, 1), big.NewInt(1)).Cmp(gp.p) != 0 {
			t.Errorf("group %d: p != 2q+1", g)
		}
	}
}

// TestValidateDHPublicMatchesExponent compares the Jacobi-symbol check with
// y^q mod p on crafted members and non-members of the prime-order subgroup
// and on random values, in every group.
func TestValidateDHPublicMatchesExponent(t *testing.T) {
	for _, g := range allGroups {
		gp, _ := g.params()
		// The reference exponentiation costs seconds in the 8192-bit group:
		// fewer values in the large groups.
		keys, randoms := 8, 64
		if gp.p.BitLen() > 2048 {
			keys, randoms = 2, 6
		}
		t.Run(fmt.Sprint(g), func(t *testing.T) {
			one := big.NewInt(1)
			pMinus := func(v *big.Int) *big.Int { return new(big.Int).Sub(gp.p, v) }
			type tc struct {
				name   string
				y      *big.Int
				member bool
			}
			cases := []tc{
				{"0", big.NewInt(0), false},
				{"1", one, false},
				{"p-1 (order 2)", pMinus(one), false},
				{"p", new(big.Int).Set(gp.p), false},
				{"p+1", new(big.Int).Add(gp.p, one), false},
				{"-1", big.NewInt(-1), false},
				{"g=2", big.NewInt(2), true},
				{"4", big.NewInt(4), true},
				// p ≡ 3 (mod 8) for none of these groups; p ≡ 7 (mod 8) makes
				// 2 a residue and -1 a non-residue, so -2 is not in the subgroup.
				{"p-2", pMinus(big.NewInt(2)), false},
				{"p-4", pMinus(big.NewInt(4)), false},
			}
			for i := range keys {
				k, err := NewDHKey(g, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				cases = append(cases,
					tc{fmt.Sprintf("g^x #%d", i), k.y, true},
					// Negating a member leaves the subgroup (-1 is a non-residue).
					tc{fmt.Sprintf("p-g^x #%d", i), pMinus(k.y), false},
					// A member times a non-residue is a non-residue.
					tc{fmt.Sprintf("(p-2)·g^x #%d", i), new(big.Int).Mod(new(big.Int).Mul(pMinus(big.NewInt(2)), k.y), gp.p), false},
				)
			}
			for i := range randoms {
				y, err := rand.Int(rand.Reader, gp.p)
				if err != nil {
					t.Fatal(err)
				}
				cases = append(cases, tc{fmt.Sprintf("random #%d", i), y, inSubgroupByExponent(gp, y)})
			}
			var members, others int
			for _, c := range cases {
				if got := inSubgroupByExponent(gp, c.y); got != c.member {
					t.Fatalf("%s: y^q ≡ 1 is %t, the case says %t", c.name, got, c.member)
				}
				err := validateDHPublic(gp, c.y)
				if (err == nil) != c.member {
					t.Errorf("%s: validateDHPublic = %v, member %t", c.name, err, c.member)
				}
				if err != nil && !errors.Is(err, ErrBadPublicValue) {
					t.Errorf("%s: %v is not ErrBadPublicValue", c.name, err)
				}
				if c.member {
					members++
				} else {
					others++
				}
			}
			if members < 2+keys || others < 5+2*keys {
				t.Errorf("only %d members and %d non-members tried", members, others)
			}
		})
	}
}

// TestSharedSecretRefusesNonMember checks the check is on the path a KDC
// and a client take: SharedSecret with a value outside the subgroup fails.
func TestSharedSecretRefusesNonMember(t *testing.T) {
	a, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := &DHKey{group: MODPGroup14, gp: b.gp, y: new(big.Int).Sub(b.gp.p, b.y)}
	if _, err := a.SharedSecret(bad.PublicValue()); !errors.Is(err, ErrBadPublicValue) {
		t.Fatalf("SharedSecret(p - y) = %v, want ErrBadPublicValue", err)
	}
	s1, err := a.SharedSecret(b.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.SharedSecret(a.PublicValue())
	if err != nil {
		t.Fatal(err)
	}
	if string(s1) != string(s2) {
		t.Fatal("the two sides disagree on the secret")
	}
}

// dhAndECDH are a MODP group and a curve, for tests that take one of each.
var dhAndECDH = []struct {
	group Group
	curve Curve
}{{group: MODPGroup14}, {curve: CurveP256}}

// TestForReuse: a key made for reuse gives the secret a fresh computation
// gives, for each peer in turn; answers a repeated peer from memory (one
// allocation, the caller's copy, where an exponentiation makes several);
// hands out copies the caller may clear; and remembers nothing of a
// refused value.
func TestForReuse(t *testing.T) {
	for _, kx := range dhAndECDH {
		mk := func() (*DHKey, error) { return NewAgreementKey(kx.curve, kx.group, rand.Reader) }
		k, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		reused := k.ForReuse()
		if !bytes.Equal(reused.PublicValue(), k.PublicValue()) {
			t.Fatal("ForReuse changed the key")
		}
		var peers []*DHKey
		for range 2 {
			p, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			peers = append(peers, p)
		}
		for _, p := range []*DHKey{peers[0], peers[0], peers[1], peers[0]} {
			want, err := p.SharedSecret(k.PublicValue())
			if err != nil {
				t.Fatal(err)
			}
			got, err := reused.SharedSecret(p.PublicValue())
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("reused key's secret %x, %v; want %x", got, err, want)
			}
			clear(got) // the caller's copy: the remembered secret must survive it
		}
		repeated := peers[0].PublicValue()
		if allocs := testing.AllocsPerRun(20, func() {
			if _, err := reused.SharedSecret(repeated); err != nil {
				t.Fatal(err)
			}
		}); allocs > 1 {
			t.Errorf("a repeated peer cost %v allocations: computed again, not remembered", allocs)
		}
		if _, err := reused.SharedSecret([]byte{0x02, 0x01, 0x01}); err == nil {
			t.Fatal("a refused value agreed")
		}
		want, _ := peers[0].SharedSecret(k.PublicValue())
		if got, err := reused.SharedSecret(peers[0].PublicValue()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after a refused value: %x, %v; want %x", got, err, want)
		}
	}
}
