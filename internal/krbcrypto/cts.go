package krbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// RFC 3962 §5 encrypts with AES in CBC mode with a zero IV and ciphertext
// stealing on the last two blocks, always, even when the data fills its
// last block: the output is as long as the input, its last two blocks
// swapped, the final one cut to the length of the last input block. The
// data is at least one block long; the confounder sees to that.

// ctsEncrypt encrypts buf, at least one block long, in place.
func ctsEncrypt(b cipher.Block, buf []byte) {
	if len(buf) == aes.BlockSize {
		b.Encrypt(buf, buf)
		return
	}
	// head is every block before the last, which has tail bytes (1 to 16).
	head := (len(buf) - 1) / aes.BlockSize * aes.BlockSize
	tail := len(buf) - head
	var zero [aes.BlockSize]byte
	cipher.NewCBCEncrypter(b, zero[:]).CryptBlocks(buf[:head], buf[:head])
	var prev, last [aes.BlockSize]byte
	copy(prev[:], buf[head-aes.BlockSize:head])
	copy(last[:], buf[head:]) // zero padded
	subtle.XORBytes(last[:], last[:], prev[:])
	b.Encrypt(last[:], last[:])
	copy(buf[head-aes.BlockSize:head], last[:])
	copy(buf[head:], prev[:tail])
}

// ctsDecrypt decrypts buf, at least one block long, in place.
func ctsDecrypt(b cipher.Block, buf []byte) {
	if len(buf) == aes.BlockSize {
		b.Decrypt(buf, buf)
		return
	}
	head := (len(buf) - 1) / aes.BlockSize * aes.BlockSize
	tail := len(buf) - head
	// The block before the cut one decrypts to the zero-padded last
	// plaintext block XORed with the stolen ciphertext block, whose first
	// tail bytes were sent and whose rest that decryption gives back.
	var mixed, stolen, last [aes.BlockSize]byte
	b.Decrypt(mixed[:], buf[head-aes.BlockSize:head])
	copy(stolen[:], buf[head:])
	copy(stolen[tail:], mixed[tail:])
	subtle.XORBytes(last[:tail], mixed[:tail], stolen[:tail])
	copy(buf[head-aes.BlockSize:head], stolen[:])
	var zero [aes.BlockSize]byte
	cipher.NewCBCDecrypter(b, zero[:]).CryptBlocks(buf[:head], buf[:head])
	copy(buf[head:], last[:tail])
	clear(mixed[:])
	clear(last[:])
}
