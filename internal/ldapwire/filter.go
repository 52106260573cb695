package ldapwire

import (
	"errors"
	"strings"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// Filter is a search filter (RFC 4511 §4.5.1), built from its parts rather
// than parsed from a string: a value is always data, never filter syntax,
// so no escaping can be forgotten.
type Filter struct {
	kind  byte // the CHOICE's identifier octet
	attr  string
	value []byte
	subs  []Filter
}

// The Filter CHOICE's identifiers (IMPLICIT tags).
const (
	filterAnd      = 0xa0 // [0] SET OF Filter
	filterOr       = 0xa1 // [1] SET OF Filter
	filterEquality = 0xa3 // [3] AttributeValueAssertion
	filterPresent  = 0x87 // [7] AttributeDescription
)

// Equal matches entries whose attr has value under attr's equality rule.
func Equal(attr string, value []byte) Filter {
	return Filter{kind: filterEquality, attr: attr, value: value}
}

// EqualString is Equal with a string value.
func EqualString(attr, value string) Filter { return Equal(attr, []byte(value)) }

// Present matches entries that have attr.
func Present(attr string) Filter { return Filter{kind: filterPresent, attr: attr} }

// And matches entries every one of fs matches.
func And(fs ...Filter) Filter { return Filter{kind: filterAnd, subs: fs} }

// Or matches entries any one of fs matches.
func Or(fs ...Filter) Filter { return Filter{kind: filterOr, subs: fs} }

// encode writes f's BER.
func (f Filter) encode(b *der.Builder) {
	switch f.kind {
	case filterAnd, filterOr:
		b.Open(cbasn1.Tag(f.kind))
		for _, s := range f.subs {
			s.encode(b)
		}
		b.Close()
	case filterEquality:
		b.Open(cbasn1.Tag(f.kind))
		b.AddString(der.OctetString, f.attr)
		b.Add(der.OctetString, f.value)
		b.Close()
	case filterPresent:
		b.AddString(cbasn1.Tag(f.kind), f.attr)
	default:
		b.SetError(errors.New("ldapwire: an empty Filter"))
	}
}

// String is f in RFC 4515's string form, for messages: values escaped
// as that RFC says, and every byte outside printable ASCII as \XX, so
// that a binary value (an objectSid) reads as its bytes.
func (f Filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f Filter) write(b *strings.Builder) {
	b.WriteByte('(')
	switch f.kind {
	case filterAnd, filterOr:
		b.WriteByte("&|"[f.kind-filterAnd])
		for _, s := range f.subs {
			s.write(b)
		}
	case filterEquality:
		b.WriteString(f.attr)
		b.WriteByte('=')
		const hex = "0123456789abcdef"
		for _, c := range f.value {
			if c < 0x20 || c > 0x7e || c == '*' || c == '(' || c == ')' || c == '\\' {
				b.WriteByte('\\')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
				continue
			}
			b.WriteByte(c)
		}
	case filterPresent:
		b.WriteString(f.attr)
		b.WriteString("=*")
	}
	b.WriteByte(')')
}
