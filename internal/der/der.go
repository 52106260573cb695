// Package der writes DER (X.690) into one growing buffer, opening and
// closing constructed elements around their contents, without an
// allocation per element.
//
// golang.org/x/crypto/cryptobyte's Builder takes each element's contents
// as a closure and allocates a child builder for it: in the KDC's replies,
// some 40 elements per AS-REP, that was a third of the allocations of a
// logon. Here an element's length is written when it is closed: one byte
// is set aside when it opens, and contents of 128 bytes or more are moved
// up to make room for the long form.
//
//	b := der.NewBuilder(buf)
//	b.Open(der.Application(11))
//	b.Open(der.Sequence)
//	b.Open(der.Explicit(0))
//	b.AddInt64(5)
//	b.Close()
//	...
//	out, err := b.Bytes()
//
// Only single-octet identifiers are written (tag numbers 0–30), which is
// every tag of RFC 4120 and RFC 4556.
package der

import (
	"errors"
	"fmt"
)

// Universal identifiers, and the classes' bits.
const (
	Integer         = 0x02
	BitString       = 0x03
	OctetString     = 0x04
	OID             = 0x06
	GeneralString   = 0x1b
	GeneralizedTime = 0x18
	Sequence        = 0x30
	Set             = 0x31

	constructed      = 0x20
	classContext     = 0x80
	classApplication = 0x40
)

// Explicit is the identifier of a constructed context-specific tag [n],
// n in 0–30.
func Explicit(n int) byte { return classContext | constructed | byte(n&0x1f) }

// Implicit is the identifier of a primitive context-specific tag [n].
func Implicit(n int) byte { return classContext | byte(n&0x1f) }

// Application is the identifier of a constructed [APPLICATION n], n in 0–30.
func Application(n int) byte { return classApplication | constructed | byte(n&0x1f) }

// maxDepth bounds the elements open at once; Kerberos nests some ten deep.
const maxDepth = 24

// Builder writes one DER encoding. Its zero value writes into a buffer of
// its own; NewBuilder starts it on a given one.
type Builder struct {
	buf   []byte
	open  [maxDepth]int // where each open element's contents start
	depth int
	err   error
}

// NewBuilder returns a Builder that appends to buf.
func NewBuilder(buf []byte) *Builder { return &Builder{buf: buf} }

// Open starts an element with the identifier octet id; its contents follow,
// until Close.
func (b *Builder) Open(id byte) {
	if b.err != nil {
		return
	}
	if id&0x1f == 0x1f {
		b.err = fmt.Errorf("der: identifier %#x needs more than one octet", id)
		return
	}
	if b.depth == maxDepth {
		b.err = errors.New("der: elements nested too deep")
		return
	}
	b.buf = append(b.buf, id, 0)
	b.open[b.depth] = len(b.buf)
	b.depth++
}

// Close ends the element opened last, writing its length.
func (b *Builder) Close() {
	if b.err != nil {
		return
	}
	if b.depth == 0 {
		b.err = errors.New("der: Close without Open")
		return
	}
	b.depth--
	start := b.open[b.depth]
	n := len(b.buf) - start
	if n < 0x80 {
		b.buf[start-1] = byte(n)
		return
	}
	if uint64(n) > 0xffffffff {
		b.err = errors.New("der: element longer than 4 GiB")
		return
	}
	k := lengthOctets(n)
	b.buf = append(b.buf, make([]byte, k)...)
	copy(b.buf[start+k:], b.buf[start:start+n])
	b.buf[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		b.buf[start+i] = byte(n)
		n >>= 8
	}
}

// lengthOctets is the number of octets of n's long-form length.
func lengthOctets(n int) int {
	k := 1
	for n > 0xff {
		n >>= 8
		k++
	}
	return k
}

// Add writes a primitive element: id, the length of contents, contents.
func (b *Builder) Add(id byte, contents []byte) {
	b.Open(id)
	b.AddBytes(contents)
	b.Close()
}

// AddString writes a primitive element whose contents are s's bytes.
func (b *Builder) AddString(id byte, s string) {
	b.Open(id)
	if b.err == nil {
		b.buf = append(b.buf, s...)
	}
	b.Close()
}

// AddBytes appends raw bytes: contents, or an element already encoded.
func (b *Builder) AddBytes(p []byte) {
	if b.err == nil {
		b.buf = append(b.buf, p...)
	}
}

// AddByte appends one raw byte.
func (b *Builder) AddByte(c byte) {
	if b.err == nil {
		b.buf = append(b.buf, c)
	}
}

// AddInt64 writes an INTEGER in the fewest octets of two's complement.
func (b *Builder) AddInt64(v int64) {
	b.Open(Integer)
	if b.err == nil {
		n := 1
		for x := v; x > 127 || x < -128; x >>= 8 {
			n++
		}
		for i := n - 1; i >= 0; i-- {
			b.buf = append(b.buf, byte(v>>(8*uint(i))))
		}
	}
	b.Close()
}

// SetError makes Bytes fail with err, unless it already fails.
func (b *Builder) SetError(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Bytes returns the encoding, or the first error; every element must have
// been closed.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.depth != 0 {
		return nil, fmt.Errorf("der: %d elements left open", b.depth)
	}
	return b.buf, nil
}
