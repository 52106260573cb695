package krbcrypto

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3961"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3962"
)

// readVectors returns the fields of each line of a testdata file that is
// neither blank nor a comment.
func readVectors(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Fields(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNfoldRFC3961: RFC 3961 Appendix A.1's n-fold vectors.
func TestNfoldRFC3961(t *testing.T) {
	vectors := readVectors(t, "rfc3961-nfold.txt")
	if len(vectors) != 11 {
		t.Fatalf("%d n-fold vectors, want 11", len(vectors))
	}
	for _, v := range vectors {
		bits, err := strconv.Atoi(v[0])
		if err != nil || bits%8 != 0 {
			t.Fatalf("bad size %q", v[0])
		}
		if got := hex.EncodeToString(nfold(unhex(t, v[1]), bits/8)); got != v[2] {
			t.Errorf("%d-fold(%s) = %s, want %s", bits, v[1], got, v[2])
		}
	}
}

// TestFoldedConstantMatchesGokrb5: the kept n-folded usage constants are
// gokrb5's, for every kind of derived key.
func TestFoldedConstantMatchesGokrb5(t *testing.T) {
	for _, usage := range []uint32{0, 1, 2, 3, 7, 8, 11, 12, 17, 25, 514, 1 << 31, 0xffffffff} {
		for _, kind := range []byte{kindKe, kindKi, kindKc} {
			c := usageConstant(usage, kind)
			for range 2 { // the second reads the kept value
				if got, want := foldedConstant(c)[:], rfc3961.Nfold(c[:], 128); !bytes.Equal(got, want) {
					t.Fatalf("usage %d kind %#x: %x, gokrb5 %x", usage, kind, got, want)
				}
			}
		}
	}
}

// TestCTSRFC3962: RFC 3962 Appendix B's AES-CTS vectors, both ways; the
// "next IV" of each is the block the last input block encrypted to.
func TestCTSRFC3962(t *testing.T) {
	vectors := readVectors(t, "rfc3962-aes-cts.txt")
	if len(vectors) != 7 || vectors[0][0] != "key" {
		t.Fatalf("malformed vector file: %d lines", len(vectors))
	}
	block, err := aes.NewCipher(unhex(t, vectors[0][1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors[1:] {
		in, want, nextIV := unhex(t, v[0]), unhex(t, v[1]), unhex(t, v[2])
		buf := bytes.Clone(in)
		ctsEncrypt(block, buf)
		if !bytes.Equal(buf, want) {
			t.Errorf("%d bytes: encrypted to %x, want %x", len(in), buf, want)
		}
		head := (len(in) - 1) / aes.BlockSize * aes.BlockSize
		if got := buf[head-aes.BlockSize : head]; !bytes.Equal(got, nextIV) {
			t.Errorf("%d bytes: last block encrypted to %x, want %x", len(in), got, nextIV)
		}
		ctsDecrypt(block, buf)
		if !bytes.Equal(buf, in) {
			t.Errorf("%d bytes: decrypted to %x, want %x", len(in), buf, in)
		}
	}
}

// TestCTSMatchesGokrb5: every length from one block to five, against
// gokrb5's AES-CTS.
func TestCTSMatchesGokrb5(t *testing.T) {
	et, err := crypto.GetEtype(AES256)
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{0x3c}, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for n := aes.BlockSize; n <= 5*aes.BlockSize; n++ {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i*7 + n)
		}
		_, want, err := rfc3962.EncryptData(key, plain, et)
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.Clone(plain)
		ctsEncrypt(block, buf)
		if !bytes.Equal(buf, want) {
			t.Fatalf("%d bytes: %x, gokrb5 %x", n, buf, want)
		}
		ctsDecrypt(block, buf)
		if !bytes.Equal(buf, plain) {
			t.Fatalf("%d bytes: decrypted to %x", n, buf)
		}
	}
}
