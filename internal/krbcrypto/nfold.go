package krbcrypto

import (
	"crypto/aes"
	"encoding/binary"
	"sync"
)

// Kinds of derived key, the last byte of a key usage constant (RFC 3961
// §5.3).
const (
	kindKe byte = 0xAA // encryption
	kindKi byte = 0x55 // integrity of a ciphertext
	kindKc byte = 0x99 // checksum
)

// usageConstant is the constant a key of kind is derived with for usage:
// the usage number, big-endian, then the kind (RFC 3961 §5.3).
func usageConstant(usage uint32, kind byte) [5]byte {
	var c [5]byte
	binary.BigEndian.PutUint32(c[:], usage)
	c[4] = kind
	return c
}

// folded holds nfold(constant, 128 bits) by usage constant. The constants
// are public and come from the few usages the callers name, never from the
// wire, so the map stays small.
var folded sync.Map // [5]byte → *[aes.BlockSize]byte

// foldedConstant is the usage constant c n-folded to the AES block size,
// the input of DR (RFC 3961 §5.1), computed on first use.
func foldedConstant(c [5]byte) *[aes.BlockSize]byte {
	if v, ok := folded.Load(c); ok {
		return v.(*[aes.BlockSize]byte)
	}
	b := (*[aes.BlockSize]byte)(nfold(c[:], aes.BlockSize))
	v, _ := folded.LoadOrStore(c, b)
	return v.(*[aes.BlockSize]byte)
}

// nfold is RFC 3961 §5.1's n-fold of in (not empty) to n bytes: in is
// repeated up to the least common multiple of the two lengths, each
// repetition rotated 13 bits further right than the one before, and the
// result is cut into n-byte pieces that are added with ones'-complement
// (end-around carry) addition.
func nfold(in []byte, n int) []byte {
	bits := len(in) * 8
	total := lcm(len(in), n)
	rep := make([]byte, total)
	for i := range total / len(in) {
		rot := 13 * i
		for j := range bits {
			src := ((j-rot)%bits + bits) % bits
			if in[src/8]&(0x80>>(src%8)) != 0 {
				rep[i*len(in)+j/8] |= 0x80 >> (j % 8)
			}
		}
	}
	out := make([]byte, n)
	for off := 0; off < total; off += n {
		addOnesComplement(out, rep[off:off+n])
	}
	return out
}

// addOnesComplement adds x to sum, both big-endian of one length, carrying
// out of the top byte back into the bottom one.
func addOnesComplement(sum, x []byte) {
	carry := 0
	for i := len(sum) - 1; i >= 0; i-- {
		v := int(sum[i]) + int(x[i]) + carry
		sum[i], carry = byte(v), v>>8
	}
	for carry != 0 {
		for i := len(sum) - 1; i >= 0 && carry != 0; i-- {
			v := int(sum[i]) + carry
			sum[i], carry = byte(v), v>>8
		}
	}
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}
