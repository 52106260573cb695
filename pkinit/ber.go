package pkinit

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// berString reads CMS as RFC 5652 §1 lets a peer encode it: BER, not only
// DER. Lengths may be indefinite (on constructed values) or in a longer form
// than needed, and strings may come in constructed form (X.690 §8.7.3). Like
// cryptobyte.String, a read that fails returns false. What is signed keeps
// its received bytes: the signed attributes must be DER (RFC 5652 §5.3) and
// are checked to be, and a string's value is the concatenation of its
// segments' contents, which is what RFC 5652 §5.4 digests.
type berString []byte

// maxBERDepth bounds the nesting of indefinite-length values, so a hostile
// input cannot exhaust the stack. CMS nests a handful of levels.
const maxBERDepth = 32

func (s berString) empty() bool { return len(s) == 0 }

func (s berString) peek(tag cbasn1.Tag) bool { return len(s) > 0 && cbasn1.Tag(s[0]) == tag }

// header decodes one identifier and length. n is -1 for an indefinite length.
func (s berString) header() (tag cbasn1.Tag, hdrLen, n int, ok bool) {
	if len(s) < 2 || s[0] == 0 || s[0]&0x1f == 0x1f {
		// 00 is end-of-contents, not a value; CMS and PKINIT use no high tag numbers.
		return 0, 0, 0, false
	}
	tag, l := cbasn1.Tag(s[0]), s[1]
	switch {
	case l < 0x80:
		return tag, 2, int(l), true
	case l == 0x80:
		// Only a constructed value may have an indefinite length (X.690 §8.1.3.2).
		return tag, 2, -1, s[0]&0x20 != 0
	case l > 0x84:
		return 0, 0, 0, false // more than 4 GiB, or the reserved 0xff
	}
	k := int(l & 0x7f)
	if len(s) < 2+k {
		return 0, 0, 0, false
	}
	var v uint64
	for _, b := range s[2 : 2+k] {
		v = v<<8 | uint64(b)
	}
	if v > uint64(len(s)) {
		return 0, 0, 0, false
	}
	return tag, 2 + k, int(v), true
}

// element splits off the first value: its tag, the whole encoding as
// received, and its contents (for an indefinite length, without the
// end-of-contents octets).
func (s berString) element(depth int) (tag cbasn1.Tag, elem, contents berString, ok bool) {
	if depth > maxBERDepth {
		return 0, nil, nil, false
	}
	tag, h, n, ok := s.header()
	if !ok {
		return 0, nil, nil, false
	}
	if n >= 0 {
		if len(s)-h < n {
			return 0, nil, nil, false
		}
		return tag, s[:h+n], s[h : h+n], true
	}
	rest := s[h:]
	for off := 0; ; {
		if len(rest)-off >= 2 && rest[off] == 0 && rest[off+1] == 0 {
			return tag, s[:h+off+2], rest[:off], true
		}
		_, e, _, ok := rest[off:].element(depth + 1)
		if !ok {
			return 0, nil, nil, false
		}
		off += len(e)
	}
}

// readAny reads one value of any tag; elem is its whole encoding, contents
// its contents.
func (s *berString) readAny(elem, contents *berString, tag *cbasn1.Tag) bool {
	t, e, c, ok := s.element(0)
	if !ok {
		return false
	}
	*s = (*s)[len(e):]
	if elem != nil {
		*elem = e
	}
	if contents != nil {
		*contents = c
	}
	*tag = t
	return true
}

// read reads the contents of one value with the given tag.
func (s *berString) read(out *berString, tag cbasn1.Tag) bool {
	var t cbasn1.Tag
	return s.peek(tag) && s.readAny(nil, out, &t)
}

// readElement reads one value with the given tag, its whole encoding.
func (s *berString) readElement(out *berString, tag cbasn1.Tag) bool {
	var t cbasn1.Tag
	return s.peek(tag) && s.readAny(out, nil, &t)
}

// skip passes over one value with the given tag.
func (s *berString) skip(tag cbasn1.Tag) bool {
	var c berString
	return s.read(&c, tag)
}

// readPrimitive re-encodes a primitive value with a minimal length, for
// cryptobyte's value parsers (which want DER).
func (s *berString) readPrimitive(tag cbasn1.Tag) (cryptobyte.String, bool) {
	var c berString
	if !s.read(&c, tag) {
		return nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes(c) })
	der, err := b.Bytes()
	return der, err == nil
}

// readInteger reads an INTEGER into an *int64 or a *big.Int.
func (s *berString) readInteger(out any) bool {
	v, ok := s.readPrimitive(cbasn1.INTEGER)
	return ok && v.ReadASN1Integer(out) && v.Empty()
}

func (s *berString) readOID(out *asn1.ObjectIdentifier) bool {
	v, ok := s.readPrimitive(cbasn1.OBJECT_IDENTIFIER)
	return ok && v.ReadASN1ObjectIdentifier(out) && v.Empty()
}

// readAlgorithm reads an AlgorithmIdentifier's OID; params are the rest.
func (s *berString) readAlgorithm(oid *asn1.ObjectIdentifier, params *berString) bool {
	var alg berString
	if !s.read(&alg, cbasn1.SEQUENCE) || !alg.readOID(oid) {
		return false
	}
	if params != nil {
		*params = alg
	}
	return true
}

// readOctetString reads a string whose primitive tag is tag: in primitive
// form its contents (a slice of the input), in constructed form (the tag
// with the constructed bit, holding OCTET STRING segments, X.690 §8.7.3.2)
// the segments' contents joined.
func (s *berString) readOctetString(out *[]byte, tag cbasn1.Tag) bool {
	t, e, c, ok := s.element(0)
	switch {
	case !ok:
		return false
	case t == tag:
		*out = c
	case t == tag.Constructed():
		joined := []byte{}
		if !c.octetSegments(&joined, 1) {
			return false
		}
		*out = joined
	default:
		return false
	}
	*s = (*s)[len(e):]
	return true
}

func (s berString) octetSegments(out *[]byte, depth int) bool {
	for !s.empty() {
		t, e, c, ok := s.element(depth)
		switch {
		case !ok || depth > maxBERDepth:
			return false
		case t == cbasn1.OCTET_STRING:
			*out = append(*out, c...)
		case t == cbasn1.OCTET_STRING.Constructed():
			if !c.octetSegments(out, depth+1) {
				return false
			}
		default:
			return false
		}
		s = s[len(e):]
	}
	return true
}

// isDER reports whether elem is one value whose own tag and length are
// DER's (definite, shortest form): what the signed attributes need, since
// their signature covers their DER encoding (RFC 5652 §5.4).
func isDER(elem []byte, tag cbasn1.Tag) bool {
	in := cryptobyte.String(elem)
	var e cryptobyte.String
	return in.ReadASN1Element(&e, tag) && in.Empty()
}
