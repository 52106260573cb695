// Package der writes DER (X.690) without an allocation per element, in
// one of two ways:
//
//   - the Append functions, when each element's size is known before it is
//     written (Size, ExplicitSize, IntSize): the pkinit reply messages are
//     written so, once, into a buffer of their exact size;
//   - a Builder, when it is not: elements are opened and closed around
//     their contents, and a length is written when its element closes.
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
// Identifiers are cryptobyte's asn1.Tag, as the decoders read them. Only
// single-octet identifiers are written (tag numbers 0–30), which is every
// tag of RFC 4120 and RFC 4556.
package der

import (
	"errors"
	"fmt"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Universal identifiers, under the names used here; GeneralString is one
// cryptobyte's asn1 package does not name.
const (
	Integer         = cbasn1.INTEGER
	BitString       = cbasn1.BIT_STRING
	OctetString     = cbasn1.OCTET_STRING
	GeneralizedTime = cbasn1.GeneralizedTime
	Sequence        = cbasn1.SEQUENCE
	GeneralString   = cbasn1.Tag(27)
)

// Explicit is the identifier of a constructed context-specific tag [n],
// n in 0–30.
func Explicit(n int) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

// Application is the identifier of a constructed [APPLICATION n], n in 0–30.
func Application(n int) cbasn1.Tag { return cbasn1.Tag(n).Constructed() | 0x40 }

// Size is the size of a DER element with n content octets.
func Size(n int) int { return 1 + lengthSize(n) + n }

// ExplicitSize is the size of an [n] EXPLICIT tag around one element with
// n content octets.
func ExplicitSize(n int) int { return Size(Size(n)) }

// lengthSize is the number of octets of the DER length n: one for the
// short form, else one and those of n.
func lengthSize(n int) int {
	k := 1
	if n >= 0x80 {
		for ; n > 0; n >>= 8 {
			k++
		}
	}
	return k
}

// AppendHeader appends an identifier octet and the DER length n.
func AppendHeader(b []byte, id cbasn1.Tag, n int) []byte {
	return appendLength(append(b, byte(id)), n)
}

// appendLength appends the DER length n: short form below 128, else the
// long form in the fewest octets.
func appendLength(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	k := lengthSize(n) - 1
	b = append(b, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// AppendElement appends a whole primitive element.
func AppendElement(b []byte, id cbasn1.Tag, contents []byte) []byte {
	return append(AppendHeader(b, id, len(contents)), contents...)
}

// IntSize is the number of content octets of INTEGER v: the shortest two's
// complement.
func IntSize(v int64) int {
	n := 1
	for ; v > 127 || v < -128; v >>= 8 {
		n++
	}
	return n
}

// AppendInt appends INTEGER v.
func AppendInt(b []byte, v int64) []byte {
	n := IntSize(v)
	b = AppendHeader(b, Integer, n)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

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
func (b *Builder) Open(id cbasn1.Tag) {
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
	b.buf = append(b.buf, byte(id), 0)
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
	// Room for the long form's octets after the one set aside.
	k := lengthSize(n) - 1
	b.buf = append(b.buf, make([]byte, k)...)
	copy(b.buf[start+k:], b.buf[start:start+n])
	_ = appendLength(b.buf[:start-1], n) // in place, over the octets set aside
}

// Add writes a primitive element: id, the length of contents, contents.
func (b *Builder) Add(id cbasn1.Tag, contents []byte) {
	b.Open(id)
	b.AddBytes(contents)
	b.Close()
}

// AddString writes a primitive element whose contents are s's bytes.
func (b *Builder) AddString(id cbasn1.Tag, s string) {
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
	if b.err == nil {
		b.buf = AppendInt(b.buf, v)
	}
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
