package ldapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// BER as RFC 4511 §5.1 restricts it: definite lengths only, and (in LDAP's
// own module) every tag number below 31, so one identifier octet. Within
// that, lengths are read as BER allows them: Active Directory sends every
// long-form length in four octets, where DER would use the fewest.

// Identifier octets of the universal types LDAP uses.
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31
)

// MaxMessage bounds one LDAPMessage a server sends: the entries the KDC
// reads (accounts, groups, realm keys, the NTAuth store's certificates)
// are a few kilobytes; a length beyond this is a broken or hostile server,
// refused before anything is allocated for it.
const MaxMessage = 4 << 20

// ErrProtocol is what a reply that does not follow RFC 4511 wraps.
var ErrProtocol = errors.New("ldapwire: malformed reply")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// parser reads BER elements from contents already in memory. Its first
// error sticks: later reads return zero values, and err says what failed.
type parser struct {
	b   []byte
	err error
}

// more reports whether elements are left and no error occurred.
func (p *parser) more() bool { return p.err == nil && len(p.b) > 0 }

// peek returns the identifier octet of the next element, 0 if none.
func (p *parser) peek() byte {
	if !p.more() {
		return 0
	}
	return p.b[0]
}

// next reads any element: its identifier octet and contents.
func (p *parser) next() (tag byte, body []byte) {
	if p.err != nil {
		return 0, nil
	}
	if len(p.b) < 2 {
		p.err = protocolError("element truncated")
		return 0, nil
	}
	tag = p.b[0]
	if tag&0x1f == 0x1f {
		p.err = protocolError("multi-octet identifier %#x", tag)
		return 0, nil
	}
	n, hdr, err := parseLength(p.b[1:])
	if err != nil {
		p.err = err
		return 0, nil
	}
	rest := p.b[1+hdr:]
	if n > len(rest) {
		p.err = protocolError("element of %d octets holds %d", n, len(rest))
		return 0, nil
	}
	body, p.b = rest[:n:n], rest[n:]
	return tag, body
}

// read reads an element that must have identifier want.
func (p *parser) read(want byte) []byte {
	tag, body := p.next()
	if p.err == nil && tag != want {
		p.err = protocolError("identifier %#x where %#x belongs", tag, want)
		return nil
	}
	return body
}

// sub reads an element with identifier want and returns a parser of its
// contents, which shares p's error only through [parser.join].
func (p *parser) sub(want byte) *parser {
	return &parser{b: p.read(want), err: p.err}
}

// join takes q's error into p: q read an element of p's.
func (p *parser) join(q *parser) {
	if p.err == nil {
		p.err = q.err
	}
}

// octets reads an OCTET STRING (or an element of the same form under
// another identifier) as a string.
func (p *parser) octets(want byte) string { return string(p.read(want)) }

// integer reads an INTEGER or ENUMERATED of up to 32 bits.
func (p *parser) integer(want byte) int64 {
	body := p.read(want)
	if p.err != nil {
		return 0
	}
	if len(body) == 0 || len(body) > 4 {
		p.err = protocolError("integer of %d octets", len(body))
		return 0
	}
	v := int64(int8(body[0]))
	for _, c := range body[1:] {
		v = v<<8 | int64(c)
	}
	return v
}

// parseLength reads a definite BER length from b: the length and the
// octets it took.
func parseLength(b []byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, protocolError("length missing")
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	k := int(first & 0x7f)
	switch {
	case k == 0:
		return 0, 0, protocolError("indefinite length (RFC 4511 §5.1 allows definite lengths only)")
	case k > 4:
		return 0, 0, protocolError("length of %d octets", k)
	case len(b) < 1+k:
		return 0, 0, protocolError("length truncated")
	}
	var v uint64
	for _, c := range b[1 : 1+k] {
		v = v<<8 | uint64(c)
	}
	if v > 1<<31-1 {
		// Beyond any element here; as an int it would be negative where int has 32 bits.
		return 0, 0, protocolError("length %d", v)
	}
	return int(v), 1 + k, nil
}

// readMessage reads one LDAPMessage from r: its contents, in a buffer of
// their own (an entry's values are slices of it). A header that is not a
// SEQUENCE, or a length over MaxMessage, is refused before the contents
// are read.
func readMessage(r *bufio.Reader) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, protocolError("message starts with %#x, not a SEQUENCE", tag)
	}
	var hdr [5]byte
	if hdr[0], err = r.ReadByte(); err != nil {
		return nil, unexpected(err)
	}
	k := 0
	if hdr[0] >= 0x80 {
		k = int(hdr[0] & 0x7f)
		if k > 4 {
			k = 0 // parseLength refuses it
		}
		if _, err := io.ReadFull(r, hdr[1:1+k]); err != nil {
			return nil, unexpected(err)
		}
	}
	n, _, err := parseLength(hdr[:1+k])
	if err != nil {
		return nil, err
	}
	if n > MaxMessage {
		return nil, protocolError("message of %d octets (at most %d)", n, MaxMessage)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, unexpected(err)
	}
	return body, nil
}

// unexpected turns an EOF inside a message into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
